//! Key agreement for one ordered engine pair: the sending engine offers a
//! fresh MAC key for its messages to `dst`, signed with its own key.
//!
//! ```text
//! | src [32] | dst [32] | epoch u64 | issued u64 | key [32] | sig [64] |
//! ```
//!
//! `sig` is `src`'s signature over [`CONTEXT`] then the first 112 bytes. The
//! key travels only on the stream between the two hosting nodes, which the
//! overlay encrypts end to end; no other member sees it. A receiver accepts
//! an offer only from the stream of `src`'s hosting node, only with an epoch
//! above the last one it accepted for the pair on that stream.

use super::{Reader, WireError};
use crate::ids::{EngineAddr, Time};

/// Bytes of a pair offer.
pub const LEN: usize = 32 + 32 + 8 + 8 + 32 + 64;
/// Domain separation for the signature.
pub const CONTEXT: &[u8] = b"tessel-actors pair v1\0";

/// A parsed pair offer (signature not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The sending engine.
    pub src: EngineAddr,
    /// The receiving engine.
    pub dst: EngineAddr,
    /// Increases with each new key for this pair.
    pub epoch: u64,
    /// When the offer was made.
    pub issued: Time,
    /// The MAC key for messages from `src` to `dst`.
    pub key: [u8; 32],
    /// `src`'s signature.
    pub sig: [u8; 64],
}

impl Pair {
    /// Parses exactly one offer.
    ///
    /// # Errors
    /// Truncated or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let v = Self {
            src: EngineAddr(r.array()?),
            dst: EngineAddr(r.array()?),
            epoch: r.u64()?,
            issued: Time(r.u64()?),
            key: r.array()?,
            sig: r.array()?,
        };
        r.finish()?;
        Ok(v)
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        LEN
    }

    /// Appends the offer.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::signed_fields(
            self.src,
            self.dst,
            self.epoch,
            self.issued,
            &self.key,
        ));
        out.extend_from_slice(&self.sig);
    }

    /// The offer as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(LEN);
        self.write(&mut v);
        v
    }

    fn signed_fields(
        src: EngineAddr,
        dst: EngineAddr,
        epoch: u64,
        issued: Time,
        key: &[u8; 32],
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(LEN - 64);
        m.extend_from_slice(&src.0);
        m.extend_from_slice(&dst.0);
        m.extend_from_slice(&epoch.to_le_bytes());
        m.extend_from_slice(&issued.0.to_le_bytes());
        m.extend_from_slice(key);
        m
    }

    /// What `src` signs.
    pub fn signed(
        src: EngineAddr,
        dst: EngineAddr,
        epoch: u64,
        issued: Time,
        key: &[u8; 32],
    ) -> Vec<u8> {
        let mut m = CONTEXT.to_vec();
        m.extend_from_slice(&Self::signed_fields(src, dst, epoch, issued, key));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(s in any::<[u8; 32]>(), d in any::<[u8; 32]>(), epoch in any::<u64>(), t in any::<u64>(), key in any::<[u8; 32]>()) {
            let v = Pair { src: EngineAddr(s), dst: EngineAddr(d), epoch, issued: Time(t), key, sig: [7; 64] };
            let b = v.to_bytes();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Pair::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(Pair::parse(&b).is_ok(), b.len() == LEN);
        }
    }
}
