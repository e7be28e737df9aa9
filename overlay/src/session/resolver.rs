//! A snow crypto resolver whose randomness comes from a seed, so that a node
//! driven with the same seed and inputs makes the same ephemeral keys. Ciphers
//! and hashes come from ring where it has them, else from snow's defaults;
//! X25519 is [`CachedDh`], which reuses what the node knows of static keys.

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver, RingResolver};
use snow::types::{Cipher, Dh, Hash, Random};
use zeroize::Zeroizing;

use super::dh::{CachedDh, Known};

/// Ring first, then snow's defaults, with a seeded RNG and [`CachedDh`].
pub(crate) struct SeededResolver {
    seed: [u8; 32],
    /// Our static key pair (public, private).
    own: ([u8; 32], Zeroizing<[u8; 32]>),
    known: Arc<Known>,
    inner: FallbackResolver,
}

impl SeededResolver {
    /// A resolver for one handshake of the static key `own` (public,
    /// private), whose DH objects know `known`.
    pub(crate) fn new(seed: [u8; 32], own: ([u8; 32], Zeroizing<[u8; 32]>), known: Known) -> Self {
        Self {
            seed,
            own,
            known: Arc::new(known),
            inner: FallbackResolver::new(Box::new(RingResolver), Box::new(DefaultResolver)),
        }
    }
}

struct SeededRng(ChaCha20Rng);

impl Random for SeededRng {
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), snow::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoResolver for SeededResolver {
    fn resolve_rng(&self) -> Option<Box<dyn Random>> {
        Some(Box::new(SeededRng(ChaCha20Rng::from_seed(self.seed))))
    }

    fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
        match choice {
            DHChoice::Curve25519 => Some(Box::new(CachedDh::new(
                self.own.clone(),
                self.known.clone(),
            ))),
            _ => self.inner.resolve_dh(choice),
        }
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        self.inner.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        self.inner.resolve_cipher(choice)
    }
}
