//! What the node fuzz targets share: nodes of one test network whose keys
//! are derived once per process, so that each input pays for a fresh node's
//! tables only, not for its scalar multiplications.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use tessel_overlay::identity::{NetworkKey, NodeKey};
use tessel_overlay::node::{Config, Node, NodeKeys};

/// The test network's key.
const NETWORK_SECRET: [u8; 32] = [7; 32];

/// Keys by seed byte, derived on first use.
static KEYS: [OnceLock<(NodeKey, NodeKeys)>; 256] = [const { OnceLock::new() }; 256];

fn keys(seed: u8) -> &'static (NodeKey, NodeKeys) {
    KEYS[usize::from(seed)].get_or_init(|| {
        let node_key = NodeKey::from_seed([seed; 32]);
        let keys = NodeKeys::derive(&node_key, &NetworkKey::from_secret(NETWORK_SECRET));
        (node_key, keys)
    })
}

/// A fresh node of the test network, with the identity and the randomness
/// of `seed`, that knows `bootstrap`; `now` is its time origin.
pub fn node(seed: u8, bootstrap: Vec<SocketAddr>, now: Instant) -> Node {
    let (node_key, derived) = keys(seed);
    let config = Config {
        node_key: node_key.clone(),
        network_key: NetworkKey::from_secret(NETWORK_SECRET),
        ipv4_range: tessel_overlay::identity::address::Ipv4Range::DEFAULT,
        bootstrap,
        known_peers: Vec::new(),
        stun_servers: Vec::new(),
        seed: [seed; 32],
        unix_ms: 1_800_000_000_000,
    };
    Node::with_keys(config, derived.clone(), now)
}
