//! What the node fuzz targets share: nodes of one test network, set up once
//! per process and cloned for every input, so that an input pays for a
//! copy of the nodes' tables only, not for key derivation or handshakes.
//!
//! Every input starts from the same nodes at the same instant, so a crash
//! replays exactly.

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tessel_overlay::identity::{NetworkKey, NodeKey};
use tessel_overlay::node::{Config, Node, NodeKeys};

/// The test network's key.
const NETWORK_SECRET: [u8; 32] = [7; 32];
/// Node A's address; B knows it as its bootstrap.
pub const A_ADDR: &str = "192.0.2.1:9740";
/// Node B's address.
pub const B_ADDR: &str = "192.0.2.2:9740";

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

/// Two nodes and the instant their story begins: A (seed 1) at
/// [`A_ADDR`] and B (seed 2) at [`B_ADDR`], B bootstrapped from A.
#[derive(Clone)]
pub struct Pair {
    /// Node A.
    pub a: Node,
    /// Node B.
    pub b: Node,
    /// Their time origin; inputs take their time from here.
    pub start: Instant,
}

/// The templates, made once per fuzzing thread.
struct Templates {
    fresh: Pair,
    established: Pair,
}

thread_local! {
    static TEMPLATES: OnceCell<Templates> = const { OnceCell::new() };
}

fn make_templates() -> Templates {
    let start = Instant::now();
    let a_addr: SocketAddr = A_ADDR.parse().expect("address");
    let b_addr: SocketAddr = B_ADDR.parse().expect("address");
    let fresh = Pair {
        a: node(1, vec![], start),
        b: node(2, vec![a_addr], start),
        start,
    };
    let mut established = fresh.clone();
    let (a, b) = (&mut established.a, &mut established.b);
    let mut out = vec![0u8; 65_600];
    // A few rounds of the real exchange: hello, handshake, first data.
    for round in 0..6u32 {
        let t = start + Duration::from_millis(u64::from(round) * 10);
        b.handle_timeout(t);
        a.handle_timeout(t);
        while let Some(tx) = b.poll_transmit() {
            let _ = a.handle_datagram(t, b_addr, &tx.payload, &mut out);
        }
        while let Some(tx) = a.poll_transmit() {
            let _ = b.handle_datagram(t, a_addr, &tx.payload, &mut out);
        }
    }
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    let t = start + Duration::from_millis(60);
    for (node, other) in [(&*a, b.id()), (&*b, a.id())] {
        let status = node.status(t);
        assert!(
            status
                .peers
                .iter()
                .any(|p| p.node_id == other.to_string() && p.connected),
            "the template pair has no session"
        );
    }
    Templates { fresh, established }
}

/// A copy of node A before it met anyone, and its time origin.
pub fn fresh_node() -> (Node, Instant) {
    TEMPLATES.with(|t| {
        let fresh = &t.get_or_init(make_templates).fresh;
        (fresh.a.clone(), fresh.start)
    })
}

/// A copy of node A after its handshake with B (it has a live session with
/// B at [`B_ADDR`]), and the pair's time origin.
pub fn established_node() -> (Node, Instant) {
    TEMPLATES.with(|t| {
        let established = &t.get_or_init(make_templates).established;
        (established.a.clone(), established.start)
    })
}

/// Runs `f` with this thread's output buffer (64 KiB and a little), which
/// every input reuses instead of allocating its own.
pub fn with_out<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static OUT: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 65_600]);
    }
    OUT.with(|out| f(&mut out.borrow_mut()))
}

/// A copy of the pair before anything happened between them.
pub fn fresh_pair() -> Pair {
    TEMPLATES.with(|t| t.get_or_init(make_templates).fresh.clone())
}

/// A copy of the pair after their handshake: each has a live session with
/// the other.
pub fn established_pair() -> Pair {
    TEMPLATES.with(|t| t.get_or_init(make_templates).established.clone())
}
