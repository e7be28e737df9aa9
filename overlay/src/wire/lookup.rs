//! Lookups: finding the member that owns an overlay address, and a path to
//! it, through the sessions of the members between.
//!
//! ```text
//! 0           1           2    3          4       12          28          60          62
//! | kind 0x06 | hop_limit | op | reserved | id u64 | target 16 | origin 32 | metric u16 | owner 32 (op 2 only) |
//! ```
//! `op` 1 is a request, 2 an answer naming the owner, 3 an answer that the
//! request ended without finding it. `target` is the overlay IPv6 address
//! looked up, `origin` the node ID of the member that asked (answers travel
//! back to it), `id` names the request. `metric` is the route cost from the
//! message's first sender to the member that sends it on: each forwarder adds
//! the cost of the link it came over. A request is 62 bytes, a found answer
//! 94, a not-found answer 62; anything else is an error. Integers are
//! little-endian.

use std::net::Ipv6Addr;

use super::kind::{checked, Size};
use super::{exact, read_u64, InnerKind, WireError};

/// Hop limit of a new request or answer.
pub const HOP_LIMIT: u8 = 32;
/// Bytes of a request or a not-found answer.
pub const SHORT_LEN: usize = 62;
/// Bytes of an answer that names the owner.
pub const FOUND_LEN: usize = SHORT_LEN + 32;

const OP_REQUEST: u8 = 1;
const OP_FOUND: u8 = 2;
const OP_NOT_FOUND: u8 = 3;

/// What a lookup message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Who owns the target address?
    Request,
    /// This member (node ID bytes, still to be checked against the target).
    Found([u8; 32]),
    /// The request ended at a member that knows no way closer.
    NotFound,
}

/// A parsed lookup message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// Hops left before the message is dropped.
    pub hop_limit: u8,
    /// Request or answer.
    pub op: Op,
    /// Names the request; answers echo it.
    pub id: u64,
    /// The overlay address looked up.
    pub target: Ipv6Addr,
    /// Node ID bytes of the member that asked.
    pub origin: [u8; 32],
    /// Route cost from the first sender to the member that sends it on.
    pub metric: u16,
}

impl Lookup {
    /// Parses a lookup message.
    ///
    /// # Errors
    /// Returns an error for a wrong kind, an unknown op or a length that does
    /// not fit the op.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = checked(b, Size::AtLeast(SHORT_LEN), &[InnerKind::Lookup])?;
        let op = match b[2] {
            OP_REQUEST | OP_NOT_FOUND => {
                exact(b, SHORT_LEN)?;
                if b[2] == OP_REQUEST {
                    Op::Request
                } else {
                    Op::NotFound
                }
            }
            OP_FOUND => {
                exact(b, FOUND_LEN)?;
                Op::Found(b[SHORT_LEN..FOUND_LEN].try_into().expect("32 bytes"))
            }
            _ => return Err(WireError::InvalidField("lookup op")),
        };
        let target: [u8; 16] = b[12..28].try_into().expect("16 bytes");
        Ok(Self {
            hop_limit: b[1],
            op,
            id: read_u64(b, 4),
            target: Ipv6Addr::from(target),
            origin: b[28..60].try_into().expect("32 bytes"),
            metric: u16::from_le_bytes([b[60], b[61]]),
        })
    }

    /// Bytes [`Lookup::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self.op {
            Op::Found(_) => FOUND_LEN,
            _ => SHORT_LEN,
        }
    }

    /// Appends the message.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let op = match self.op {
            Op::Request => OP_REQUEST,
            Op::Found(_) => OP_FOUND,
            Op::NotFound => OP_NOT_FOUND,
        };
        out.reserve(self.buffer_len());
        out.extend_from_slice(&[InnerKind::Lookup.into(), self.hop_limit, op, 0]);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.target.octets());
        out.extend_from_slice(&self.origin);
        out.extend_from_slice(&self.metric.to_le_bytes());
        if let Op::Found(owner) = self.op {
            out.extend_from_slice(&owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    fn sample(op: Op) -> Lookup {
        Lookup {
            hop_limit: 9,
            op,
            id: 0x0102_0304_0506_0708,
            target: "fd00:1:2:3:4:5:6:7".parse().unwrap(),
            origin: [5; 32],
            metric: 300,
        }
    }

    #[test]
    fn every_op_round_trips() {
        for op in [Op::Request, Op::Found([7; 32]), Op::NotFound] {
            let l = sample(op);
            let b = to_vec(|o| l.emit(o));
            assert_eq!(b.len(), l.buffer_len());
            assert_eq!(Lookup::parse(&b), Ok(l));
        }
    }

    #[test]
    fn byte_layout() {
        let b = to_vec(|o| sample(Op::Found([7; 32])).emit(o));
        assert_eq!(&b[..4], &[0x06, 9, 2, 0]);
        assert_eq!(&b[4..12], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[12..14], &[0xfd, 0x00]);
        assert_eq!(&b[28..60], &[5; 32]);
        assert_eq!(&b[60..62], &300u16.to_le_bytes());
        assert_eq!(&b[62..], &[7; 32]);
    }

    #[test]
    fn wrong_lengths_ops_and_kinds_are_errors() {
        let req = to_vec(|o| sample(Op::Request).emit(o));
        for n in 0..req.len() {
            assert!(Lookup::parse(&req[..n]).is_err(), "prefix {n}");
        }
        let mut long = req.clone();
        long.push(0);
        assert!(Lookup::parse(&long).is_err());
        let found = to_vec(|o| sample(Op::Found([1; 32])).emit(o));
        assert!(Lookup::parse(&found[..SHORT_LEN]).is_err());
        let mut op = req.clone();
        op[2] = 4;
        assert!(Lookup::parse(&op).is_err());
        let mut kind = req;
        kind[0] = 0x02;
        assert!(Lookup::parse(&kind).is_err());
    }
}
