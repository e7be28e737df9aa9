//! Records: small signed values that the members nearest their key keep for
//! others, and the messages that store and fetch them.
//!
//! A **record** is signed by its publisher, an ed25519 key (a node's, or
//! any other key such as an engine's), and names itself by a **key**
//! derived from the publisher and a salt, so only the publisher can write
//! under a key and anyone can check a record against the key it was asked
//! for:
//!
//! ```text
//! 0             32        40         44         45          47
//! | publisher 32 | seq u64 | ttl_s u32 | salt_len | value_len u16 | salt | value | signature 64 |
//! ```
//! The signature covers the context string `tessel record v1`, a zero byte,
//! then every byte before it. `seq` orders versions (a higher one replaces a
//! lower one), `ttl_s` says for how many seconds a member keeps it (at most
//! [`MAX_TTL_S`]). The key is BLAKE3's `derive_key("tessel record key v1",
//! publisher ‖ salt_len ‖ salt)`. Salt is at most [`MAX_SALT`] bytes and
//! value at most [`MAX_VALUE`].
//!
//! A **record message** travels inside sessions, by greedy forwarding toward
//! the overlay address that the key maps to (see
//! [`NetworkPrefix::record_addr`](crate::identity::NetworkPrefix::record_addr)):
//!
//! ```text
//! 0           1           2    3          4       12          44
//! | kind 0x07 | hop_limit | op | reserved | id u64 | origin 32 | body |
//! ```
//! `op` 1 stores the record in `body`; 2 is a copy of it for a replica,
//! not forwarded; 3 fetches the key in `body` (32 bytes); 4 answers a fetch
//! with the record in `body`; 5 answers that the key in `body` is not known.
//! `origin` is the node ID of the member that sent the store or fetch
//! (answers travel back to it); `id` names the request. Integers are
//! little-endian.

use super::{need, read_u32, read_u64, WireError};

/// The first plaintext byte of a record message.
pub const KIND: u8 = 0x07;
/// Hop limit of a new message.
pub const HOP_LIMIT: u8 = 32;
/// Longest salt.
pub const MAX_SALT: usize = 64;
/// Longest value.
pub const MAX_VALUE: usize = 1024;
/// Longest lifetime a member grants a record, in seconds.
pub const MAX_TTL_S: u32 = 3600;
/// Bytes of a record before its salt and value.
pub const RECORD_HEADER: usize = 47;
/// Bytes of a signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a record message before its body.
pub const MESSAGE_HEADER: usize = 44;
/// Longest record.
pub const MAX_RECORD: usize = RECORD_HEADER + MAX_SALT + MAX_VALUE + SIGNATURE_LEN;

const CONTEXT: &[u8] = b"tessel record v1\0";
const KEY_CONTEXT: &str = "tessel record key v1";

/// The key of the records that `publisher` signs with `salt`.
pub fn record_key(publisher: &[u8; 32], salt: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(KEY_CONTEXT);
    h.update(publisher);
    h.update(&[salt.len().min(255) as u8]);
    h.update(salt);
    *h.finalize().as_bytes()
}

/// A checked view of a record's bytes; its signature is checked by
/// [`Record::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    bytes: &'a [u8],
    salt_len: usize,
    value_len: usize,
}

impl<'a> Record<'a> {
    /// Parses a record that fills `bytes` exactly.
    ///
    /// # Errors
    /// Returns an error if the lengths do not add up or exceed the limits.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        need(bytes, RECORD_HEADER + SIGNATURE_LEN)?;
        let salt_len = usize::from(bytes[44]);
        let value_len = usize::from(u16::from_le_bytes([bytes[45], bytes[46]]));
        if salt_len > MAX_SALT {
            return Err(WireError::InvalidField("record salt length"));
        }
        if value_len > MAX_VALUE {
            return Err(WireError::InvalidField("record value length"));
        }
        let expected = RECORD_HEADER + salt_len + value_len + SIGNATURE_LEN;
        if bytes.len() != expected {
            return Err(WireError::WrongLength {
                len: bytes.len(),
                expected,
            });
        }
        Ok(Self {
            bytes,
            salt_len,
            value_len,
        })
    }

    /// The whole record.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The publisher's ed25519 public key.
    pub fn publisher(&self) -> [u8; 32] {
        self.bytes[..32].try_into().expect("checked length")
    }

    /// The version: a higher one replaces a lower one.
    pub fn seq(&self) -> u64 {
        read_u64(self.bytes, 32)
    }

    /// Seconds the publisher asks members to keep it.
    pub fn ttl_s(&self) -> u32 {
        read_u32(self.bytes, 40)
    }

    /// The salt that, with the publisher, makes the key.
    pub fn salt(&self) -> &'a [u8] {
        &self.bytes[RECORD_HEADER..RECORD_HEADER + self.salt_len]
    }

    /// The value.
    pub fn value(&self) -> &'a [u8] {
        let at = RECORD_HEADER + self.salt_len;
        &self.bytes[at..at + self.value_len]
    }

    /// The record's key.
    pub fn key(&self) -> [u8; 32] {
        record_key(&self.publisher(), self.salt())
    }

    /// Whether the signature is the publisher's, over everything before it.
    pub fn verify(&self) -> bool {
        let split = self.bytes.len() - SIGNATURE_LEN;
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&self.publisher()) else {
            return false;
        };
        let sig: [u8; 64] = self.bytes[split..].try_into().expect("checked length");
        let mut msg = Vec::with_capacity(CONTEXT.len() + split);
        msg.extend_from_slice(CONTEXT);
        msg.extend_from_slice(&self.bytes[..split]);
        vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// What a record's publisher signs: everything but the signature, after
/// the context string. [`emit_record`] appends the signature.
///
/// # Errors
/// Returns an error if the salt or value is too long.
pub fn signed_part(
    publisher: &[u8; 32],
    seq: u64,
    ttl_s: u32,
    salt: &[u8],
    value: &[u8],
) -> Result<Vec<u8>, WireError> {
    if salt.len() > MAX_SALT {
        return Err(WireError::InvalidField("record salt length"));
    }
    if value.len() > MAX_VALUE {
        return Err(WireError::InvalidField("record value length"));
    }
    let mut b = Vec::with_capacity(RECORD_HEADER + salt.len() + value.len() + SIGNATURE_LEN);
    b.extend_from_slice(publisher);
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&ttl_s.to_le_bytes());
    b.push(salt.len() as u8);
    b.extend_from_slice(&(value.len() as u16).to_le_bytes());
    b.extend_from_slice(salt);
    b.extend_from_slice(value);
    Ok(b)
}

/// The message a publisher signs for [`signed_part`]'s bytes.
pub fn signing_message(signed_part: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(CONTEXT.len() + signed_part.len());
    msg.extend_from_slice(CONTEXT);
    msg.extend_from_slice(signed_part);
    msg
}

/// A record: [`signed_part`] with `signature` appended.
pub fn emit_record(mut signed_part: Vec<u8>, signature: &[u8; 64]) -> Vec<u8> {
    signed_part.extend_from_slice(signature);
    signed_part
}

/// What a record message asks or answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// Keep this record (and pass it on toward its key).
    Store(Record<'a>),
    /// Keep this copy; do not pass it on.
    Replica(Record<'a>),
    /// Who has the record of this key?
    Fetch([u8; 32]),
    /// This is the record asked for.
    Found(Record<'a>),
    /// No record of this key here.
    NotFound([u8; 32]),
}

const OP_STORE: u8 = 1;
const OP_REPLICA: u8 = 2;
const OP_FETCH: u8 = 3;
const OP_FOUND: u8 = 4;
const OP_NOT_FOUND: u8 = 5;

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
    /// Parses a record message (the record inside is not verified yet).
    ///
    /// # Errors
    /// Returns an error for a wrong kind, an unknown op, or a body that
    /// does not fit the op.
    pub fn parse(b: &'a [u8]) -> Result<Self, WireError> {
        need(b, MESSAGE_HEADER)?;
        if b[0] != KIND {
            return Err(WireError::InvalidField("record kind"));
        }
        let body = &b[MESSAGE_HEADER..];
        let key = || -> Result<[u8; 32], WireError> {
            body.try_into().map_err(|_| WireError::WrongLength {
                len: b.len(),
                expected: MESSAGE_HEADER + 32,
            })
        };
        let op = match b[2] {
            OP_STORE => Op::Store(Record::parse(body)?),
            OP_REPLICA => Op::Replica(Record::parse(body)?),
            OP_FETCH => Op::Fetch(key()?),
            OP_FOUND => Op::Found(Record::parse(body)?),
            OP_NOT_FOUND => Op::NotFound(key()?),
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
                Op::Store(r) | Op::Replica(r) | Op::Found(r) => r.as_bytes().len(),
                Op::Fetch(_) | Op::NotFound(_) => 32,
            }
    }

    /// Writes the message.
    pub fn emit(&self) -> Vec<u8> {
        let (op, body): (u8, &[u8]) = match &self.op {
            Op::Store(r) => (OP_STORE, r.as_bytes()),
            Op::Replica(r) => (OP_REPLICA, r.as_bytes()),
            Op::Fetch(k) => (OP_FETCH, k),
            Op::Found(r) => (OP_FOUND, r.as_bytes()),
            Op::NotFound(k) => (OP_NOT_FOUND, k),
        };
        let mut b = Vec::with_capacity(self.buffer_len());
        b.extend_from_slice(&[KIND, self.hop_limit, op, 0]);
        b.extend_from_slice(&self.id.to_le_bytes());
        b.extend_from_slice(&self.origin);
        b.extend_from_slice(body);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn record(key: &SigningKey, seq: u64, salt: &[u8], value: &[u8]) -> Vec<u8> {
        let publisher = key.verifying_key().to_bytes();
        let part = signed_part(&publisher, seq, 60, salt, value).unwrap();
        let sig = key.sign(&signing_message(&part)).to_bytes();
        emit_record(part, &sig)
    }

    #[test]
    fn a_signed_record_verifies_and_names_its_key() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let bytes = record(&k, 7, b"engine", b"hosted at node x");
        let r = Record::parse(&bytes).unwrap();
        assert!(r.verify());
        assert_eq!(
            (r.seq(), r.ttl_s(), r.salt(), r.value()),
            (7, 60, &b"engine"[..], &b"hosted at node x"[..])
        );
        assert_eq!(
            r.key(),
            record_key(&k.verifying_key().to_bytes(), b"engine")
        );
        assert_ne!(r.key(), record_key(&k.verifying_key().to_bytes(), b"other"));
        // Any changed byte breaks the signature (or the parse).
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(Record::parse(&bad).is_ok_and(|r| !r.verify()) || Record::parse(&bad).is_err());
        }
    }

    #[test]
    fn limits_and_lengths_are_enforced() {
        let k = SigningKey::from_bytes(&[3; 32]);
        assert!(signed_part(&[0; 32], 1, 1, &[0; MAX_SALT + 1], b"").is_err());
        assert!(signed_part(&[0; 32], 1, 1, b"", &[0; MAX_VALUE + 1]).is_err());
        let bytes = record(&k, 1, b"s", &[9; MAX_VALUE]);
        assert_eq!(bytes.len(), MAX_RECORD - MAX_SALT + 1);
        assert!(Record::parse(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Record::parse(&longer).is_err());
    }

    #[test]
    fn messages_round_trip() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let bytes = record(&k, 2, b"", b"v");
        let r = Record::parse(&bytes).unwrap();
        for op in [
            Op::Store(r),
            Op::Replica(r),
            Op::Fetch([5; 32]),
            Op::Found(r),
            Op::NotFound([6; 32]),
        ] {
            let m = RecordMessage {
                hop_limit: 9,
                id: 0x0102_0304_0506_0708,
                origin: [7; 32],
                op,
            };
            let b = m.emit();
            assert_eq!(b.len(), m.buffer_len());
            assert_eq!(RecordMessage::parse(&b).unwrap(), m);
        }
        let mut b = RecordMessage {
            hop_limit: 1,
            id: 1,
            origin: [0; 32],
            op: Op::Fetch([0; 32]),
        }
        .emit();
        b[2] = 9;
        assert!(RecordMessage::parse(&b).is_err());
        b[2] = OP_FETCH;
        b.push(0);
        assert!(RecordMessage::parse(&b).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let _ = RecordMessage::parse(&b);
            if let Ok(r) = Record::parse(&b) {
                let _ = r.verify();
            }
        }

        #[test]
        fn any_record_round_trips(
            seq in any::<u64>(),
            salt in proptest::collection::vec(any::<u8>(), 0..=MAX_SALT),
            value in proptest::collection::vec(any::<u8>(), 0..=MAX_VALUE),
        ) {
            let k = SigningKey::from_bytes(&[8; 32]);
            let bytes = record(&k, seq, &salt, &value);
            let r = Record::parse(&bytes).unwrap();
            prop_assert!(r.verify());
            prop_assert_eq!((r.seq(), r.salt(), r.value()), (seq, &salt[..], &value[..]));
        }
    }
}
