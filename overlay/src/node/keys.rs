//! What a node derives from its keys when it starts: the handshake keys (its
//! X25519 static key pair, the PSK and the MAC keys) and the STUN
//! credentials of its network.
//!
//! Deriving them costs a scalar multiplication and a few key derivations. A
//! host that starts many nodes with the same keys (a fuzzer making a fresh
//! node for every input, a simulator restarting one) derives them once with
//! [`NodeKeys::derive`] and passes clones to [`super::Node::with_keys`].

use tessel_nat::stun::IntegrityKey;

use crate::identity::{NetworkId, NetworkKey, NodeId, NodeKey};
use crate::session::handshake::HandshakeKeys;

/// A node's derived key material in one network.
#[derive(Clone)]
pub struct NodeKeys {
    pub(super) node: NodeId,
    pub(super) network: NetworkId,
    /// Which key of the network (epoch and order, see `NetworkKey`).
    pub(super) generation: (u32, [u8; 32]),
    pub(super) handshake: HandshakeKeys,
    pub(super) stun: IntegrityKey,
}

impl NodeKeys {
    /// Derives the material of `node_key` in the network of `network_key`.
    pub fn derive(node_key: &NodeKey, network_key: &NetworkKey) -> Self {
        Self {
            node: node_key.id(),
            network: network_key.id(),
            generation: (network_key.epoch(), network_key.order()),
            handshake: HandshakeKeys::new(node_key, network_key),
            stun: IntegrityKey::new(&network_key.stun_secret()),
        }
    }
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("node", &self.node)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::node::{Config, Node};

    fn config(seed: u8) -> Config {
        Config {
            node_key: NodeKey::from_seed([seed; 32]),
            network_key: NetworkKey::from_secret([7; 32]),
            ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
            bootstrap: Vec::new(),
            known_peers: Vec::new(),
            stun_servers: Vec::new(),
            seed: [seed; 32],
            unix_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_node_from_derived_keys_is_the_node_new_makes() {
        let now = Instant::now();
        let c = config(1);
        let keys = NodeKeys::derive(&c.node_key, &c.network_key);
        let mut fresh = Node::new(config(1), now);
        for _ in 0..2 {
            let mut again = Node::with_keys(config(1), keys.clone(), now);
            assert_eq!(again.id(), fresh.id());
            assert_eq!(again.ipv6(), fresh.ipv6());
            assert_eq!(again.ipv4(), fresh.ipv4());
            assert_eq!(again.poll_timeout(), fresh.poll_timeout());
        }
    }

    #[test]
    #[should_panic(expected = "NodeKeys derived from other keys")]
    fn keys_of_another_key_of_the_network_are_refused() {
        let c = config(1);
        let rotated = c.network_key.rotated([8; 32]);
        let keys = NodeKeys::derive(&c.node_key, &rotated);
        let _ = Node::with_keys(config(1), keys, Instant::now());
    }

    #[test]
    #[should_panic(expected = "NodeKeys derived from other keys")]
    fn keys_of_another_node_are_refused() {
        let other = config(2);
        let keys = NodeKeys::derive(&other.node_key, &other.network_key);
        let _ = Node::with_keys(config(1), keys, Instant::now());
    }
}
