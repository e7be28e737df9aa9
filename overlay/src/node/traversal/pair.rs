//! The keys of one pair of members: probe pair tags (`wire/probe.rs`) and
//! sealed signal bodies (`wire/signal_seal.rs`), derived from the X25519 of
//! the two static keys, computed once and kept for the members probed or
//! signalled lately (in a [`StaticSecrets`] cache, as handshakes keep
//! theirs).

use crate::identity::{NodeId, NodeKey};
use crate::session::dh::StaticSecrets;
use crate::session::handshake::HandshakeKeys;
use crate::wire::mac::MacKey;
use crate::wire::signal_seal::SealKey;

/// The two keys of one pair.
#[derive(Clone)]
pub(crate) struct PairKey {
    /// For tags on messages to the member.
    pub(crate) to: MacKey,
    /// For tags on messages from the member.
    pub(crate) from: MacKey,
}

/// The static-static secrets of members probed lately, in a cache of their
/// own (so that probes naming made-up members cannot push out those of
/// handshakes), made on first use.
#[derive(Clone, Default)]
pub(crate) struct PairKeys {
    secrets: Option<StaticSecrets>,
}

impl std::fmt::Debug for PairKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairKeys").finish_non_exhaustive()
    }
}

impl PairKeys {
    /// The keys of our pair with `peer` (its X25519 computed on first use);
    /// `None` if `peer` is not a valid key or has low order.
    pub(crate) fn get(
        &mut self,
        own: &NodeKey,
        keys: &HandshakeKeys,
        peer: &NodeId,
    ) -> Option<PairKey> {
        let secrets = self
            .secrets
            .get_or_insert_with(|| StaticSecrets::new(own.noise_private()));
        let shared = secrets.with_peer(peer)?.shared;
        Some(PairKey {
            to: keys.mac_to(peer).for_pair(&shared),
            from: keys.mac_to_me().for_pair(&shared),
        })
    }

    /// The key of signals from `src` to `dst`, one of which is us (`own`,
    /// whose ID is `own_id`); the X25519 with the other is computed on
    /// first use. `None` if the other is not a valid key or has low order.
    pub(crate) fn seal(
        &mut self,
        own: &NodeKey,
        own_id: &NodeId,
        src: &NodeId,
        dst: &NodeId,
    ) -> Option<SealKey> {
        let peer = if src == own_id { dst } else { src };
        let secrets = self
            .secrets
            .get_or_insert_with(|| StaticSecrets::new(own.noise_private()));
        let shared = secrets.with_peer(peer)?.shared;
        Some(SealKey::derive(&shared, src.as_bytes(), dst.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NetworkKey;

    #[test]
    fn both_ends_derive_the_same_keys_and_a_third_member_others() {
        let net = NetworkKey::from_secret([9; 32]);
        let (a, b, m) = (
            NodeKey::from_seed([1; 32]),
            NodeKey::from_seed([2; 32]),
            NodeKey::from_seed([3; 32]),
        );
        let (ka, kb, km) = (
            HandshakeKeys::new(&a, &net),
            HandshakeKeys::new(&b, &net),
            HandshakeKeys::new(&m, &net),
        );
        let msg = [7u8; 62];
        let a_to_b = PairKeys::default().get(&a, &ka, &b.id()).unwrap();
        let b_from_a = PairKeys::default().get(&b, &kb, &a.id()).unwrap();
        assert_eq!(a_to_b.to.compute(&msg), b_from_a.from.compute(&msg));
        // M, a member too, tries to pass for A toward B.
        let m_to_b = PairKeys::default().get(&m, &km, &b.id()).unwrap();
        assert_ne!(m_to_b.to.compute(&msg), b_from_a.from.compute(&msg));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let net = NetworkKey::from_secret([9; 32]);
        let a = NodeKey::from_seed([1; 32]);
        let ka = HandshakeKeys::new(&a, &net);
        let mut cache = PairKeys::default();
        for i in 0..(crate::session::dh::CAPACITY as u32 + 10) {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[5] = 1;
            cache.get(&a, &ka, &NodeKey::from_seed(seed).id()).unwrap();
        }
        let held = cache.secrets.as_ref().map(StaticSecrets::len);
        assert_eq!(held, Some(crate::session::dh::CAPACITY));
    }
}
