//! Scope answer frame: the answer to one hop of a query.
//!
//! ```text
//! | id u64 (the query frame's) | answer (scope::message layout, at most MAX_ANSWER bytes) |
//! ```
//!
//! An answer that does not parse (an oversize one included) still names
//! its query: [`ScopeAnswerFrame::peek_id`] reads the id alone, so the
//! querier can fail that query at once instead of waiting for its timeout.

use super::{Reader, WireError};
use crate::scope::message::{Answer, MAX_ANSWER};

/// Longest body: the id and the longest answer.
pub const MAX_LEN: usize = 8 + MAX_ANSWER;

/// A parsed scope answer frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeAnswerFrame {
    /// The id of the query frame answered.
    pub id: u64,
    /// The answer.
    pub answer: Answer,
}

impl ScopeAnswerFrame {
    /// Parses exactly one frame body.
    ///
    /// # Errors
    /// Truncation, an answer that does not parse, or more than
    /// [`MAX_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_LEN {
            return Err(WireError::TooLong("answer"));
        }
        let mut r = Reader::new(b);
        let id = r.u64()?;
        let answer = Answer::parse(r.rest())?;
        Ok(Self { id, answer })
    }

    /// The id of a body that may not parse as a whole.
    pub fn peek_id(b: &[u8]) -> Option<u64> {
        Reader::new(b).u64().ok()
    }

    /// Bytes [`Self::write`] appends (0 for an answer that cannot be
    /// encoded).
    pub fn encoded_len(&self) -> usize {
        self.answer.to_bytes().map_or(0, |a| 8 + a.len())
    }

    /// Appends the body.
    ///
    /// # Errors
    /// An answer that cannot be encoded (see [`Answer::to_bytes`]).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let a = self.answer.to_bytes()?;
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&a);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::scope::ScopePath;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_limits() {
        let f = ScopeAnswerFrame {
            id: 9,
            answer: Answer::Redirect {
                scope: ScopePath::parse("/a").unwrap(),
                ceiling: 255,
                cache_ms: 1000,
                targets: vec![NodeId([7; 32])],
            },
        };
        let mut b = vec![0xa5; 2];
        f.write(&mut b).unwrap();
        let body = &b[2..];
        assert_eq!(body.len(), f.encoded_len());
        assert_eq!(&body[..9], &[9, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(ScopeAnswerFrame::parse(body), Ok(f));
        assert_eq!(ScopeAnswerFrame::peek_id(body), Some(9));
        let denied = ScopeAnswerFrame {
            id: 1,
            answer: Answer::Denied,
        };
        let mut b = Vec::new();
        denied.write(&mut b).unwrap();
        assert_eq!(b, [1, 0, 0, 0, 0, 0, 0, 0, 3]);
        let mut big = vec![5, 0, 0, 0, 0, 0, 0, 0, 1];
        big.resize(MAX_LEN + 1, 0);
        assert_eq!(
            ScopeAnswerFrame::parse(&big),
            Err(WireError::TooLong("answer"))
        );
        assert_eq!(ScopeAnswerFrame::peek_id(&big), Some(5));
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(f) = ScopeAnswerFrame::parse(&b) {
                let mut out = Vec::new();
                f.write(&mut out).unwrap();
                prop_assert_eq!(out, b);
            }
        }
    }
}
