//! Name register, unregister and claims frames.
//!
//! ```text
//! claim (register): | name str8 | engine [32] | registered u64 | sig [64] |
//! unregister:       | name str8 | engine [32] | at u64 | sig [64] |
//! claims:           | count u16 | claim * count |
//! ```
//!
//! Names are 1 to 255 bytes of UTF-8. `sig` is the engine's signature over
//! [`REGISTER_CONTEXT`] (or [`UNREGISTER_CONTEXT`]) then the bytes before
//! it. A node sends claims for its own engines only; a receiver accepts a
//! claim only from the stream of the node hosting the engine.

use super::{put_str8, Reader, WireError};
use crate::ids::{EngineAddr, Time};

/// Domain separation for a claim's signature.
pub const REGISTER_CONTEXT: &[u8] = b"tessel-actors name register v1\0";
/// Domain separation for an unregister signature.
pub const UNREGISTER_CONTEXT: &[u8] = b"tessel-actors name unregister v1\0";
/// Most claims in one claims frame.
pub const MAX_CLAIMS: usize = 4096;

/// An engine's signed claim to a name (also the register frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The name.
    pub name: String,
    /// The engine claiming it.
    pub engine: EngineAddr,
    /// When the engine registered it; earlier wins (see `names`).
    pub registered: Time,
    /// The engine's signature.
    pub sig: [u8; 64],
}

/// An engine's signed release of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclaim {
    /// The name.
    pub name: String,
    /// The engine releasing it.
    pub engine: EngineAddr,
    /// When it released it.
    pub at: Time,
    /// The engine's signature.
    pub sig: [u8; 64],
}

fn read_name(r: &mut Reader<'_>) -> Result<String, WireError> {
    let name = r.str8("name")?;
    if name.is_empty() {
        return Err(WireError::InvalidField("name"));
    }
    Ok(name)
}

/// What an engine signs to claim (`register`) or release a name.
///
/// # Errors
/// An empty name or one longer than 255 bytes.
pub fn signed(
    register: bool,
    name: &str,
    engine: EngineAddr,
    at: Time,
) -> Result<Vec<u8>, WireError> {
    if name.is_empty() {
        return Err(WireError::InvalidField("name"));
    }
    let mut m = if register {
        REGISTER_CONTEXT.to_vec()
    } else {
        UNREGISTER_CONTEXT.to_vec()
    };
    put_str8(&mut m, name, "name")?;
    m.extend_from_slice(&engine.0);
    m.extend_from_slice(&at.0.to_le_bytes());
    Ok(m)
}

fn read_parts(r: &mut Reader<'_>) -> Result<(String, EngineAddr, Time, [u8; 64]), WireError> {
    Ok((
        read_name(r)?,
        EngineAddr(r.array()?),
        Time(r.u64()?),
        r.array()?,
    ))
}

fn write_parts(
    out: &mut Vec<u8>,
    name: &str,
    engine: EngineAddr,
    at: Time,
    sig: &[u8; 64],
) -> Result<(), WireError> {
    if name.is_empty() {
        return Err(WireError::InvalidField("name"));
    }
    put_str8(out, name, "name")?;
    out.extend_from_slice(&engine.0);
    out.extend_from_slice(&at.0.to_le_bytes());
    out.extend_from_slice(sig);
    Ok(())
}

impl Claim {
    fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let (name, engine, registered, sig) = read_parts(r)?;
        Ok(Self {
            name,
            engine,
            registered,
            sig,
        })
    }

    /// Parses exactly one claim.
    ///
    /// # Errors
    /// Truncation, a bad name, or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let v = Self::read(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        1 + self.name.len() + 32 + 8 + 64
    }

    /// Appends the claim.
    ///
    /// # Errors
    /// An empty name or one longer than 255 bytes.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        write_parts(out, &self.name, self.engine, self.registered, &self.sig)
    }
}

impl Unclaim {
    /// Parses exactly one unregister frame body.
    ///
    /// # Errors
    /// Truncation, a bad name, or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let (name, engine, at, sig) = read_parts(&mut r)?;
        r.finish()?;
        Ok(Self {
            name,
            engine,
            at,
            sig,
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        1 + self.name.len() + 32 + 8 + 64
    }

    /// Appends the body.
    ///
    /// # Errors
    /// An empty name or one longer than 255 bytes.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        write_parts(out, &self.name, self.engine, self.at, &self.sig)
    }
}

/// Parses a claims frame body.
///
/// # Errors
/// More than [`MAX_CLAIMS`], or any claim's errors, or trailing bytes.
pub fn parse_claims(b: &[u8]) -> Result<Vec<Claim>, WireError> {
    let mut r = Reader::new(b);
    let n = usize::from(r.u16()?);
    if n > MAX_CLAIMS {
        return Err(WireError::TooLong("claims"));
    }
    let mut v = Vec::with_capacity(n.min(r.remaining() / 105));
    for _ in 0..n {
        v.push(Claim::read(&mut r)?);
    }
    r.finish()?;
    Ok(v)
}

/// Bytes [`write_claims`] appends.
pub fn claims_len(claims: &[Claim]) -> usize {
    2 + claims.iter().map(Claim::encoded_len).sum::<usize>()
}

/// Appends a claims frame body.
///
/// # Errors
/// More than [`MAX_CLAIMS`], or a bad name.
pub fn write_claims(out: &mut Vec<u8>, claims: &[Claim]) -> Result<(), WireError> {
    if claims.len() > MAX_CLAIMS {
        return Err(WireError::TooLong("claims"));
    }
    // MAX_CLAIMS fits in u16.
    out.extend_from_slice(&(claims.len() as u16).to_le_bytes());
    for c in claims {
        c.write(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn claim() -> impl Strategy<Value = Claim> {
        (
            ".{1,30}",
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<[u8; 32]>(),
        )
            .prop_map(|(name, e, t, s)| {
                let mut sig = [0; 64];
                sig[..32].copy_from_slice(&s);
                Claim {
                    name,
                    engine: EngineAddr(e),
                    registered: Time(t),
                    sig,
                }
            })
    }

    proptest! {
        #[test]
        fn claim_round_trip(c in claim()) {
            let mut b = Vec::new();
            c.write(&mut b).unwrap();
            prop_assert_eq!(c.encoded_len(), b.len());
            prop_assert_eq!(Claim::parse(&b), Ok(c));
        }

        #[test]
        fn unclaim_round_trip(c in claim()) {
            let u = Unclaim { name: c.name, engine: c.engine, at: c.registered, sig: c.sig };
            let mut b = Vec::new();
            u.write(&mut b).unwrap();
            prop_assert_eq!(u.encoded_len(), b.len());
            prop_assert_eq!(Unclaim::parse(&b), Ok(u));
        }

        #[test]
        fn claims_round_trip(cs in proptest::collection::vec(claim(), 0..8)) {
            let mut b = Vec::new();
            write_claims(&mut b, &cs).unwrap();
            prop_assert_eq!(claims_len(&cs), b.len());
            prop_assert_eq!(parse_claims(&b), Ok(cs));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Claim::parse(&b);
            let _ = Unclaim::parse(&b);
            let _ = parse_claims(&b);
        }
    }

    #[test]
    fn empty_names_are_refused() {
        let c = Claim {
            name: String::new(),
            engine: EngineAddr([0; 32]),
            registered: Time(0),
            sig: [0; 64],
        };
        assert!(c.write(&mut Vec::new()).is_err());
        assert!(signed(true, "", c.engine, c.registered).is_err());
        let mut b = vec![0u8];
        b.extend_from_slice(&[0; 104]);
        assert_eq!(Claim::parse(&b), Err(WireError::InvalidField("name")));
    }
}
