//! Key update: a member hands the network's new key to another member,
//! inside their session (so encrypted and authenticated by it), after
//! `tessel network rotate`.
//!
//! ```text
//! 0      1         5              13              45          77
//! | 0x08 | epoch u32 | grace_end u64 | network_id 32 | secret 32 | [owner_signature 64] |
//! ```
//! `grace_end` is the Unix time in seconds after which the key this one
//! replaces is refused. In a managed network the update ends with the
//! owner's signature allowing the rotation (see
//! [`crate::identity::SignedRotation`]): [`SIGNED_LEN`] bytes instead of
//! [`LEN`]. The receiver checks the network ID, the epoch and, in managed
//! mode, the signature (see `node/rotation.rs`); this module only reads and
//! writes the bytes.

use super::kind::{checked, Size};
use super::{read_u32, read_u64, InnerKind, WireError};

/// Bytes of a key update without the owner's signature.
pub const LEN: usize = 1 + 4 + 8 + 32 + 32;
/// Bytes of the owner's signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a key update with the owner's signature.
pub const SIGNED_LEN: usize = LEN + SIGNATURE_LEN;

/// A checked view over a key update.
#[derive(PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> std::fmt::Debug for Packet<T> {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyUpdate(epoch {})", self.epoch())
    }
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks kind and exact length ([`LEN`] or [`SIGNED_LEN`]); the only
    /// constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error for a wrong length or kind.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(buffer, Size::AtLeast(LEN), &[InnerKind::KeyUpdate])?;
        let len = buffer.as_ref().len();
        if len != LEN && len != SIGNED_LEN {
            return Err(WireError::WrongLength { len, expected: LEN });
        }
        Ok(Self { buffer })
    }

    /// The new key's epoch.
    pub fn epoch(&self) -> u32 {
        read_u32(self.buffer.as_ref(), 1)
    }

    /// Unix seconds after which the replaced key is refused.
    pub fn grace_end(&self) -> u64 {
        read_u64(self.buffer.as_ref(), 5)
    }

    /// The network the key belongs to.
    pub fn network_id(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[13..45]);
        id
    }

    /// The new key's secret.
    pub fn secret(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&self.buffer.as_ref()[45..77]);
        s
    }

    /// The owner's signature allowing the rotation, if the update has one.
    pub fn owner_signature(&self) -> Option<[u8; SIGNATURE_LEN]> {
        let b = self.buffer.as_ref();
        (b.len() == SIGNED_LEN).then(|| super::trailing_signature(b))
    }
}

/// Appends a key update (the caller wipes `out` when done).
pub fn emit(
    epoch: u32,
    grace_end: u64,
    network_id: &[u8; 32],
    secret: &[u8; 32],
    out: &mut Vec<u8>,
) {
    out.reserve(LEN);
    out.push(InnerKind::KeyUpdate.into());
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&grace_end.to_le_bytes());
    out.extend_from_slice(network_id);
    out.extend_from_slice(secret);
}

/// Appends a key update that ends with the owner's signature (the caller
/// wipes `out` when done).
pub fn emit_signed(
    epoch: u32,
    grace_end: u64,
    network_id: &[u8; 32],
    secret: &[u8; 32],
    owner_signature: &[u8; SIGNATURE_LEN],
    out: &mut Vec<u8>,
) {
    emit(epoch, grace_end, network_id, secret, out);
    out.extend_from_slice(owner_signature);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn round_trip_and_errors() {
        let msg = to_vec(|o| emit(3, 1_900_000_000, &[1; 32], &[2; 32], o));
        let p = Packet::new_checked(&msg[..]).unwrap();
        assert_eq!((p.epoch(), p.grace_end()), (3, 1_900_000_000));
        assert_eq!((p.network_id(), p.secret()), ([1; 32], [2; 32]));
        assert!(Packet::new_checked(&msg[..LEN - 1]).is_err());
        let mut wrong = msg.clone();
        wrong[0] = 0x07;
        assert!(Packet::new_checked(&wrong[..]).is_err());
        assert_eq!(p.owner_signature(), None);
        let signed =
            to_vec(|o| emit_signed(3, 1_900_000_000, &[1; 32], &[2; 32], &[7; SIGNATURE_LEN], o));
        let p = Packet::new_checked(&signed[..]).unwrap();
        assert_eq!(p.owner_signature(), Some([7; SIGNATURE_LEN]));
        assert_eq!((p.epoch(), p.secret()), (3, [2; 32]));
        for n in LEN + 1..SIGNED_LEN {
            assert!(Packet::new_checked(&signed[..n]).is_err(), "{n}");
        }
        assert!(Packet::new_checked(&[&signed[..], &[0]].concat()[..]).is_err());
    }
}
