//! Nodes for the node's unit tests: one configuration shape, so that each
//! test file says only what differs (identity, network, bootstrap).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Config, Node};
use crate::identity::{NetworkKey, NodeId, NodeKey};
use crate::session::handshake::{
    consume_initiation, consume_response, create_initiation, HandshakeKeys,
};
use crate::session::Session;
use crate::wire::signal::{self, body_kind, Candidates, Header, NatHint};
use crate::wire::{handshake_init, handshake_resp};

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

/// A real session (between two made-up members), for tables that treat a
/// member with one differently.
pub(super) fn session(now: Instant) -> Box<Session> {
    let net = NetworkKey::from_secret([7; 32]);
    let (a, b) = (NodeKey::from_seed([1; 32]), NodeKey::from_seed([2; 32]));
    let (mut ka, mut kb) = (HandshakeKeys::new(&a, &net), HandshakeKeys::new(&b, &net));
    let (st, init) = create_initiation(&mut ka, &b.id(), 1, 1, [1; 32]).unwrap();
    let init = handshake_init::Packet::new_checked(&init[..]).unwrap();
    let ini = consume_initiation(&kb, &init, [2; 32]).unwrap();
    let (_, resp) = ini.create_response(&mut kb, 2, now).unwrap();
    let resp = handshake_resp::Packet::new_checked(&resp[..]).unwrap();
    Box::new(consume_response(st, &resp, now).unwrap().0)
}

/// A candidates signal from `from` to `to` with no candidates, signed by
/// `from`: a request to punch, or an answer.
pub(super) fn candidates_signal(
    from: &NodeKey,
    to: NodeId,
    request: bool,
    punch_id: u64,
) -> Vec<u8> {
    let body = Candidates {
        request,
        punch_id,
        nat: NatHint::default(),
        aux_sockets: 0,
        list: Vec::new(),
    }
    .emit();
    let (src, dst) = (from.id(), to);
    let header = Header {
        hop_limit: 4,
        body_kind: body_kind::CANDIDATES,
        src: src.as_bytes(),
        dst: dst.as_bytes(),
        timestamp_ms: 1,
    };
    signal::emit(&header, &body, |m| from.sign(m)).unwrap()
}
