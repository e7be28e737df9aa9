//! Scope query frame: a query with the asker's id for the answer.
//!
//! ```text
//! | id u64 | query (scope::message layout, at most MAX_QUERY bytes) |
//! ```
//!
//! The answerer repeats `id` in its [`super::scope_answer`] frame; the
//! querier's node ID is the stream's peer, as the overlay authenticated it.

use super::{Reader, WireError};
use crate::scope::message::{Query, MAX_QUERY};

/// Longest body: the id and the longest query.
pub const MAX_LEN: usize = 8 + MAX_QUERY;

/// A parsed scope query frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeQueryFrame {
    /// The asker's id for this hop.
    pub id: u64,
    /// The query.
    pub query: Query,
}

impl ScopeQueryFrame {
    /// Parses exactly one frame body.
    ///
    /// # Errors
    /// Truncation, a query that does not parse, or more than [`MAX_LEN`]
    /// bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_LEN {
            return Err(WireError::TooLong("scope query"));
        }
        let mut r = Reader::new(b);
        let id = r.u64()?;
        let query = Query::parse(r.rest())?;
        Ok(Self { id, query })
    }

    /// Bytes [`Self::write`] appends (0 for a query that cannot be encoded).
    pub fn encoded_len(&self) -> usize {
        self.query.to_bytes().map_or(0, |q| 8 + q.len())
    }

    /// Appends the body.
    ///
    /// # Errors
    /// A query that cannot be encoded (see [`Query::to_bytes`]).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let q = self.query.to_bytes()?;
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&q);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::{Credential, QueryKind, ScopePath};
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_limits() {
        let f = ScopeQueryFrame {
            id: 0x0102_0304_0506_0708,
            query: Query {
                kind: QueryKind::Closest,
                ceiling: 3,
                scope: ScopePath::parse("/a/b").unwrap(),
                service: "fs".into(),
                cred: Credential::Anonymous,
            },
        };
        let mut b = vec![0xa5; 3];
        f.write(&mut b).unwrap();
        assert_eq!(&b[..3], &[0xa5; 3]);
        let body = &b[3..];
        assert_eq!(body.len(), f.encoded_len());
        assert_eq!(&body[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(
            &body[8..],
            &[2, 3, 4, b'/', b'a', b'/', b'b', 2, b'f', b's', 0]
        );
        assert_eq!(ScopeQueryFrame::parse(body), Ok(f));
        assert!(ScopeQueryFrame::parse(&body[..7]).is_err());
        assert_eq!(
            ScopeQueryFrame::parse(&vec![1; MAX_LEN + 1]),
            Err(WireError::TooLong("scope query"))
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(f) = ScopeQueryFrame::parse(&b) {
                let mut out = Vec::new();
                f.write(&mut out).unwrap();
                prop_assert_eq!(out, b);
            }
        }
    }
}
