//! Owner keys: the ed25519 keys that own scopes and sign their records
//! (scope creations, hosting grants, read capabilities, revocations).
//!
//! The network's configuration names the root owner (`--scope-root`); the
//! owner of a scope may create children owned by other keys. Owner keys are
//! kept by people, not by nodes: the CLI signs with them offline.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::text::{self, TextError};

const OWNER_ID_PREFIX: &str = "tessel-owner-";
const OWNER_KEY_PREFIX: &str = "tessel-ownerkey-";

/// An owner's public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId([u8; 32]);

/// Why an owner ID's text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerIdParseError {
    /// The text itself is malformed.
    #[error("malformed owner key: {0}")]
    Text(#[from] TextError),
    /// The text decodes, but not to an ed25519 public key.
    #[error("malformed owner key: not an ed25519 public key")]
    NotAKey,
}

impl OwnerId {
    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// An owner ID from raw bytes.
    ///
    /// # Errors
    /// [`OwnerIdParseError::NotAKey`] when the bytes are not a public key.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, OwnerIdParseError> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| OwnerIdParseError::NotAKey)?;
        Ok(Self(bytes))
    }

    /// Parses `tessel-owner-…` text.
    ///
    /// # Errors
    /// Malformed text, a bad checksum, or bytes that are not a public key.
    pub fn parse(s: &str) -> Result<Self, OwnerIdParseError> {
        Self::from_bytes(text::decode::<32>(OWNER_ID_PREFIX, s)?)
    }
}

impl fmt::Display for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::encode(OWNER_ID_PREFIX, &self.0))
    }
}

impl fmt::Debug for OwnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerId({self})")
    }
}

/// An owner's secret key.
pub struct OwnerKey {
    signing: SigningKey,
}

impl OwnerKey {
    /// Builds a key from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public half.
    pub fn id(&self) -> OwnerId {
        OwnerId(self.signing.verifying_key().to_bytes())
    }

    /// The ed25519 signing key, for signing scope records.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The secret in text form, for a key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(text::encode(OWNER_KEY_PREFIX, self.signing.as_bytes()))
    }

    /// Parses the secret's text form.
    ///
    /// # Errors
    /// Malformed text or a bad checksum.
    pub fn from_text(s: &str) -> Result<Self, TextError> {
        let seed = Zeroizing::new(text::decode::<32>(OWNER_KEY_PREFIX, s)?);
        Ok(Self::from_seed(*seed))
    }
}

impl fmt::Debug for OwnerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OwnerKey({})", self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_and_differ_from_node_keys() {
        let k = OwnerKey::from_seed([4; 32]);
        let again = OwnerKey::from_text(&k.to_text()).unwrap();
        assert_eq!(again.id(), k.id());
        assert_eq!(OwnerId::parse(&k.id().to_string()), Ok(k.id()));
        let node = super::super::NodeKey::from_seed([4; 32]);
        assert!(OwnerKey::from_text(&node.to_text()).is_err());
        assert!(OwnerId::parse(&node.id().to_string()).is_err());
    }
}
