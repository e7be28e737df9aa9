//! Owner handover: the network owner's signed statement that a new owner
//! key takes over from its own. The same bytes are the inner control
//! message (kind 0x0c) that spreads it between members and the file line
//! that keeps it.
//!
//! ```text
//! 0      1         2            34          66          98             106
//! | kind | version | network_id | old_owner | new_owner | grace_end u64 | signature 64 |
//! ```
//! (170 bytes, integers little-endian). `grace_end` is the Unix second
//! until which certificates signed by the old owner still count. The
//! signature is the old owner's ed25519 signature of [`SIGNING_CONTEXT`]
//! followed by every byte before it.

use super::kind::{checked, Size};
use super::{InnerKind, WireError};

/// The version byte this module reads and writes.
pub const VERSION: u8 = 1;
/// Bytes before the signature.
pub const SIGNED_LEN: usize = 106;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a handover.
pub const LEN: usize = SIGNED_LEN + SIGNATURE_LEN;
/// What the old owner's signature covers besides the handover's bytes.
pub const SIGNING_CONTEXT: &[u8] = b"tessel owner handover v1\0";

/// The fields the old owner signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// The network.
    pub network_id: [u8; 32],
    /// The owner key that hands over (and signs).
    pub old_owner: [u8; 32],
    /// The owner key that takes over.
    pub new_owner: [u8; 32],
    /// Until when (Unix seconds) the old owner's certificates count.
    pub grace_end: u64,
}

impl Fields {
    /// Appends the bytes before the signature.
    pub fn emit_signed_part(&self, out: &mut Vec<u8>) {
        out.reserve(LEN);
        out.push(InnerKind::OwnerHandover.into());
        out.push(VERSION);
        out.extend_from_slice(&self.network_id);
        out.extend_from_slice(&self.old_owner);
        out.extend_from_slice(&self.new_owner);
        out.extend_from_slice(&self.grace_end.to_le_bytes());
    }
}

/// A checked view of a handover.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks kind, version and exact length; the only constructor for
    /// untrusted input. The signature is not checked.
    ///
    /// # Errors
    /// Returns an error if the bytes are not exactly one handover.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(buffer, Size::Exactly(LEN), &[InnerKind::OwnerHandover])?;
        if buffer.as_ref()[1] != VERSION {
            return Err(WireError::InvalidField("owner handover version"));
        }
        Ok(Self { buffer })
    }

    /// The signed fields.
    pub fn fields(&self) -> Fields {
        let b = self.buffer.as_ref();
        Fields {
            network_id: array(b, 2),
            old_owner: array(b, 34),
            new_owner: array(b, 66),
            grace_end: u64::from_le_bytes(array(b, 98)),
        }
    }

    /// Every byte the signature covers (after the context).
    pub fn signed_part(&self) -> &[u8] {
        &self.buffer.as_ref()[..SIGNED_LEN]
    }

    /// The old owner's signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        array(self.buffer.as_ref(), SIGNED_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_lengths_kinds_and_versions() {
        let f = Fields {
            network_id: [1; 32],
            old_owner: [2; 32],
            new_owner: [3; 32],
            grace_end: 0x0102_0304_0506_0708,
        };
        let mut b = crate::wire::to_vec(|o| f.emit_signed_part(o));
        assert_eq!(b.len(), SIGNED_LEN);
        b.extend_from_slice(&[9; SIGNATURE_LEN]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.fields(), f);
        assert_eq!(p.signature(), [9; SIGNATURE_LEN]);
        assert_eq!(p.signed_part(), &b[..SIGNED_LEN]);
        assert!(Packet::new_checked(&b[..LEN - 1]).is_err());
        let mut longer = b.clone();
        longer.push(0);
        assert!(Packet::new_checked(&longer[..]).is_err());
        let mut other = b.clone();
        other[0] = 0x09;
        assert!(Packet::new_checked(&other[..]).is_err());
        other = b;
        other[1] = 2;
        assert!(Packet::new_checked(&other[..]).is_err());
    }
}
