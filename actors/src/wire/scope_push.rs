//! Scope push frame: signed scope records handed to a cluster member.
//!
//! ```text
//! | flags u8 | count u8 (1..=MAX_RECORDS) | (len u16 | record) × count |
//!   flags: bit 0 forwarded (sent by a member of the receiver's cluster:
//!          take, do not pass on)
//!          bit 1 generation request (to a root runtime: assign the
//!          cluster of the sector registration in this push a generation)
//!          bit 2 sync request (the sender's sector registration is in the
//!          push and its table is empty: send it everything you hold)
//!          other bits must be 0
//! ```
//!
//! A push carries what a receiver needs to check its subject: for a
//! registration, the creation records from `/` down to its scope, the
//! hosting grant and the registration itself. Records are checked by the
//! receiver (signatures, the authority chain), never by the parser.

use super::{Reader, WireError};
use crate::scope::message::{put_record, read_record};
use crate::scope::record::{Record, MAX_RECORD};

/// Most records in one push.
pub const MAX_RECORDS: usize = 64;
/// Longest body: flags, count and the most records at their longest.
pub const MAX_LEN: usize = 2 + MAX_RECORDS * (2 + MAX_RECORD);
/// Flag: forwarded inside the receiver's cluster.
pub const FORWARDED: u8 = 1;
/// Flag: a generation request.
pub const GENERATION_REQUEST: u8 = 2;
/// Flag: a sync request.
pub const SYNC_REQUEST: u8 = 4;
const FLAGS: u8 = FORWARDED | GENERATION_REQUEST | SYNC_REQUEST;

/// A parsed push (signatures not yet checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePush {
    /// Sent by a member of the receiver's cluster: not passed on.
    pub forwarded: bool,
    /// Asks a root runtime for a generation number.
    pub generation_request: bool,
    /// Asks a member of the sender's cluster for everything it holds.
    pub sync_request: bool,
    /// The records, 1 to [`MAX_RECORDS`].
    pub records: Vec<Record>,
}

impl ScopePush {
    /// Parses exactly one frame body.
    ///
    /// # Errors
    /// Unknown flags, no records or more than [`MAX_RECORDS`], a record
    /// that does not parse, truncation, trailing bytes, or more than
    /// [`MAX_LEN`] bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        if b.len() > MAX_LEN {
            return Err(WireError::TooLong("scope push"));
        }
        let mut r = Reader::new(b);
        let flags = r.u8()?;
        if flags & !FLAGS != 0 {
            return Err(WireError::InvalidField("flags"));
        }
        let n = usize::from(r.u8()?);
        if n == 0 {
            return Err(WireError::InvalidField("count"));
        }
        if n > MAX_RECORDS {
            return Err(WireError::TooLong("records"));
        }
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            records.push(read_record(&mut r)?);
        }
        r.finish()?;
        Ok(Self {
            forwarded: flags & FORWARDED != 0,
            generation_request: flags & GENERATION_REQUEST != 0,
            sync_request: flags & SYNC_REQUEST != 0,
            records,
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        2 + self
            .records
            .iter()
            .map(|r| 2 + r.to_bytes().map_or(0, |b| b.len()))
            .sum::<usize>()
    }

    /// Appends the body.
    ///
    /// # Errors
    /// No records or more than [`MAX_RECORDS`], or a record that cannot be
    /// encoded.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        if self.records.is_empty() {
            return Err(WireError::InvalidField("count"));
        }
        if self.records.len() > MAX_RECORDS {
            return Err(WireError::TooLong("records"));
        }
        let start = out.len();
        let mut flags = 0;
        if self.forwarded {
            flags |= FORWARDED;
        }
        if self.generation_request {
            flags |= GENERATION_REQUEST;
        }
        if self.sync_request {
            flags |= SYNC_REQUEST;
        }
        out.push(flags);
        out.push(self.records.len() as u8);
        for rec in &self.records {
            if let Err(e) = put_record(out, rec) {
                out.truncate(start);
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Time;
    use crate::scope::record::tests::arb_body;
    use crate::scope::record::Body;
    use proptest::prelude::*;

    fn rev(n: u8) -> Record {
        Record {
            body: Body::Revocation {
                target: [n; 32],
                issued: Time(1),
            },
            signer: [2; 32],
            sig: [3; 64],
        }
    }

    #[test]
    fn layout_and_limits() {
        let p = ScopePush {
            forwarded: true,
            generation_request: false,
            sync_request: false,
            records: vec![rev(1)],
        };
        let mut b = vec![0xa5];
        p.write(&mut b).unwrap();
        let body = &b[1..];
        assert_eq!(body.len(), p.encoded_len());
        let rec_len = rev(1).to_bytes().unwrap().len();
        assert_eq!(&body[..4], &[1, 1, rec_len as u8, 0]);
        assert_eq!(ScopePush::parse(body), Ok(p));
        assert_eq!(
            ScopePush::parse(&[0, 0]),
            Err(WireError::InvalidField("count"))
        );
        assert_eq!(
            ScopePush::parse(&[8, 1]),
            Err(WireError::InvalidField("flags"))
        );
        assert_eq!(
            ScopePush::parse(&[0, (MAX_RECORDS + 1) as u8]),
            Err(WireError::TooLong("records"))
        );
        assert_eq!(
            ScopePush::parse(&vec![0; MAX_LEN + 1]),
            Err(WireError::TooLong("scope push"))
        );
        let full = ScopePush {
            forwarded: false,
            generation_request: true,
            sync_request: true,
            records: (0..MAX_RECORDS as u8).map(rev).collect(),
        };
        let mut b = Vec::new();
        full.write(&mut b).unwrap();
        assert!(b.len() <= MAX_LEN);
        assert_eq!(ScopePush::parse(&b), Ok(full));
        let over = ScopePush {
            forwarded: false,
            generation_request: false,
            sync_request: false,
            records: (0..=MAX_RECORDS as u8).map(rev).collect(),
        };
        assert_eq!(over.write(&mut b), Err(WireError::TooLong("records")));
    }

    proptest! {
        #[test]
        fn round_trip(bodies in proptest::collection::vec(arb_body(), 1..6), f in 0u8..8) {
            let p = ScopePush {
                forwarded: f & 1 != 0,
                generation_request: f & 2 != 0,
                sync_request: f & 4 != 0,
                records: bodies.into_iter().map(|body| Record { body, signer: [1; 32], sig: [2; 64] }).collect(),
            };
            let mut b = Vec::new();
            p.write(&mut b).unwrap();
            prop_assert_eq!(b.len(), p.encoded_len());
            prop_assert_eq!(ScopePush::parse(&b), Ok(p));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(p) = ScopePush::parse(&b) {
                let mut out = Vec::new();
                p.write(&mut out).unwrap();
                prop_assert_eq!(out, b);
            }
        }
    }
}
