//! The key holder: the one place engine secrets live, plus the node's own
//! signing key. Persistent engine keys can be exported and imported (the
//! daemon keeps them in its state dir); ephemeral ones are never exported.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::ids::{EngineAddr, NodeId};

/// Whether an engine's key outlives a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Never exported; gone when the engine stops or the node exits.
    Ephemeral,
    /// Exported by [`KeyHolder::export_persistent`] and kept when the engine
    /// stops, so it can be resumed under the same address.
    Persistent,
}

/// Why a key file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Wrong magic, truncated or trailing bytes.
    #[error("malformed engine key file")]
    Malformed,
}

const MAGIC: &[u8; 4] = b"TAK1";

struct EngineKey {
    key: SigningKey,
    persistence: Persistence,
}

/// Holds the node key and every local engine's key.
pub struct KeyHolder {
    node: SigningKey,
    node_id: NodeId,
    engines: BTreeMap<EngineAddr, EngineKey>,
}

impl std::fmt::Debug for KeyHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHolder")
            .field("node", &self.node_id)
            .field("engines", &self.engines.len())
            .finish_non_exhaustive()
    }
}

impl KeyHolder {
    /// A holder for the node whose ed25519 secret seed is `node_seed`.
    pub fn new(node_seed: &[u8; 32]) -> Self {
        let node = SigningKey::from_bytes(node_seed);
        let node_id = NodeId(node.verifying_key().to_bytes());
        Self {
            node,
            node_id,
            engines: BTreeMap::new(),
        }
    }

    /// The node's ID (its public key).
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Signs `msg` with the node key.
    pub fn sign_node(&self, msg: &[u8]) -> [u8; 64] {
        self.node.sign(msg).to_bytes()
    }

    /// Adds an engine key from its secret seed; returns its address.
    pub fn insert(&mut self, seed: &[u8; 32], persistence: Persistence) -> EngineAddr {
        let key = SigningKey::from_bytes(seed);
        let addr = EngineAddr(key.verifying_key().to_bytes());
        self.engines.insert(addr, EngineKey { key, persistence });
        addr
    }

    /// Drops an engine's key; true if it was held.
    pub fn remove(&mut self, addr: EngineAddr) -> bool {
        self.engines.remove(&addr).is_some()
    }

    /// Whether the holder has this engine's key.
    pub fn contains(&self, addr: EngineAddr) -> bool {
        self.engines.contains_key(&addr)
    }

    /// The engine's persistence, if held.
    pub fn persistence(&self, addr: EngineAddr) -> Option<Persistence> {
        self.engines.get(&addr).map(|k| k.persistence)
    }

    /// Signs `msg` with an engine's key, if held.
    pub fn sign_engine(&self, addr: EngineAddr, msg: &[u8]) -> Option<[u8; 64]> {
        self.engines.get(&addr).map(|k| k.key.sign(msg).to_bytes())
    }

    /// Serializes every persistent engine's secret:
    /// `"TAK1" | count u32 | seed [32] * count`.
    pub fn export_persistent(&self) -> Zeroizing<Vec<u8>> {
        let keys: Vec<_> = self
            .engines
            .values()
            .filter(|k| k.persistence == Persistence::Persistent)
            .collect();
        let mut out = Zeroizing::new(Vec::with_capacity(8 + 32 * keys.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            out.extend_from_slice(&Zeroizing::new(k.key.to_bytes())[..]);
        }
        out
    }

    /// Loads keys written by [`Self::export_persistent`] as persistent
    /// engines; returns their addresses.
    ///
    /// # Errors
    /// [`KeyError::Malformed`]; then nothing is loaded.
    pub fn import(&mut self, bytes: &[u8]) -> Result<Vec<EngineAddr>, KeyError> {
        let (magic, rest) = bytes.split_at_checked(4).ok_or(KeyError::Malformed)?;
        let (count, seeds) = rest.split_at_checked(4).ok_or(KeyError::Malformed)?;
        let mut c = [0; 4];
        c.copy_from_slice(count);
        let n = u32::from_le_bytes(c) as usize;
        if magic != MAGIC || seeds.len() != n.saturating_mul(32) {
            return Err(KeyError::Malformed);
        }
        let mut out = Vec::with_capacity(n);
        for chunk in seeds.chunks_exact(32) {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(chunk);
            out.push(self.insert(&seed, Persistence::Persistent));
        }
        Ok(out)
    }
}

/// Whether `sig` is the signature of `msg` by the ed25519 key `public`.
pub fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public)
        .is_ok_and(|vk| vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let mut h = KeyHolder::new(&[1; 32]);
        let a = h.insert(&[2; 32], Persistence::Ephemeral);
        let sig = h.sign_engine(a, b"m").unwrap();
        assert!(verify(&a.0, b"m", &sig));
        assert!(!verify(&a.0, b"n", &sig));
        assert!(!verify(&h.node_id().0, b"m", &sig));
        assert!(verify(&h.node_id().0, b"m", &h.sign_node(b"m")));
        assert!(h.remove(a));
        assert!(h.sign_engine(a, b"m").is_none());
    }

    #[test]
    fn only_persistent_keys_are_exported() {
        let mut h = KeyHolder::new(&[1; 32]);
        let p = h.insert(&[2; 32], Persistence::Persistent);
        let e = h.insert(&[3; 32], Persistence::Ephemeral);
        let file = h.export_persistent();
        let mut again = KeyHolder::new(&[1; 32]);
        assert_eq!(again.import(&file).unwrap(), vec![p]);
        assert!(!again.contains(e));
        assert_eq!(again.persistence(p), Some(Persistence::Persistent));
        assert_eq!(
            again.import(&file[..file.len() - 1]),
            Err(KeyError::Malformed)
        );
        assert_eq!(again.import(b"TAK"), Err(KeyError::Malformed));
    }
}
