//! Owner-signed network key rotations (managed mode): the network owner's
//! signature that allows the network key to become a given new key, with
//! the end of the old key's grace period.
//!
//! In a managed network members take a new network key only with this
//! signature; a key update (`wire/key_update.rs`) carries it after the key.
//! The owner signs [`SIGNING_CONTEXT`] followed by
//!
//! ```text
//! | network_id 32 | epoch u32 | grace_end u64 | commitment 32 |
//! ```
//! (integers little-endian), where `commitment` is
//! [`NetworkKey::commitment`] of the new key: the signature binds the
//! secret without revealing it, so it can travel next to the key or apart.
//!
//! The text form `tessel-rotation-…` (made by `tessel network rotate
//! --owner-key`, handed to the daemon) carries the new key itself and is a
//! secret: base32 of `secret 32 | network_id 32 | epoch u32be | grace_end
//! u64be | signature 64` with a checksum.

use std::fmt;

use ed25519_dalek::{Signature, Signer, VerifyingKey};
use zeroize::Zeroizing;

use super::text::{self, TextError};
use super::{NetworkKey, OwnerId, OwnerKey};

/// What the owner's signature covers besides the fields.
pub const SIGNING_CONTEXT: &[u8] = b"tessel key rotation v1\0";
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
const PREFIX: &str = "tessel-rotation-";
const TEXT_LEN: usize = 32 + 32 + 4 + 8 + SIGNATURE_LEN;

fn message(key: &NetworkKey, grace_end_s: u64) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_CONTEXT.len() + 76);
    msg.extend_from_slice(SIGNING_CONTEXT);
    msg.extend_from_slice(key.id().as_bytes());
    msg.extend_from_slice(&key.epoch().to_le_bytes());
    msg.extend_from_slice(&grace_end_s.to_le_bytes());
    msg.extend_from_slice(&key.commitment());
    msg
}

/// Whether `owner` signed the rotation to `key` with grace end
/// `grace_end_s` (Unix seconds).
pub fn owner_signed(
    owner: &OwnerId,
    key: &NetworkKey,
    grace_end_s: u64,
    signature: &[u8; SIGNATURE_LEN],
) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(owner.as_bytes()) else {
        return false;
    };
    vk.verify_strict(
        &message(key, grace_end_s),
        &Signature::from_bytes(signature),
    )
    .is_ok()
}

/// A new network key with the owner's signature allowing it.
#[derive(Clone)]
pub struct SignedRotation {
    key: NetworkKey,
    grace_end_s: u64,
    signature: [u8; SIGNATURE_LEN],
}

impl SignedRotation {
    /// The owner allows `key` to replace the network key; the replaced
    /// key is refused after `grace_end_s` (Unix seconds).
    pub fn sign(owner: &OwnerKey, key: NetworkKey, grace_end_s: u64) -> Self {
        let signature = owner
            .signing_key()
            .sign(&message(&key, grace_end_s))
            .to_bytes();
        Self {
            key,
            grace_end_s,
            signature,
        }
    }

    /// A rotation from its parts, as a key update carries them (check it
    /// with [`SignedRotation::verify`]).
    pub fn from_parts(key: NetworkKey, grace_end_s: u64, signature: [u8; SIGNATURE_LEN]) -> Self {
        Self {
            key,
            grace_end_s,
            signature,
        }
    }

    /// Whether `owner` signed it.
    pub fn verify(&self, owner: &OwnerId) -> bool {
        owner_signed(owner, &self.key, self.grace_end_s, &self.signature)
    }

    /// The new key.
    pub fn key(&self) -> &NetworkKey {
        &self.key
    }

    /// When the replaced key is refused (Unix seconds).
    pub fn grace_end_s(&self) -> u64 {
        self.grace_end_s
    }

    /// The owner's signature.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The text form (`tessel-rotation-…`): a secret, it holds the key.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(Vec::with_capacity(TEXT_LEN));
        raw.extend_from_slice(self.key.secret());
        raw.extend_from_slice(self.key.id().as_bytes());
        raw.extend_from_slice(&self.key.epoch().to_be_bytes());
        raw.extend_from_slice(&self.grace_end_s.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        Zeroizing::new(text::encode(PREFIX, &raw))
    }

    /// Parses the text form (the signature is not checked).
    ///
    /// # Errors
    /// Damaged text, or a key of epoch 0 (no rotation makes one).
    pub fn from_text(s: &str) -> Result<Self, TextError> {
        let raw = Zeroizing::new(text::decode::<TEXT_LEN>(PREFIX, s)?);
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&raw[..32]);
        let mut id = [0u8; 32];
        id.copy_from_slice(&raw[32..64]);
        let epoch = u32::from_be_bytes([raw[64], raw[65], raw[66], raw[67]]);
        let mut grace = [0u8; 8];
        grace.copy_from_slice(&raw[68..76]);
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(&raw[76..]);
        let key = NetworkKey::from_parts(*secret, id, epoch)
            .filter(|k| k.epoch() > 0)
            .ok_or(TextError::BadEncoding)?;
        Ok(Self {
            key,
            grace_end_s: u64::from_be_bytes(grace),
            signature,
        })
    }
}

impl fmt::Debug for SignedRotation {
    /// Never prints the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignedRotation(epoch {}, grace until {})",
            self.key.epoch(),
            self.grace_end_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_rotation_verifies_round_trips_and_binds_every_field() {
        let owner = OwnerKey::from_seed([1; 32]);
        let old = NetworkKey::from_secret([2; 32]);
        let new = old.rotated([3; 32]);
        let r = SignedRotation::sign(&owner, new.clone(), 1_900_000_000);
        assert!(r.verify(&owner.id()));
        assert!(!r.verify(&OwnerKey::from_seed([9; 32]).id()));
        let again = SignedRotation::from_text(&r.to_text()).unwrap();
        assert!(again.verify(&owner.id()));
        assert_eq!(again.key().secret(), new.secret());
        assert_eq!(again.grace_end_s(), 1_900_000_000);
        // Another secret, grace or epoch under the same signature fails.
        let sig = *r.signature();
        let other = old.rotated([4; 32]);
        assert!(!owner_signed(&owner.id(), &other, 1_900_000_000, &sig));
        assert!(!owner_signed(&owner.id(), &new, 1_900_000_001, &sig));
        let later = new.rotated([3; 32]);
        assert!(!owner_signed(&owner.id(), &later, 1_900_000_000, &sig));
        // A network key's text is not a rotation's.
        assert!(SignedRotation::from_text(&new.to_text()).is_err());
    }
}
