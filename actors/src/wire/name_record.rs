//! Name records: an engine's claim to a name with an expiry, published in
//! the host's record store under [`key_for`] the name, so that a node with
//! no stream to the owner's node can still look the name up.
//!
//! ```text
//! | name str8 | engine [32] | registered u64 | expires u64 | sig [64] |
//! ```
//!
//! `sig` is the engine's signature over [`CONTEXT`] then the bytes before
//! it. The owner's node republishes its records when it renews its host
//! records; a record that is not renewed expires.

use super::{put_str8, Reader, WireError};
use crate::ids::{EngineAddr, Time};

/// Domain separation for the signature.
pub const CONTEXT: &[u8] = b"tessel-actors name record v1\0";
/// Context of the key derivation.
pub const KEY_CONTEXT: &str = "tessel-actors name key v1";

/// The record store key of a name.
pub fn key_for(name: &str) -> [u8; 32] {
    blake3::derive_key(KEY_CONTEXT, name.as_bytes())
}

/// A parsed name record (signature not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    /// The name (1 to 255 bytes).
    pub name: String,
    /// The engine claiming it.
    pub engine: EngineAddr,
    /// When the engine registered it.
    pub registered: Time,
    /// When this record stops being valid.
    pub expires: Time,
    /// The engine's signature.
    pub sig: [u8; 64],
}

impl NameRecord {
    /// Parses exactly one record.
    ///
    /// # Errors
    /// Truncation, an empty or invalid name, or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let name = r.str8("name")?;
        if name.is_empty() {
            return Err(WireError::InvalidField("name"));
        }
        let v = Self {
            name,
            engine: EngineAddr(r.array()?),
            registered: Time(r.u64()?),
            expires: Time(r.u64()?),
            sig: r.array()?,
        };
        r.finish()?;
        Ok(v)
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        1 + self.name.len() + 32 + 8 + 8 + 64
    }

    /// What the engine signs.
    ///
    /// # Errors
    /// An empty name or one longer than 255 bytes.
    pub fn signed(
        name: &str,
        engine: EngineAddr,
        registered: Time,
        expires: Time,
    ) -> Result<Vec<u8>, WireError> {
        if name.is_empty() {
            return Err(WireError::InvalidField("name"));
        }
        let mut m = CONTEXT.to_vec();
        put_str8(&mut m, name, "name")?;
        m.extend_from_slice(&engine.0);
        m.extend_from_slice(&registered.0.to_le_bytes());
        m.extend_from_slice(&expires.0.to_le_bytes());
        Ok(m)
    }

    /// Appends the record.
    ///
    /// # Errors
    /// An empty name or one longer than 255 bytes.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let signed = Self::signed(&self.name, self.engine, self.registered, self.expires)?;
        out.extend_from_slice(&signed[CONTEXT.len()..]);
        out.extend_from_slice(&self.sig);
        Ok(())
    }

    /// The record as bytes.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(name in ".{1,40}", e in any::<[u8; 32]>(), r in any::<u64>(), x in any::<u64>(), s in any::<[u8; 32]>()) {
            let mut sig = [1; 64];
            sig[..32].copy_from_slice(&s);
            let v = NameRecord { name, engine: EngineAddr(e), registered: Time(r), expires: Time(x), sig };
            let b = v.to_bytes().unwrap();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(NameRecord::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(v) = NameRecord::parse(&b) {
                prop_assert_eq!(v.to_bytes().unwrap(), b);
            }
        }
    }

    #[test]
    fn keys_differ_per_name() {
        assert_ne!(key_for("a"), key_for("b"));
        assert_eq!(key_for("a"), key_for("a"));
    }
}
