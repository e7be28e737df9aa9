//! Nodes for the node's unit tests: one configuration shape, so that each
//! test file says only what differs (identity, network, bootstrap).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Config, Node};
use crate::identity::{NetworkKey, NodeId, NodeKey};
use crate::session::dh::StaticSecrets;
use crate::session::handshake::{
    consume_initiation, consume_response, create_initiation, HandshakeKeys,
};
use crate::session::Session;
use crate::wire::signal::{body_kind, Candidates, Header, NatHint};
use crate::wire::signal_seal::{self, SealKey};
use crate::wire::{handshake_init, handshake_resp};

/// The configuration of a node with the identity and randomness of `seed`,
/// in network `net`, knowing `bootstrap`.
pub(super) fn config(seed: u8, net: u8, bootstrap: Vec<SocketAddr>) -> Config {
    Config {
        node_key: NodeKey::from_seed([seed; 32]),
        network_key: NetworkKey::from_secret([net; 32]),
        ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
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
    session_pair(now).0
}

/// Both ends of a real session between two made-up members: the
/// initiator's, then the responder's (which opens what the first seals).
pub(super) fn session_pair(now: Instant) -> (Box<Session>, Box<Session>) {
    let net = NetworkKey::from_secret([7; 32]);
    let (a, b) = (NodeKey::from_seed([1; 32]), NodeKey::from_seed([2; 32]));
    let (mut ka, mut kb) = (HandshakeKeys::new(&a, &net), HandshakeKeys::new(&b, &net));
    let (st, init) = create_initiation(&mut ka, &b.id(), 1, 1, [1; 32]).unwrap();
    let init = handshake_init::Packet::new_checked(&init[..]).unwrap();
    let ini = consume_initiation(&kb, &init, [2; 32]).unwrap();
    let (responder, resp) = ini.create_response(&mut kb, 2, now).unwrap();
    let resp = handshake_resp::Packet::new_checked(&resp[..]).unwrap();
    let initiator = consume_response(st, &resp, now).unwrap().0;
    (Box::new(initiator), Box::new(responder))
}

/// A candidates signal from `from` to `to` with no candidates, sealed for
/// `to` and signed by `from`: a request to punch, or an answer.
pub(super) fn candidates_signal(
    from: &NodeKey,
    to: NodeId,
    request: bool,
    punch_id: u64,
) -> Vec<u8> {
    let mut body = Vec::new();
    Candidates {
        request,
        fresh: false,
        punch_id,
        nat: NatHint::default(),
        extra_sockets: 0,
        list: Vec::new(),
    }
    .emit(&mut body);
    sealed_signal(from, to, 1, &body)
}

/// A signal from `from` to `to` at `ts` whose body is `plain` sealed for
/// `to` and signed by `from`, as `from`'s node would send it.
pub(super) fn sealed_signal(from: &NodeKey, to: NodeId, ts: u64, plain: &[u8]) -> Vec<u8> {
    let src = from.id();
    let shared = StaticSecrets::new(from.noise_private())
        .with_peer(&to)
        .unwrap()
        .shared;
    let key = SealKey::derive(&shared, src.as_bytes(), to.as_bytes());
    let header = Header {
        hop_limit: 4,
        body_kind: body_kind::SEALED_CANDIDATES,
        src: src.as_bytes(),
        dst: to.as_bytes(),
        timestamp_ms: ts,
    };
    let mut msg = Vec::new();
    signal_seal::emit(
        &header,
        &key,
        [ts as u8; 16],
        plain,
        |m| from.sign(m),
        &mut msg,
    )
    .unwrap();
    msg
}
