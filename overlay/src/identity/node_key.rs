//! Node identity: an ed25519 key pair. The node ID is the public key; the
//! Noise static key is the same key converted to X25519, so the handshake
//! proves the node ID.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::text::{self, TextError};

const NODE_ID_PREFIX: &str = "tessel-node-";
const NODE_KEY_PREFIX: &str = "tessel-nodekey-";

/// A node's public identity: its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; 32]);

impl NodeId {
    /// Wraps 32 bytes that are claimed to be an ed25519 public key.
    ///
    /// # Errors
    /// Returns an error if the bytes are not a valid point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, InvalidNodeId> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| InvalidNodeId)?;
        Ok(Self(bytes))
    }

    /// Wraps 32 bytes that a member of the network announced (in gossip),
    /// without checking that they are a point. Most members a node hears of
    /// it never contacts, and the check costs as much as one of a
    /// handshake's Diffie-Hellman operations; a member can announce a key
    /// that nobody holds as easily as one that is no key at all. One that is
    /// not a point never gets a session: [`NodeId::noise_public`] and
    /// [`NodeId::verify`] fail for it.
    pub fn unchecked(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The node ID with these bytes, if `is_known` says a node ID with them
    /// is already known (and so was validated when it was first seen, or
    /// announced by a member: see [`NodeId::unchecked`]): a lookup that
    /// skips the point validation of [`NodeId::from_bytes`].
    pub fn known(bytes: &[u8; 32], is_known: impl FnOnce(&NodeId) -> bool) -> Option<Self> {
        let candidate = Self(*bytes);
        is_known(&candidate).then_some(candidate)
    }

    /// The raw public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `signature` is this node's ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let Ok(vk) = VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    /// The X25519 public key that this node uses as its Noise static key;
    /// `None` for an [unchecked](NodeId::unchecked) ID that is not a point.
    pub fn noise_public(&self) -> Option<[u8; 32]> {
        VerifyingKey::from_bytes(&self.0)
            .ok()
            .map(|vk| vk.to_montgomery().to_bytes())
    }

    /// Parses the text form (`tessel-node-…`).
    ///
    /// # Errors
    /// Returns an error if the text is malformed, fails its checksum or is not a key.
    pub fn parse(s: &str) -> Result<Self, NodeIdParseError> {
        let bytes = text::decode::<32>(NODE_ID_PREFIX, s)?;
        Ok(Self::from_bytes(bytes)?)
    }

    /// A short form for logs: the first 8 characters after the prefix.
    pub fn short(&self) -> String {
        let full = self.to_string();
        full[NODE_ID_PREFIX.len()..NODE_ID_PREFIX.len() + 8].to_string()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::encode(NODE_ID_PREFIX, &self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.short())
    }
}

/// The bytes are not a valid ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid ed25519 public key")]
pub struct InvalidNodeId;

/// Why a node ID's text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdParseError {
    /// The text itself is malformed.
    #[error("malformed node ID: {0}")]
    Text(#[from] TextError),
    /// The text decodes, but not to a public key.
    #[error("malformed node ID: {0}")]
    Key(#[from] InvalidNodeId),
}

/// A node's secret key (wiped from memory when dropped, each clone too).
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl NodeKey {
    /// Builds a key from a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The public node ID.
    pub fn id(&self) -> NodeId {
        NodeId(self.signing.verifying_key().to_bytes())
    }

    /// Signs `message` with the node's ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing.sign(message).to_bytes()
    }

    /// The 32-byte secret seed (for the engines' key holder, which signs
    /// learn records with the node key).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.signing.as_bytes())
    }

    /// The X25519 private key used as the Noise static key.
    pub fn noise_private(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_scalar_bytes())
    }

    /// The secret in text form, for the state dir.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(text::encode(NODE_KEY_PREFIX, self.signing.as_bytes()))
    }

    /// Parses the secret's text form.
    ///
    /// # Errors
    /// Returns an error if the text is malformed or fails its checksum.
    pub fn from_text(s: &str) -> Result<Self, TextError> {
        let seed = Zeroizing::new(text::decode::<32>(NODE_KEY_PREFIX, s)?);
        Ok(Self::from_seed(*seed))
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({:?})", self.id())
    }
}

#[cfg(test)]
mod sign_tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let k = NodeKey::from_seed([5; 32]);
        let other = NodeKey::from_seed([6; 32]);
        let sig = k.sign(b"hello");
        assert!(k.id().verify(b"hello", &sig));
        assert!(!k.id().verify(b"hellp", &sig));
        assert!(!other.id().verify(b"hello", &sig));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_text_round_trip() {
        let key = NodeKey::from_seed([3; 32]);
        let id = key.id();
        assert_eq!(NodeId::parse(&id.to_string()), Ok(id));
        let again = NodeKey::from_text(&key.to_text()).unwrap();
        assert_eq!(again.id(), id);
    }

    #[test]
    fn noise_static_is_bound_to_the_node_id() {
        // An IK handshake where the initiator pins the responder's converted
        // public key succeeds only if the responder holds the matching secret.
        let params: snow::params::NoiseParams =
            "Noise_IK_25519_ChaChaPoly_BLAKE2s".parse().unwrap();
        let (a, b) = (NodeKey::from_seed([1; 32]), NodeKey::from_seed([2; 32]));
        let mut ini = snow::Builder::new(params.clone())
            .local_private_key(&a.noise_private()[..])
            .unwrap()
            .remote_public_key(&b.id().noise_public().unwrap())
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut res = snow::Builder::new(params)
            .local_private_key(&b.noise_private()[..])
            .unwrap()
            .build_responder()
            .unwrap();
        let (mut m, mut p) = ([0u8; 256], [0u8; 256]);
        let n = ini.write_message(&[], &mut m).unwrap();
        res.read_message(&m[..n], &mut p).unwrap();
        assert_eq!(
            res.get_remote_static().unwrap(),
            a.id().noise_public().unwrap()
        );
        let n = res.write_message(&[], &mut m).unwrap();
        ini.read_message(&m[..n], &mut p).unwrap();
        assert!(ini.is_handshake_finished());
    }

    #[test]
    fn garbage_is_not_a_node_id() {
        assert!(NodeId::parse("tessel-node-aaaa").is_err());
        assert!(NodeId::parse("").is_err());
    }
}
