#![no_main]
//! Arbitrary packets from the TUN device into a node.
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tessel_overlay::identity::{NetworkKey, NodeKey};
use tessel_overlay::node::{Config, Node};

fuzz_target!(|data: &[u8]| {
    let config = Config {
        node_key: NodeKey::from_seed([1; 32]),
        network_key: NetworkKey::from_secret([7; 32]),
        bootstrap: Vec::new(),
        known_peers: Vec::new(),
        stun_servers: Vec::new(),
        seed: [1; 32],
        unix_ms: 1_800_000_000_000,
    };
    let mut node = Node::new(config, Instant::now());
    let mut out = vec![0u8; data.len() + 64];
    let _ = node.handle_tun_packet(Instant::now(), data, &mut out);
});
