//! The keys of probe pair tags (`wire/probe.rs`): per member, derived from
//! the X25519 of the two static keys, computed once and kept for the
//! members probed lately.

use crate::identity::{NodeId, NodeKey};
use crate::session::dh;
use crate::session::handshake::HandshakeKeys;
use crate::wire::mac::MacKey;
use zeroize::Zeroizing;

/// Members whose pair keys a node keeps.
const CAPACITY: usize = 64;

/// The two keys of one pair.
#[derive(Clone)]
pub(crate) struct PairKey {
    /// For tags on messages to the member.
    pub(crate) to: MacKey,
    /// For tags on messages from the member.
    pub(crate) from: MacKey,
}

struct Entry {
    peer: NodeId,
    key: PairKey,
    used: u64,
}

/// Pair keys of recent members, at most [`CAPACITY`]; the least recently
/// used gives way.
#[derive(Default)]
pub(crate) struct PairKeys {
    entries: Vec<Entry>,
    clock: u64,
}

impl std::fmt::Debug for PairKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairKeys")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl PairKeys {
    /// The keys of our pair with `peer`, computed on first use; `None` if
    /// `peer` is not a valid key or has low order.
    pub(crate) fn get(
        &mut self,
        own: &NodeKey,
        keys: &HandshakeKeys,
        peer: &NodeId,
    ) -> Option<PairKey> {
        self.clock += 1;
        let clock = self.clock;
        if let Some(e) = self.entries.iter_mut().find(|e| e.peer == *peer) {
            e.used = clock;
            return Some(e.key.clone());
        }
        let public = peer.noise_public()?;
        let shared = Zeroizing::new(dh::x25519(&own.noise_private(), &public));
        if dh::is_zero(&shared) {
            return None;
        }
        let key = PairKey {
            to: keys.mac_to(peer).for_pair(&shared),
            from: keys.mac_to_me().for_pair(&shared),
        };
        let entry = Entry {
            peer: *peer,
            key: key.clone(),
            used: clock,
        };
        if self.entries.len() < CAPACITY {
            self.entries.push(entry);
        } else if let Some(oldest) = self.entries.iter_mut().min_by_key(|e| e.used) {
            *oldest = entry;
        }
        Some(key)
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
        for i in 0..(CAPACITY as u32 + 10) {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[5] = 1;
            cache.get(&a, &ka, &NodeKey::from_seed(seed).id()).unwrap();
        }
        assert_eq!(cache.entries.len(), CAPACITY);
    }
}
