//! Revocation list: a network owner's signed list of members that are no
//! longer members. The same bytes are the inner control message (kind
//! 0x09) that spreads it between members and the file that holds it.
//!
//! ```text
//! 0      1         2            34         42        44
//! | kind | version | network_id | serial 8 | count 2 | (node_id 32 | not_after 8) × count | signature 64 |
//! ```
//! `serial` grows with each list the owner signs (the CLI uses the Unix
//! seconds of signing); a member keeps the list of highest serial. Each
//! entry names a revoked node and the `not_after` of the last certificate
//! it was given: once that has passed the certificate is void anyway and the
//! entry may be dropped. Entries are in strictly increasing node ID order,
//! at most [`MAX_ENTRIES`] (as many as a node keeps members): a list is at
//! most [`MAX_LEN`] bytes. A list of at most [`MAX_WHOLE_LEN`] bytes (30
//! entries) travels as one inner message; a longer one travels in parts
//! ([`super::revocation_part`]). The signature is the owner's ed25519
//! signature of [`SIGNING_CONTEXT`] followed by every byte before it.

use super::kind::{checked, Size};
use super::{read_u64, InnerKind, WireError};

/// The version byte this module reads and writes.
pub const VERSION: u8 = 1;
/// Bytes before the entries.
pub const HEADER_LEN: usize = 44;
/// Bytes of one entry.
pub const ENTRY_LEN: usize = 40;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Most entries in one list: as many members as a node keeps
/// ([`crate::limits::MAX_PEERS`]).
pub const MAX_ENTRIES: usize = crate::limits::MAX_PEERS;
/// Longest list (163,948 bytes).
pub const MAX_LEN: usize = HEADER_LEN + MAX_ENTRIES * ENTRY_LEN + SIGNATURE_LEN;
/// Longest list that travels as one inner message, through a relay too
/// ([`crate::limits::RELAYED_MTU`]); longer ones travel in parts.
pub const MAX_WHOLE_LEN: usize = crate::limits::RELAYED_MTU;
/// What the owner's signature covers besides the list's bytes.
pub const SIGNING_CONTEXT: &[u8] = b"tessel revocation list v1\0";

const _: () = assert!(MAX_ENTRIES <= u16::MAX as usize);

/// One revoked member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// The revoked node.
    pub node_id: [u8; 32],
    /// When its last certificate expires (seconds since the Unix epoch).
    pub not_after: u64,
}

/// A checked view of a revocation list.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks kind, version, count, exact length and entry order; the only
    /// constructor for untrusted input. The signature is not checked.
    ///
    /// # Errors
    /// Returns an error if the bytes are not exactly one list.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(buffer, Size::AtLeast(HEADER_LEN), &[InnerKind::Revocations])?;
        let b = buffer.as_ref();
        if b[1] != VERSION {
            return Err(WireError::InvalidField("revocation list version"));
        }
        let count = usize::from(u16::from_le_bytes([b[42], b[43]]));
        if count > MAX_ENTRIES {
            return Err(WireError::InvalidField("revocation count"));
        }
        let expected = HEADER_LEN + count * ENTRY_LEN + SIGNATURE_LEN;
        if b.len() != expected {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected,
            });
        }
        let p = Self { buffer };
        let ids: Vec<[u8; 32]> = p.entries().map(|e| e.node_id).collect();
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(WireError::InvalidField("revocation order"));
        }
        Ok(p)
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The network the list is for.
    pub fn network_id(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.bytes()[2..34]);
        out
    }

    /// The list's serial.
    pub fn serial(&self) -> u64 {
        read_u64(self.bytes(), 34)
    }

    /// The revoked members, in node ID order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        let b = self.bytes();
        let end = b.len() - SIGNATURE_LEN;
        b[HEADER_LEN..end].chunks_exact(ENTRY_LEN).map(|c| {
            let mut node_id = [0u8; 32];
            node_id.copy_from_slice(&c[..32]);
            Entry {
                node_id,
                not_after: read_u64(c, 32),
            }
        })
    }

    /// The bytes the signature covers (after [`SIGNING_CONTEXT`]).
    pub fn signed_part(&self) -> &[u8] {
        super::before_signature(self.bytes())
    }

    /// The owner's signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        super::trailing_signature(self.bytes())
    }

    /// The whole list.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }
}

/// Appends the signed part of a list; `entries` are sorted and deduplicated
/// by node ID here.
///
/// # Errors
/// More than [`MAX_ENTRIES`] distinct entries (nothing is appended).
pub fn emit_signed_part(
    network_id: [u8; 32],
    serial: u64,
    entries: &[Entry],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let mut sorted = entries.to_vec();
    sorted.sort();
    // The latest expiry of a node listed twice is the one to keep.
    sorted.reverse();
    sorted.dedup_by_key(|e| e.node_id);
    sorted.reverse();
    if sorted.len() > MAX_ENTRIES {
        return Err(WireError::InvalidField("revocation count"));
    }
    out.reserve(HEADER_LEN + sorted.len() * ENTRY_LEN + SIGNATURE_LEN);
    out.push(InnerKind::Revocations.into());
    out.push(VERSION);
    out.extend_from_slice(&network_id);
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u16).to_le_bytes());
    for e in &sorted {
        out.extend_from_slice(&e.node_id);
        out.extend_from_slice(&e.not_after.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8, t: u64) -> Entry {
        Entry {
            node_id: [n; 32],
            not_after: t,
        }
    }

    fn sample() -> Vec<u8> {
        let mut b = crate::wire::try_to_vec(|o| {
            emit_signed_part([1; 32], 99, &[entry(3, 5), entry(2, 7), entry(3, 9)], o)
        })
        .unwrap();
        b.extend_from_slice(&[4; SIGNATURE_LEN]);
        b
    }

    #[test]
    fn round_trip_sorted_and_deduplicated() {
        let b = sample();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.network_id(), [1; 32]);
        assert_eq!(p.serial(), 99);
        let e: Vec<_> = p.entries().collect();
        assert_eq!(e, [entry(2, 7), entry(3, 9)]);
        assert_eq!(p.signature(), [4; SIGNATURE_LEN]);
    }

    #[test]
    fn every_truncation_and_bad_field_is_refused() {
        let b = sample();
        for n in 0..b.len() {
            assert!(Packet::new_checked(&b[..n]).is_err(), "{n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(Packet::new_checked(&long[..]).is_err());
        let mut unordered = b.clone();
        unordered[HEADER_LEN..HEADER_LEN + 32].fill(3);
        assert!(Packet::new_checked(&unordered[..]).is_err());
        let mut kind = b.clone();
        kind[0] = 0x08;
        assert!(Packet::new_checked(&kind[..]).is_err());
    }

    fn numbered(n: usize) -> Entry {
        let mut node_id = [0; 32];
        node_id[..2].copy_from_slice(&(n as u16).to_be_bytes());
        Entry {
            node_id,
            not_after: 1,
        }
    }

    #[test]
    fn the_cap_holds() {
        let full: Vec<Entry> = (0..MAX_ENTRIES).map(numbered).collect();
        let mut b = crate::wire::try_to_vec(|o| emit_signed_part([0; 32], 1, &full, o)).unwrap();
        b.extend_from_slice(&[0; SIGNATURE_LEN]);
        assert_eq!(b.len(), MAX_LEN);
        assert_eq!(MAX_LEN, 163_948);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.entries().count(), MAX_ENTRIES);
        let over: Vec<Entry> = (0..=MAX_ENTRIES).map(numbered).collect();
        assert!(crate::wire::try_to_vec(|o| emit_signed_part([0; 32], 1, &over, o)).is_err());
        // A count above the cap is refused before the length is looked at.
        b[42..44].copy_from_slice(&((MAX_ENTRIES + 1) as u16).to_le_bytes());
        assert!(Packet::new_checked(&b[..]).is_err());
        // 30 entries still go whole.
        let thirty: Vec<Entry> = (0..30).map(numbered).collect();
        let whole = crate::wire::try_to_vec(|o| emit_signed_part([0; 32], 1, &thirty, o))
            .unwrap()
            .len()
            + SIGNATURE_LEN;
        assert!(whole <= MAX_WHOLE_LEN);
    }
}
