//! Scope gone frame: a cluster member tells the members it is connected to
//! that a runtime left (its stream closed and could not be reopened), so
//! they drop its registrations issued before `at`.
//!
//! ```text
//! | flags u8 (bit 0: forwarded) | runtime [32] | at u64 |
//! ```
//!
//! A receiver takes it only from a member of a cluster it knows (its own,
//! the one above, the ones below); a gone that is not marked forwarded is
//! passed on to the receiver's own cluster, marked forwarded, and to the
//! clusters below that hold the runtime's registrations.

use super::{Reader, WireError};
use crate::ids::{NodeId, Time};

/// Bytes of a gone frame body.
pub const LEN: usize = 1 + 32 + 8;
/// Flag: sent by a member of the receiver's cluster; not passed on.
pub const FORWARDED: u8 = 1;

/// A parsed gone frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeGone {
    /// Whether it was forwarded inside the receiver's cluster.
    pub forwarded: bool,
    /// The runtime that left.
    pub runtime: NodeId,
    /// When it was found gone; its registrations issued before go.
    pub at: Time,
}

impl ScopeGone {
    /// Parses exactly one frame body.
    ///
    /// # Errors
    /// Truncated or trailing bytes, or unknown flags.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let flags = r.u8()?;
        if flags & !FORWARDED != 0 {
            return Err(WireError::InvalidField("flags"));
        }
        let v = Self {
            forwarded: flags & FORWARDED != 0,
            runtime: NodeId(r.array()?),
            at: Time(r.u64()?),
        };
        r.finish()?;
        Ok(v)
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        LEN
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(if self.forwarded { FORWARDED } else { 0 });
        out.extend_from_slice(&self.runtime.0);
        out.extend_from_slice(&self.at.0.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let g = ScopeGone {
            forwarded: true,
            runtime: NodeId([2; 32]),
            at: Time(0x0102),
        };
        let mut b = vec![0xa5];
        g.write(&mut b);
        assert_eq!(b.len(), 1 + LEN);
        assert_eq!(b[1], 1);
        assert_eq!(&b[34..], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ScopeGone::parse(&b[1..]), Ok(g));
        let mut bad = b[1..].to_vec();
        bad[0] = 2;
        assert_eq!(
            ScopeGone::parse(&bad),
            Err(WireError::InvalidField("flags"))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(g) = ScopeGone::parse(&b) {
                let mut out = Vec::new();
                g.write(&mut out);
                prop_assert_eq!(out, b);
            }
        }
    }
}
