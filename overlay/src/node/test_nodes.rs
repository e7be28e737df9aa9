//! Nodes for the node's unit tests: one configuration shape, so that each
//! test file says only what differs (identity, network, bootstrap).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Config, Node};
use crate::identity::{NetworkKey, NodeKey};

/// The configuration of a node with the identity and randomness of `seed`,
/// in network `net`, knowing `bootstrap`.
pub(super) fn config(seed: u8, net: u8, bootstrap: Vec<SocketAddr>) -> Config {
    Config {
        node_key: NodeKey::from_seed([seed; 32]),
        network_key: NetworkKey::from_secret([net; 32]),
        bootstrap,
        known_peers: Vec::new(),
        stun_servers: Vec::new(),
        seed: [seed; 32],
        unix_ms: 1_800_000_000_000,
    }
}

/// A node of network 9 with the identity of `seed`, knowing `bootstrap`;
/// `now` is its time origin.
pub(super) fn node(seed: u8, bootstrap: Vec<SocketAddr>, now: Instant) -> Node {
    Node::new(config(seed, 9, bootstrap), now)
}

/// A node of network 9 that knows nobody.
pub(super) fn lone_node(now: Instant) -> Node {
    node(1, Vec::new(), now)
}
