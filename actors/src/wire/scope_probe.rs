//! Scope probe frame: a ping and its pong on a stream, used before sending
//! to an engine named in a registration.
//!
//! ```text
//! | id u64 | pong u8 (0 ping, 1 pong) |
//! ```
//!
//! A node writes the learn records of its engines first on every stream it
//! accepts, and streams are ordered, so when the pong arrives the sender
//! knows every engine the other runtime hosts: an engine named in a
//! registration but not among them is gone.

use super::{Reader, WireError};

/// Bytes of a probe frame body.
pub const LEN: usize = 9;

/// A parsed probe frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeProbe {
    /// The sender's id, repeated in the pong.
    pub id: u64,
    /// Whether this is the answer.
    pub pong: bool,
}

impl ScopeProbe {
    /// Parses exactly one frame body.
    ///
    /// # Errors
    /// Truncated or trailing bytes, or a kind other than 0 or 1.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let id = r.u64()?;
        let pong = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::InvalidField("pong")),
        };
        r.finish()?;
        Ok(Self { id, pong })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        LEN
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
        out.push(u8::from(self.pong));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let p = ScopeProbe { id: 3, pong: true };
        let mut b = vec![0xa5];
        p.write(&mut b);
        assert_eq!(b, [0xa5, 3, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(ScopeProbe::parse(&b[1..]), Ok(p));
        assert_eq!(
            ScopeProbe::parse(&[3, 0, 0, 0, 0, 0, 0, 0, 2]),
            Err(WireError::InvalidField("pong"))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(ScopeProbe::parse(&b).is_ok(), b.len() == LEN && b[8] < 2);
        }
    }
}
