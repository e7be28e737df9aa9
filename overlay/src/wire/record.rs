//! Records: small values that members publish under a key and that the
//! members nearest the key keep for others, and the messages that store and
//! fetch them.
//!
//! A **record** is one publisher's value under one key, signed by the
//! publisher's node key, so a member can neither forge another's record nor
//! replace it; several publishers may keep a value under the same key (a
//! fetch returns them all, each checked):
//!
//! ```text
//! 0             32       64        72         76              78
//! | publisher 32 | key 32 | seq u64 | ttl_s u32 | value_len u16 | value | signature 64 |
//! ```
//! The signature is the publisher's ed25519 `verify_strict` signature of the
//! context string `tessel record v1`, a zero byte, then every byte before
//! it. `seq` orders one publisher's versions under a key (a higher one
//! replaces a lower one), `ttl_s` says for how many seconds members keep it
//! (at most [`MAX_TTL_S`]); a value is at most [`MAX_VALUE`] bytes.
//!
//! A **record message** travels inside sessions, by greedy forwarding toward
//! the overlay address that the key maps to (see
//! [`NetworkPrefix::record_addr`](crate::identity::NetworkPrefix::record_addr)):
//!
//! ```text
//! 0           1           2    3          4       12          44
//! | kind 0x07 | hop_limit | op | reserved | id u64 | origin 32 | body |
//! ```
//! `op` 1 stores the record in `body`; 2 is a copy of it for a replica, not
//! forwarded; 3 fetches the key in `body` (32 bytes); 4 answers a fetch with
//! part of the records kept under a key: `key 32 | part u8 | parts u8 |
//! count u8 | (len u16 | record)*` (the records of one key may take several
//! messages, `part` of `parts`; `parts` is at least 1 and `part` below it).
//! `origin` is the node ID of the member that sent the store or fetch
//! (answers travel back to it); `id` names the request. Integers are
//! little-endian.

use super::kind::{checked, Size};
use super::{need, read_u32, read_u64, InnerKind, WireError};

/// Hop limit of a new message.
pub const HOP_LIMIT: u8 = 32;
/// Longest value.
pub const MAX_VALUE: usize = 1024;
/// Longest lifetime a member grants a record, in seconds.
pub const MAX_TTL_S: u32 = 3600;
/// Bytes of a record before its value.
pub const RECORD_HEADER: usize = 78;
/// Bytes of a signature.
pub const SIGNATURE_LEN: usize = 64;
/// Longest record.
pub const MAX_RECORD: usize = RECORD_HEADER + MAX_VALUE + SIGNATURE_LEN;
/// Bytes of a record message before its body.
pub const MESSAGE_HEADER: usize = 44;
/// Bytes of an answer's body before its records.
pub const FOUND_HEADER: usize = 35;
/// Most bytes of records one answer carries (one record of the largest
/// size always fits).
pub const MAX_FOUND_RECORDS: usize = 1200;

const CONTEXT: &[u8] = b"tessel record v1\0";

/// A checked view of a record's bytes; its signature is checked by
/// [`Record::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    bytes: &'a [u8],
}

impl<'a> Record<'a> {
    /// Parses a record that fills `bytes` exactly.
    ///
    /// # Errors
    /// Returns an error if the lengths do not add up or exceed the limits.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        need(bytes, RECORD_HEADER + SIGNATURE_LEN)?;
        let value_len = usize::from(u16::from_le_bytes([bytes[76], bytes[77]]));
        if value_len > MAX_VALUE {
            return Err(WireError::InvalidField("record value length"));
        }
        let expected = RECORD_HEADER + value_len + SIGNATURE_LEN;
        if bytes.len() != expected {
            return Err(WireError::WrongLength {
                len: bytes.len(),
                expected,
            });
        }
        Ok(Self { bytes })
    }

    /// The whole record.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The publisher's node ID (ed25519 public key) bytes.
    pub fn publisher(&self) -> [u8; 32] {
        self.bytes[..32].try_into().expect("checked length")
    }

    /// The key it is kept under.
    pub fn key(&self) -> [u8; 32] {
        self.bytes[32..64].try_into().expect("checked length")
    }

    /// The version: a higher one replaces a lower one.
    pub fn seq(&self) -> u64 {
        read_u64(self.bytes, 64)
    }

    /// Seconds the publisher asks members to keep it.
    pub fn ttl_s(&self) -> u32 {
        read_u32(self.bytes, 72)
    }

    /// The value.
    pub fn value(&self) -> &'a [u8] {
        &self.bytes[RECORD_HEADER..self.bytes.len() - SIGNATURE_LEN]
    }

    /// Whether the signature is the publisher's, over everything before it.
    pub fn verify(&self) -> bool {
        let split = self.bytes.len() - SIGNATURE_LEN;
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&self.publisher()) else {
            return false;
        };
        let sig: [u8; 64] = self.bytes[split..].try_into().expect("checked length");
        vk.verify_strict(
            &signing_message(&self.bytes[..split]),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

/// Appends what a record's publisher signs, without the context string:
/// everything but the signature. [`emit_record`] adds the signature.
///
/// # Errors
/// Returns an error (and appends nothing) if the value is too long.
pub fn emit_signed_part(
    publisher: &[u8; 32],
    key: &[u8; 32],
    seq: u64,
    ttl_s: u32,
    value: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    if value.len() > MAX_VALUE {
        return Err(WireError::InvalidField("record value length"));
    }
    out.reserve(RECORD_HEADER + value.len() + SIGNATURE_LEN);
    out.extend_from_slice(publisher);
    out.extend_from_slice(key);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ttl_s.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// The message a publisher signs for [`emit_signed_part`]'s bytes.
pub fn signing_message(signed_part: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(CONTEXT.len() + signed_part.len());
    msg.extend_from_slice(CONTEXT);
    msg.extend_from_slice(signed_part);
    msg
}

/// Appends a record: the bytes of [`emit_signed_part`] and `signature`.
pub fn emit_record(signed_part: &[u8], signature: &[u8; 64], out: &mut Vec<u8>) {
    out.extend_from_slice(signed_part);
    out.extend_from_slice(signature);
}

/// The records of one answer: `count` times a `len u16` and a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordList<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> RecordList<'a> {
    /// Checks `count` length-prefixed records that fill `bytes` exactly.
    fn parse(bytes: &'a [u8], count: u8) -> Result<Self, WireError> {
        let list = Self { bytes, count };
        let mut rest = bytes;
        for _ in 0..count {
            need(rest, 2)?;
            let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            need(rest, 2 + len)?;
            Record::parse(&rest[2..2 + len])?;
            rest = &rest[2 + len..];
        }
        if !rest.is_empty() {
            return Err(WireError::InvalidField("bytes after the records"));
        }
        Ok(list)
    }

    /// The records, in order.
    pub fn iter(&self) -> impl Iterator<Item = Record<'a>> + 'a {
        let mut rest = self.bytes;
        (0..self.count).map(move |_| {
            let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            let r = Record::parse(&rest[2..2 + len]).expect("checked when parsed");
            rest = &rest[2 + len..];
            r
        })
    }

    /// How many records.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Appends the body of a list of records (for [`Op::Found`]).
pub fn emit_list(records: &[&[u8]], out: &mut Vec<u8>) {
    for r in records {
        out.extend_from_slice(&(r.len() as u16).to_le_bytes());
        out.extend_from_slice(r);
    }
}

/// What a record message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// Keep this record (and pass it on toward its key).
    Store(Record<'a>),
    /// Keep this copy; do not pass it on.
    Replica(Record<'a>),
    /// The records kept under this key, please.
    Fetch([u8; 32]),
    /// Part `part` of `parts` of the records kept under `key`.
    Found {
        /// The key fetched.
        key: [u8; 32],
        /// Which part this is, from 0.
        part: u8,
        /// How many parts the answer has (at least 1).
        parts: u8,
        /// The records of this part (none if the key is not known).
        records: RecordList<'a>,
    },
}

const OP_STORE: u8 = 1;
const OP_REPLICA: u8 = 2;
const OP_FETCH: u8 = 3;
const OP_FOUND: u8 = 4;

/// A parsed record message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMessage<'a> {
    /// Hops left before the message is dropped.
    pub hop_limit: u8,
    /// Names the request; answers echo it.
    pub id: u64,
    /// Node ID bytes of the member that sent the request.
    pub origin: [u8; 32],
    /// What it asks or answers.
    pub op: Op<'a>,
}

impl<'a> RecordMessage<'a> {
    /// Parses a record message (the records inside are not verified yet).
    ///
    /// # Errors
    /// Returns an error for a wrong kind, an unknown op, or a body that
    /// does not fit the op.
    pub fn parse(b: &'a [u8]) -> Result<Self, WireError> {
        let b = checked(b, Size::AtLeast(MESSAGE_HEADER), &[InnerKind::Record])?;
        let body = &b[MESSAGE_HEADER..];
        let op = match b[2] {
            OP_STORE => Op::Store(Record::parse(body)?),
            OP_REPLICA => Op::Replica(Record::parse(body)?),
            OP_FETCH => Op::Fetch(body.try_into().map_err(|_| WireError::WrongLength {
                len: b.len(),
                expected: MESSAGE_HEADER + 32,
            })?),
            OP_FOUND => {
                need(body, FOUND_HEADER)?;
                let (part, parts, count) = (body[32], body[33], body[34]);
                if parts == 0 || part >= parts {
                    return Err(WireError::InvalidField("record answer part"));
                }
                Op::Found {
                    key: body[..32].try_into().expect("checked length"),
                    part,
                    parts,
                    records: RecordList::parse(&body[FOUND_HEADER..], count)?,
                }
            }
            _ => return Err(WireError::InvalidField("record op")),
        };
        Ok(Self {
            hop_limit: b[1],
            id: read_u64(b, 4),
            origin: b[12..44].try_into().expect("checked length"),
            op,
        })
    }

    /// Bytes [`RecordMessage::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        MESSAGE_HEADER
            + match self.op {
                Op::Store(r) | Op::Replica(r) => r.as_bytes().len(),
                Op::Fetch(_) => 32,
                Op::Found { records, .. } => FOUND_HEADER + records.bytes.len(),
            }
    }

    /// Appends the message.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.reserve(self.buffer_len());
        let op = match self.op {
            Op::Store(_) => OP_STORE,
            Op::Replica(_) => OP_REPLICA,
            Op::Fetch(_) => OP_FETCH,
            Op::Found { .. } => OP_FOUND,
        };
        out.extend_from_slice(&[InnerKind::Record as u8, self.hop_limit, op, 0]);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.origin);
        match &self.op {
            Op::Store(r) | Op::Replica(r) => out.extend_from_slice(r.as_bytes()),
            Op::Fetch(k) => out.extend_from_slice(k),
            Op::Found {
                key,
                part,
                parts,
                records,
            } => {
                out.extend_from_slice(key);
                out.extend_from_slice(&[*part, *parts, records.count]);
                out.extend_from_slice(records.bytes);
            }
        }
    }
}

/// Appends an answer message: part `part` of `parts` for `key`, carrying
/// `records` (each a whole record, together at most [`MAX_FOUND_RECORDS`]
/// bytes with their length prefixes).
pub fn emit_found(
    id: u64,
    origin: [u8; 32],
    key: [u8; 32],
    part: u8,
    parts: u8,
    records: &[&[u8]],
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&[InnerKind::Record.into(), HOP_LIMIT, OP_FOUND, 0]);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&origin);
    out.extend_from_slice(&key);
    out.extend_from_slice(&[part, parts, records.len() as u8]);
    emit_list(records, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn record(signer: &SigningKey, key: [u8; 32], seq: u64, value: &[u8]) -> Vec<u8> {
        let publisher = signer.verifying_key().to_bytes();
        let mut part = Vec::new();
        emit_signed_part(&publisher, &key, seq, 60, value, &mut part).unwrap();
        let sig = signer.sign(&signing_message(&part)).to_bytes();
        to_vec(|o| emit_record(&part, &sig, o))
    }

    #[test]
    fn a_signed_record_verifies_and_any_change_breaks_it() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let bytes = record(&k, [9; 32], 7, b"hosted at node x");
        let r = Record::parse(&bytes).unwrap();
        assert!(r.verify());
        assert_eq!(
            (r.key(), r.seq(), r.ttl_s(), r.value()),
            ([9; 32], 7, 60, &b"hosted at node x"[..])
        );
        assert_eq!(r.publisher(), k.verifying_key().to_bytes());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(
                Record::parse(&bad).map_or(true, |r| !r.verify()),
                "byte {i}"
            );
        }
    }

    #[test]
    fn limits_and_lengths_are_enforced() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let mut out = Vec::new();
        assert!(emit_signed_part(&[0; 32], &[0; 32], 1, 1, &[0; MAX_VALUE + 1], &mut out).is_err());
        assert!(out.is_empty());
        let bytes = record(&k, [1; 32], 1, &[9; MAX_VALUE]);
        assert_eq!(bytes.len(), MAX_RECORD);
        const { assert!(MAX_RECORD + 2 <= MAX_FOUND_RECORDS) };
        assert!(Record::parse(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Record::parse(&longer).is_err());
    }

    #[test]
    fn messages_round_trip() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let (a, b) = (record(&k, [2; 32], 1, b"v"), record(&k, [2; 32], 2, b"w"));
        let r = Record::parse(&a).unwrap();
        for op in [Op::Store(r), Op::Replica(r), Op::Fetch([5; 32])] {
            let m = RecordMessage {
                hop_limit: 9,
                id: 0x0102_0304_0506_0708,
                origin: [7; 32],
                op,
            };
            let bytes = to_vec(|o| m.emit(o));
            assert_eq!(bytes.len(), m.buffer_len());
            assert_eq!(RecordMessage::parse(&bytes).unwrap(), m);
        }
        let found = to_vec(|o| emit_found(5, [7; 32], [2; 32], 1, 3, &[&a, &b], o));
        let m = RecordMessage::parse(&found).unwrap();
        let Op::Found {
            key,
            part,
            parts,
            records,
        } = m.op
        else {
            panic!("{m:?}");
        };
        assert_eq!((key, part, parts, records.len()), ([2; 32], 1, 3, 2));
        let got: Vec<&[u8]> = records.iter().map(|r| r.as_bytes()).collect();
        assert_eq!(got, vec![&a[..], &b[..]]);
        assert_eq!(to_vec(|o| m.emit(o)), found);
        assert_eq!(m.buffer_len(), found.len());
        // Parts must make sense; the count must match the bytes.
        for (at, v) in [(MESSAGE_HEADER + 33, 0u8), (MESSAGE_HEADER + 32, 3)] {
            let mut bad = found.clone();
            bad[at] = v;
            assert!(RecordMessage::parse(&bad).is_err());
        }
        let mut bad = found.clone();
        bad[MESSAGE_HEADER + 34] = 1;
        assert!(RecordMessage::parse(&bad).is_err());
        let mut bad = found;
        bad[2] = 9;
        assert!(RecordMessage::parse(&bad).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..1400)) {
            if let Ok(m) = RecordMessage::parse(&b) {
                if let Op::Found { records, .. } = m.op {
                    for r in records.iter() {
                        let _ = r.verify();
                    }
                }
            }
            if let Ok(r) = Record::parse(&b) {
                let _ = r.verify();
            }
        }

        #[test]
        fn any_record_round_trips(
            key in any::<[u8; 32]>(),
            seq in any::<u64>(),
            value in proptest::collection::vec(any::<u8>(), 0..=MAX_VALUE),
        ) {
            let k = SigningKey::from_bytes(&[8; 32]);
            let bytes = record(&k, key, seq, &value);
            let r = Record::parse(&bytes).unwrap();
            prop_assert!(r.verify());
            prop_assert_eq!((r.key(), r.seq(), r.value()), (key, seq, &value[..]));
        }
    }
}
