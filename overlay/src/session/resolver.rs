//! A snow crypto resolver whose randomness comes from a seed, so that a node
//! driven with the same seed and inputs makes the same ephemeral keys. Ciphers
//! and hashes come from ring where it has them, else from snow's defaults.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use snow::params::{CipherChoice, DHChoice, HashChoice};
use snow::resolvers::{CryptoResolver, DefaultResolver, FallbackResolver, RingResolver};
use snow::types::{Cipher, Dh, Hash, Random};

/// Ring first, then snow's defaults, with a seeded RNG.
pub(crate) struct SeededResolver {
    seed: [u8; 32],
    inner: FallbackResolver,
}

impl SeededResolver {
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        Self {
            seed,
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
        self.inner.resolve_dh(choice)
    }

    fn resolve_hash(&self, choice: &HashChoice) -> Option<Box<dyn Hash>> {
        self.inner.resolve_hash(choice)
    }

    fn resolve_cipher(&self, choice: &CipherChoice) -> Option<Box<dyn Cipher>> {
        self.inner.resolve_cipher(choice)
    }
}
