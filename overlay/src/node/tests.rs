//! Node tests in virtual time: nodes wired through an in-memory network with
//! latency, loss and duplication under the test's control.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

#[path = "tests_cookies.rs"]
mod cookies;
#[path = "tests_handover.rs"]
mod handover;
#[path = "tests_managed.rs"]
mod managed;
#[path = "tests_owner.rs"]
mod owner;
#[path = "tests_revocation_parts.rs"]
mod revocation_parts;
#[path = "tests_timers.rs"]
mod timers;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::test_nodes::config;
use super::*;
use crate::identity::{NetworkKey, NodeKey};
use crate::wire::MessageType;

/// A datagram in flight.
struct Flight {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// Decides the fate of each datagram: how many copies arrive (0 = lost).
type Filter = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) -> usize>;

struct Net {
    now: Instant,
    nodes: Vec<(SocketAddr, Node)>,
    flights: Vec<Flight>,
    delivered: Vec<VecDeque<Vec<u8>>>,
    latency: Duration,
    filter: Filter,
    /// Every datagram sent, for inspection.
    log: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Every event of each node, for inspection.
    events: Vec<Vec<Event>>,
    /// Keeps one node under load: before each datagram from elsewhere, it
    /// gets two of these from the flooder's address.
    pressure: Option<Pressure>,
}

/// A flood that keeps a node under load, whatever the timing.
struct Pressure {
    node: usize,
    from: SocketAddr,
    make: Box<dyn FnMut() -> Vec<u8>>,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i as u8 + 1)), 9740)
}

impl Net {
    fn new() -> Self {
        Self {
            now: Instant::now(),
            nodes: Vec::new(),
            flights: Vec::new(),
            delivered: Vec::new(),
            latency: Duration::from_millis(10),
            filter: Box::new(|_, _, _| 1),
            log: Vec::new(),
            events: Vec::new(),
            pressure: None,
        }
    }

    fn add(&mut self, cfg: Config) -> usize {
        let i = self.nodes.len();
        self.nodes.push((addr(i), Node::new(cfg, self.now)));
        self.delivered.push(VecDeque::new());
        self.events.push(Vec::new());
        i
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        self.log.push((from, to, bytes.clone()));
        let copies = (self.filter)(from, to, &bytes);
        for _ in 0..copies {
            self.flights.push(Flight {
                at: self.now + self.latency,
                from,
                to,
                bytes: bytes.clone(),
            });
        }
    }

    fn drain(&mut self, i: usize) {
        let from = self.nodes[i].0;
        // Only the main socket: these nodes open no extra sockets.
        while let Some(t) = self.nodes[i].1.poll_transmit() {
            if t.from_main() {
                self.send(from, t.to, t.payload);
            }
        }
        while let Some(e) = self.nodes[i].1.poll_event() {
            self.events[i].push(e);
        }
    }

    /// Runs until `deadline`, always processing the earliest event.
    fn run_until(&mut self, deadline: Instant) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
        while self.step(deadline) {}
        self.now = self.now.max(deadline);
    }

    /// Processes the earliest event (a datagram's arrival, or the wakeup of
    /// the nodes whose `poll_timeout` came), if it is due by `deadline`;
    /// returns whether there was one.
    fn step(&mut self, deadline: Instant) -> bool {
        let next_flight = self.flights.iter().map(|f| f.at).min();
        let next_timer = self
            .nodes
            .iter_mut()
            .filter_map(|(_, n)| n.poll_timeout())
            .min();
        let Some(t) = [next_flight, next_timer].into_iter().flatten().min() else {
            return false;
        };
        if t > deadline {
            return false;
        }
        self.now = self.now.max(t);
        if next_flight == Some(t) {
            let k = self.flights.iter().position(|f| f.at == t).unwrap();
            let f = self.flights.remove(k);
            self.deliver(f.from, f.to, &f.bytes);
        } else {
            for i in 0..self.nodes.len() {
                if self.nodes[i]
                    .1
                    .poll_timeout()
                    .is_some_and(|w| w <= self.now)
                {
                    let now = self.now;
                    self.nodes[i].1.handle_timeout(now);
                    self.drain(i);
                }
            }
        }
        true
    }

    fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline);
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: &[u8]) {
        let Some(i) = self.nodes.iter().position(|(a, _)| *a == to) else {
            return;
        };
        let mut out = vec![0u8; bytes.len() + 64];
        let now = self.now;
        if let Some(p) = self
            .pressure
            .as_mut()
            .filter(|p| p.node == i && p.from != from)
        {
            for _ in 0..2 {
                let junk = (p.make)();
                let mut sink = vec![0u8; junk.len() + 64];
                self.nodes[i]
                    .1
                    .handle_datagram(now, p.from, &junk, &mut sink);
            }
        }
        match self.nodes[i].1.handle_datagram(now, from, bytes, &mut out) {
            Action::Send { to: dst, len } => self.send(to, dst, out[..len].to_vec()),
            Action::Deliver { range } => self.delivered[i].push_back(out[range].to_vec()),
            // This harness has no extra sockets (and no NATs to punch).
            Action::SendExtra { .. } | Action::None => {}
        }
        self.drain(i);
    }

    /// Node `i`'s TUN hands the node `packet`.
    fn tun(&mut self, i: usize, packet: &[u8]) -> Action {
        let mut out = vec![0u8; packet.len() + 64];
        let now = self.now;
        let from = self.nodes[i].0;
        let action = self.nodes[i].1.handle_tun_packet(now, packet, &mut out);
        if let Action::Send { to, len } = action {
            self.send(from, to, out[..len].to_vec());
        }
        self.drain(i);
        action
    }

    fn node(&self, i: usize) -> &Node {
        &self.nodes[i].1
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        let bid = self.node(b).id();
        self.node(a).is_connected(&bid, self.now)
    }
}

fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = 59; // no next header
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 253; // experimental
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// Sends one IPv6 packet from `a` to `b` and returns whether `b` delivered it.
fn ping(net: &mut Net, a: usize, b: usize, payload: &[u8]) -> bool {
    let pkt = ipv6_packet(net.node(a).ipv6(), net.node(b).ipv6(), payload);
    net.delivered[b].clear();
    net.tun(a, &pkt);
    net.run_for(Duration::from_secs(1));
    net.delivered[b].iter().any(|p| *p == pkt)
}

/// The last data message carrying a payload that `from` sent.
fn last_data_from(net: &Net, from: SocketAddr) -> (SocketAddr, SocketAddr, Vec<u8>) {
    net.log
        .iter()
        .rev()
        .find(|(f, _, b)| *f == from && b[0] == MessageType::Data as u8 && b.len() > 32)
        .cloned()
        .expect("a data message")
}

fn two_nodes() -> Net {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net
}

#[test]
fn bootstrap_handshake_and_data_both_ways() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    assert!(net.connected(0, 1) && net.connected(1, 0));
    assert!(ping(&mut net, 0, 1, b"hello"));
    assert!(ping(&mut net, 1, 0, b"world"));
    // IPv4 too.
    let pkt = ipv4_packet(net.node(1).ipv4(), net.node(0).ipv4(), b"v4");
    net.tun(1, &pkt);
    net.run_for(Duration::from_secs(1));
    assert!(net.delivered[0].contains(&pkt));
    assert_eq!(net.node(0).drops().total(), 0);
}

#[test]
fn metrics_count_sessions_paths_packets_and_handshakes() {
    let mut net = two_nodes();
    let before = net.node(0).metrics(net.now);
    assert_eq!((before.sessions, before.traffic.packets_sent), (0, 0));
    net.run_for(Duration::from_secs(1));
    assert!(ping(&mut net, 0, 1, b"hello"));
    assert!(ping(&mut net, 0, 1, b"again"));
    let a = net.node(0).metrics(net.now);
    let b = net.node(1).metrics(net.now);
    assert_eq!((a.sessions, a.members), (1, 1));
    assert_eq!(
        a.paths,
        PathCounts {
            direct: 1,
            relayed: 0,
            tcp: 0
        }
    );
    assert_eq!(a.traffic.packets_sent, 2);
    assert_eq!(b.traffic.packets_received, 2);
    let one = ipv6_packet(net.node(0).ipv6(), net.node(1).ipv6(), b"hello").len() as u64;
    assert_eq!(b.traffic.packet_bytes_received, 2 * one);
    // Each side's datagram bytes are the sum of what status shows per member.
    let status = net.node(0).status(net.now);
    let tx: u64 = status.peers.iter().map(|p| p.tx_bytes).sum();
    let rx: u64 = status.peers.iter().map(|p| p.rx_bytes).sum();
    assert_eq!(
        (
            a.traffic.datagram_bytes_sent,
            a.traffic.datagram_bytes_received
        ),
        (tx, rx)
    );
    assert!(a.traffic.datagrams_sent >= 2 && b.traffic.datagrams_received >= 2);
    // B initiated (it knew A's address); both installed the session.
    assert!(b.traffic.handshakes_initiated >= 1);
    assert_eq!(a.traffic.handshakes_completed, 1);
    assert_eq!(b.traffic.handshakes_completed, 1);
    assert_eq!(a.drops.total(), 0);
}

#[test]
fn first_packet_is_queued_and_delivered_after_the_handshake() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let b = config(2, 9, vec![]);
    let a_id = net.node(0).id();
    let b_with_known = Config {
        known_peers: vec![(a_id, addr(0))],
        ..b
    };
    net.add(b_with_known);
    // Before any handshake, B's first packet must survive.
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(0).ipv6(), b"first");
    assert_eq!(net.tun(1, &pkt), Action::None);
    net.run_for(Duration::from_secs(1));
    assert!(net.delivered[0].contains(&pkt));
}

#[test]
fn members_learn_each_other_through_gossip() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.add(config(3, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(3));
    for (a, b) in [(0, 1), (0, 2), (1, 2), (2, 1)] {
        assert!(net.connected(a, b), "{a} -> {b}");
    }
    assert!(ping(&mut net, 1, 2, b"via gossip"));
    assert!(ping(&mut net, 2, 1, b"back"));
}

#[test]
fn outsider_gets_no_answer_and_leaves_no_state() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(5, 8, vec![addr(0)])); // another network
    net.run_for(Duration::from_secs(30));
    assert!(!net.connected(1, 0));
    let a = net.node(0);
    assert!(a.drops().get(DropReason::BadMac) > 0);
    assert_eq!(a.status(net.now).peers.len(), 0);
    assert!(
        !net.log.iter().any(|(from, _, _)| *from == addr(0)),
        "member must send nothing"
    );
}

#[test]
fn outsider_with_a_known_key_still_cannot_handshake() {
    // Even knowing a member's node ID, a node without the network key fails.
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let a_id = net.node(0).id();
    net.add(Config {
        known_peers: vec![(a_id, addr(0))],
        ..config(5, 8, vec![])
    });
    net.run_for(Duration::from_secs(30));
    assert!(!net.connected(1, 0));
    assert!(net.node(0).drops().get(DropReason::BadMac) > 0);
    assert!(!net.log.iter().any(|(from, _, _)| *from == addr(0)));
}

#[test]
fn replayed_data_is_dropped() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    assert!(ping(&mut net, 0, 1, b"once"));
    let (from, to, bytes) = last_data_from(&net, addr(0));
    net.delivered[1].clear();
    net.deliver(from, to, &bytes);
    assert!(net.delivered[1].is_empty());
    assert_eq!(net.node(1).drops().get(DropReason::Replay), 1);
}

#[test]
fn tampered_data_is_dropped() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    assert!(ping(&mut net, 0, 1, b"x"));
    let (from, to, mut bytes) = last_data_from(&net, addr(0));
    let last = bytes.len() - 20;
    bytes[last] ^= 0x40;
    bytes[8] = bytes[8].wrapping_add(100); // fresh counter, so not a replay
    net.deliver(from, to, &bytes);
    assert_eq!(net.node(1).drops().get(DropReason::DecryptFailed), 1);
}

/// B knows A from its peer cache and has a packet waiting.
fn b_with_a_packet_waiting(net: &mut Net) -> Vec<u8> {
    net.add(config(1, 9, vec![]));
    let a_id = net.node(0).id();
    net.add(Config {
        known_peers: vec![(a_id, addr(0))],
        ..config(2, 9, vec![])
    });
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(0).ipv6(), b"waiting");
    net.tun(1, &pkt);
    pkt
}

#[test]
fn lost_handshake_packets_are_retransmitted_while_traffic_waits() {
    let mut net = Net::new();
    let mut lost = 0;
    net.filter = Box::new(move |_, _, b| {
        let hs =
            b[0] == MessageType::HandshakeInit as u8 || b[0] == MessageType::HandshakeResp as u8;
        if hs && lost < 3 {
            lost += 1;
            0
        } else {
            1
        }
    });
    let pkt = b_with_a_packet_waiting(&mut net);
    net.run_for(Duration::from_secs(4));
    assert!(!net.connected(1, 0));
    // Three losses while the app keeps sending, a retry every 5 s (+
    // jitter): through by 20 s.
    for _ in 0..16 {
        net.tun(1, &pkt);
        net.run_for(Duration::from_secs(1));
    }
    assert!(net.connected(1, 0) && net.connected(0, 1));
    assert!(net.delivered[0].contains(&pkt));
}

/// Initiations to a member that is gone back off (5, 10, 20, 40 s) until
/// the attempt times out, whether or not a packet waits; packets that keep
/// coming bring the 5 s cadence back.
#[test]
fn handshakes_nothing_waits_for_back_off() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let a_id = net.node(0).id();
    net.add(Config {
        known_peers: vec![(a_id, addr(0))],
        ..config(2, 9, vec![])
    });
    net.filter = Box::new(|_, to, _| usize::from(to != addr(0)));
    let inits = |net: &Net| {
        net.log
            .iter()
            .filter(|(f, _, b)| *f == addr(1) && b[0] == MessageType::HandshakeInit as u8)
            .count()
    };
    net.run_for(Duration::from_secs(100));
    // At 0, 1, 6, 16, 36 and 76 s, then the round gives up at 90 s.
    assert_eq!(inits(&net), 6);
    // A packet for it starts a new round; left waiting alone, it earns
    // the same backoff: at 0, 1, 6 and 16 s.
    let before = inits(&net);
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(0).ipv6(), b"hello?");
    net.tun(1, &pkt);
    net.run_for(Duration::from_secs(31));
    assert_eq!(inits(&net) - before, 4);
    // Traffic that keeps coming brings the 5 s cadence back.
    net.run_for(Duration::from_secs(60));
    let before = inits(&net);
    for _ in 0..31 {
        net.tun(1, &pkt);
        net.run_for(Duration::from_secs(1));
    }
    assert!(
        inits(&net) - before >= 6,
        "{} initiations in 31 s",
        inits(&net) - before
    );
}

#[test]
fn duplicated_handshake_packets_are_harmless() {
    let mut net = two_nodes();
    net.filter = Box::new(|_, _, b| {
        if b[0] == MessageType::HandshakeInit as u8 || b[0] == MessageType::HandshakeResp as u8 {
            2
        } else {
            1
        }
    });
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(0, 1) && net.connected(1, 0));
    let a = net.node(0).drops();
    let b = net.node(1).drops();
    assert!(a.get(DropReason::ReplayedInitiation) >= 1);
    assert!(b.get(DropReason::UnexpectedResponse) >= 1);
    assert!(ping(&mut net, 0, 1, b"dup"));
    assert!(ping(&mut net, 1, 0, b"dup"));
}

/// A captured initiation replayed after its responder forgot the initiator
/// (so no timestamp of it is left to compare with) is still refused, before
/// any Diffie-Hellman, and makes no session and no answer.
#[test]
fn a_replayed_initiation_is_dropped_even_after_its_peer_was_forgotten() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(0, 1));
    let (a, b) = (net.nodes[0].0, net.nodes[1].0);
    let captured = net
        .log
        .iter()
        .find(|(from, to, bytes)| {
            *from == b && *to == a && bytes[0] == MessageType::HandshakeInit as u8
        })
        .or_else(|| {
            net.log.iter().find(|(from, to, bytes)| {
                *from == a && *to == b && bytes[0] == MessageType::HandshakeInit as u8
            })
        })
        .cloned()
        .expect("an initiation was sent");
    let (from, to, bytes) = captured;
    let responder = usize::from(to == b);
    let initiator = net.nodes[1 - responder].1.id();
    net.nodes[responder].1.remove_peer(&initiator);
    let before = net
        .node(responder)
        .drops()
        .get(DropReason::ReplayedInitiation);
    let sent_before = net.log.len();
    for _ in 0..3 {
        net.deliver(from, to, &bytes);
    }
    assert_eq!(
        net.node(responder)
            .drops()
            .get(DropReason::ReplayedInitiation)
            - before,
        3
    );
    assert!(!net.node(responder).peers.contains_key(&initiator));
    assert!(net.log[sent_before..].iter().all(|(f, _, _)| *f != to));
}

/// A response that a member forged (MAC'd, but not the responder's Noise
/// message) is dropped without spending the initiation it claims to answer:
/// the real response, arriving after it, still completes the handshake.
#[test]
fn a_forged_response_does_not_spend_the_pending_handshake() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut net = two_nodes();
    type Held = Vec<(SocketAddr, SocketAddr, Vec<u8>)>;
    let held: Rc<RefCell<Held>> = Rc::default();
    let hold = held.clone();
    net.filter = Box::new(move |from, to, b| {
        if b[0] == MessageType::HandshakeResp as u8 {
            hold.borrow_mut().push((from, to, b.to_vec()));
            0
        } else {
            1
        }
    });
    net.run_for(Duration::from_millis(100));
    let (from, to, real) = held.borrow().first().cloned().expect("a response was sent");
    net.filter = Box::new(|_, _, _| 1);
    let initiator = usize::from(to == net.nodes[1].0);
    let responder = 1 - initiator;
    assert!(!net.connected(initiator, responder));
    // The responder's MAC on a changed Noise message.
    let mut forged = real.clone();
    forged[20] ^= 0x40;
    let initiator_id = net.node(initiator).id();
    net.node(responder)
        .keys
        .mac_to(&initiator_id)
        .seal(&mut forged);
    let failed = net.node(initiator).drops().get(DropReason::HandshakeFailed);
    net.deliver(from, to, &forged);
    assert_eq!(
        net.node(initiator).drops().get(DropReason::HandshakeFailed),
        failed + 1
    );
    net.deliver(from, to, &real);
    assert!(net.connected(initiator, responder));
}

/// A flood of fresh initiations from made-up identities, all from one
/// address: past the load threshold only that source's small share reaches
/// a Diffie-Hellman, and an established member goes on as before.
#[test]
fn a_flood_of_fresh_initiations_from_one_source_is_limited() {
    use crate::session::handshake::{create_initiation, HandshakeKeys};
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(1, 0));
    let target = net.node(0).id();
    let network = NetworkKey::from_secret([9; 32]);
    let flooder: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    let (n, step) = (2000u32, Duration::from_micros(500));
    let before = net.node(0).handshake_stats().initiations_computed;
    for i in 0..n {
        let mut seed = [0x80; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        let mut keys = HandshakeKeys::new(&NodeKey::from_seed(seed), &network);
        let (_, init) = create_initiation(&mut keys, &target, i, 1, seed).unwrap();
        net.deliver(flooder, net.nodes[0].0, &init);
        net.now += step;
    }
    let admitted = net.node(0).handshake_stats().initiations_computed - before;
    assert!(
        admitted
            <= u64::from(
                2 * initiation_limit::LOAD + initiation_limit::BURST + initiation_limit::RATE
            ),
        "{admitted} of {n} reached a Diffie-Hellman"
    );
    assert!(ping(&mut net, 1, 0, b"still here"));
}

/// The last initiation timestamps survive a restart (the driver keeps them
/// in the state dir): a node restarted with them refuses an initiation
/// captured before; restarted without them, it would answer it.
#[test]
fn initiation_timestamps_kept_across_a_restart_refuse_old_initiations() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    let (a, b) = (net.nodes[0].0, net.nodes[1].0);
    let captured = net
        .log
        .iter()
        .find(|(from, to, bytes)| {
            *from == b && *to == a && bytes[0] == MessageType::HandshakeInit as u8
        })
        .map(|(_, _, bytes)| bytes.clone())
        .expect("B initiated to A");
    let kept = net.node(0).initiation_timestamps();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, net.node(1).id());
    for restore in [true, false] {
        net.nodes[0].1 = Node::new(config(1, 9, vec![]), net.now);
        if restore {
            net.nodes[0].1.restore_initiation_timestamps(kept.clone());
        }
        let sent_before = net.log.len();
        net.deliver(b, a, &captured);
        let answered = net.log[sent_before..].iter().any(|(f, _, _)| *f == a);
        let refused = net.node(0).drops().get(DropReason::ReplayedInitiation);
        assert_eq!((answered, refused), (!restore, u64::from(restore)));
    }
}

#[test]
fn sessions_rekey_and_traffic_continues() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    let first = net.node(1).status(net.now).peers[0].last_handshake_unix_ms;
    for _ in 0..50 {
        assert!(ping(&mut net, 1, 0, b"steady"));
        net.run_for(Duration::from_secs(9));
    }
    // 500 s: several rekeys (every 120 s), never an interruption.
    let last = net.node(1).status(net.now).peers[0].last_handshake_unix_ms;
    assert!(
        last.unwrap() >= first.unwrap() + 360_000,
        "{first:?} {last:?}"
    );
    assert_eq!(net.node(0).drops().total(), 0);
}

#[test]
fn sessions_rekey_on_message_count_and_never_exceed_the_limit() {
    use crate::limits::{REJECT_AFTER_MESSAGES, REKEY_AFTER_MESSAGES};
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    // The responder side (node 0) nears the rekey limit: its next packet
    // still goes out, and a handshake starts.
    let b_id = net.node(1).id();
    let set = |net: &mut Net, n| {
        let peer = net.nodes[0].1.peers.get_mut(&b_id).unwrap();
        peer.current.as_mut().unwrap().set_sent(n);
    };
    set(&mut net, REKEY_AFTER_MESSAGES);
    let before = net.log.len();
    assert!(ping(&mut net, 0, 1, b"at the rekey limit"));
    let inits = |net: &Net, since| {
        net.log[since..]
            .iter()
            .filter(|(f, _, b)| *f == addr(0) && b[0] == MessageType::HandshakeInit as u8)
            .count()
    };
    assert_eq!(inits(&net, before), 1);
    // At the hard limit, nothing is sent on the old session: the packet waits
    // for the new one.
    net.run_for(Duration::from_secs(1));
    set(&mut net, REJECT_AFTER_MESSAGES);
    let pkt = ipv6_packet(net.node(0).ipv6(), net.node(1).ipv6(), b"beyond");
    net.delivered[1].clear();
    assert_eq!(net.tun(0, &pkt), Action::None);
    net.run_for(Duration::from_secs(1));
    assert!(net.delivered[1].contains(&pkt));
}

/// What a TUN super-packet becomes: a run of segments handled at one
/// instant, one after another. When the session reaches its rekey point in
/// the middle of the run, the handshake starts, the rest of the run still
/// leaves on the old session, and the other side (taking the run at one
/// instant too, as a GRO receive does) delivers every segment, in order.
#[test]
fn a_batch_of_segments_spanning_a_rekey_arrives_whole_and_in_order() {
    use crate::limits::REKEY_AFTER_MESSAGES;
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    assert!(ping(&mut net, 1, 0, b"up"));
    let a_id = net.node(0).id();
    let peer = net.nodes[1].1.peers.get_mut(&a_id).unwrap();
    peer.current
        .as_mut()
        .unwrap()
        .set_sent(REKEY_AFTER_MESSAGES - 20);
    let (src, dst) = (net.node(1).ipv6(), net.node(0).ipv6());
    let run: Vec<Vec<u8>> = (0..45u8)
        .map(|i| ipv6_packet(src, dst, &[i; 1200]))
        .collect();
    net.delivered[0].clear();
    let before = net.log.len();
    for packet in &run {
        assert!(matches!(net.tun(1, packet), Action::Send { .. }));
    }
    let inits = net.log[before..]
        .iter()
        .filter(|(_, _, b)| b[0] == MessageType::HandshakeInit as u8)
        .count();
    assert_eq!(inits, 1, "one handshake starts in the middle of the run");
    net.run_for(Duration::from_secs(1));
    let got: Vec<Vec<u8>> = net.delivered[0].drain(..).collect();
    assert_eq!(got, run, "every segment, in order");
    assert_eq!(net.node(0).drops().total(), 0);
    // And the run after it goes on the new session.
    assert!(ping(&mut net, 1, 0, b"after"));
}

#[test]
fn idle_sessions_send_keepalives_and_stay_up() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    let before = net.log.len();
    net.run_for(Duration::from_secs(100));
    // Node 1 chose node 0 as a neighbour (its bootstrap member), so it keeps
    // the session and the NAT mappings on the way alive: a message at least
    // every 25 s (gossip, which takes the place of a bare keepalive).
    let messages = net.log[before..]
        .iter()
        .filter(|(f, _, b)| *f == addr(1) && b[0] == MessageType::Data as u8)
        .count();
    assert!(messages >= 4, "messages in 100 s: {messages}");
    assert!(net.connected(0, 1) && net.connected(1, 0));
    assert!(ping(&mut net, 0, 1, b"still up"));
}

#[test]
fn roaming_peer_keeps_its_session() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    // B moves to a new address; its next authenticated packet updates A.
    let new_addr: SocketAddr = "203.0.113.7:5555".parse().unwrap();
    net.nodes[1].0 = new_addr;
    assert!(ping(&mut net, 1, 0, b"from the new address"));
    let a_status = net.node(0).status(net.now);
    assert_eq!(
        a_status.peers[0].endpoint.as_deref(),
        Some("203.0.113.7:5555")
    );
    assert!(ping(&mut net, 0, 1, b"reply reaches the new address"));
}

#[test]
fn spoofed_inner_source_is_dropped() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.add(config(3, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(3));
    // Node 2 (a member) sends a packet claiming node 1's address.
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(0).ipv6(), b"spoof");
    let a_id = net.node(0).id();
    let now = net.now;
    assert!(net.nodes[2].1.send_encrypted(now, a_id, &pkt));
    net.drain(2);
    net.run_for(Duration::from_secs(1));
    assert!(!net.delivered[0].contains(&pkt));
    assert_eq!(net.node(0).drops().get(DropReason::SourceMismatch), 1);
}

#[test]
fn restarted_node_restores_its_sessions() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.add(config(3, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(3));
    let cache = net.node(1).known_members();
    // Node 1 restarts: same key, fresh state, its peer cache and bootstrap.
    net.run_for(Duration::from_secs(60));
    let restarted = Config {
        known_peers: cache,
        unix_ms: 1_800_000_100_000,
        ..config(2, 9, vec![addr(0)])
    };
    let now = net.now;
    net.nodes[1].1 = Node::new(restarted, now);
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(1, 0) && net.connected(1, 2));
    assert!(ping(&mut net, 2, 1, b"welcome back"));
    assert!(ping(&mut net, 1, 0, b"hi"));
}

#[test]
fn dead_peer_is_retried_and_returns() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    // Cut the link both ways for five minutes.
    let cut = std::rc::Rc::new(std::cell::Cell::new(true));
    let c = cut.clone();
    net.filter = Box::new(move |_, _, _| usize::from(!c.get()));
    net.run_for(Duration::from_secs(300));
    assert!(!net.connected(0, 1));
    cut.set(false);
    net.run_for(Duration::from_secs(40));
    assert!(net.connected(0, 1) || net.connected(1, 0));
    assert!(ping(&mut net, 1, 0, b"healed"));
}

#[test]
fn same_seed_same_run() {
    let run = || {
        let mut net = Net::new();
        net.add(config(1, 9, vec![]));
        net.add(config(2, 9, vec![addr(0)]));
        net.add(config(3, 9, vec![addr(0)]));
        net.run_for(Duration::from_secs(60));
        net.log
            .iter()
            .map(|(f, t, b)| (*f, *t, b.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn random_datagrams_never_panic_or_allocate_state(
            datagrams in proptest::collection::vec(
                (0u8..8, proptest::collection::vec(any::<u8>(), 0..300)), 1..16),
        ) {
            let mut net = two_nodes();
            net.run_for(Duration::from_secs(1));
            let before = net.node(0).status(net.now).peers.len();
            let from: SocketAddr = "192.0.2.99:1".parse().unwrap();
            for (first, body) in datagrams {
                let mut d = vec![first];
                d.extend_from_slice(&body);
                let mut out = vec![0u8; d.len() + 64];
                let now = net.now;
                let action = net.nodes[0].1.handle_datagram(now, from, &d, &mut out);
                prop_assert_eq!(action, Action::None);
                prop_assert!(net.nodes[0].1.poll_transmit().is_none());
            }
            prop_assert_eq!(net.node(0).status(net.now).peers.len(), before);
        }

        #[test]
        fn random_tun_packets_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut net = two_nodes();
            let mut out = vec![0u8; body.len() + 64];
            let now = net.now;
            let _ = net.nodes[0].1.handle_tun_packet(now, &body, &mut out);
        }
    }
}

/// Two members whose first IPv4 candidates collide meet in their first
/// minute (both addresses provisional): both sides resolve it the same way
/// (the lower node ID keeps the address), the other node moves its own
/// address, and IPv4 traffic flows both ways without misrouting.
#[test]
fn ipv4_collision_is_resolved_the_same_way_on_both_sides() {
    use crate::identity::address::{ipv4_candidate, Ipv4Range};
    let network = NetworkKey::from_secret([9; 32]).id();
    let seed_of = |i: u32| {
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(&i.to_le_bytes());
        s[31] = 0x77;
        s
    };
    let mut seen = std::collections::HashMap::new();
    let (s1, s2) = (0u32..)
        .find_map(|i| {
            let id = NodeKey::from_seed(seed_of(i)).id();
            seen.insert(ipv4_candidate(&Ipv4Range::DEFAULT, &network, &id, 0), i)
                .map(|j| (j, i))
        })
        .unwrap();
    let cfg = |s: [u8; 32], bootstrap| Config {
        node_key: NodeKey::from_seed(s),
        ..config(0, 9, bootstrap)
    };
    let mut net = Net::new();
    net.add(cfg(seed_of(s1), vec![]));
    net.add(cfg(seed_of(s2), vec![addr(0)]));
    let (a, b) = (net.node(0).id(), net.node(1).id());
    // Alone, each takes its first candidate: the same address.
    assert_eq!(net.node(0).ipv4(), net.node(1).ipv4());
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(0, 1));
    let (low, high) = if a < b { (0, 1) } else { (1, 0) };
    let low_id = net.node(low).id();
    assert_eq!(
        net.node(low).ipv4(),
        ipv4_candidate(&Ipv4Range::DEFAULT, &network, &low_id, 0)
    );
    assert_ne!(net.node(high).ipv4(), net.node(low).ipv4());
    // Both sides agree on both addresses.
    for i in [0, 1] {
        let st = net.node(i).status(net.now);
        let other = &st.peers[0];
        let expected = if other.node_id == low_id.to_string() {
            net.node(low).ipv4()
        } else {
            net.node(high).ipv4()
        };
        assert_eq!(other.ipv4.as_deref(), Some(expected.to_string().as_str()));
    }
    for (x, y) in [(0, 1), (1, 0)] {
        let pkt = ipv4_packet(
            net.node(x).ipv4(),
            net.node(y).ipv4(),
            b"v4 after collision",
        );
        net.delivered[y].clear();
        net.tun(x, &pkt);
        net.run_for(Duration::from_secs(1));
        assert!(net.delivered[y].contains(&pkt), "{x} -> {y}");
    }
}

/// Two members configured with another IPv4 range take their addresses in
/// it and carry IPv4 between them; for them an address of the default
/// range is no overlay address (no "unreachable" answer, just no route).
#[test]
fn members_with_another_ipv4_range_carry_ipv4_in_it() {
    use crate::identity::address::Ipv4Range;
    let range: Ipv4Range = "10.213.0.0/16".parse().unwrap();
    let cfg = |seed, bootstrap| Config {
        ipv4_range: range,
        ..config(seed, 9, bootstrap)
    };
    let mut net = Net::new();
    net.add(cfg(1, vec![]));
    net.add(cfg(2, vec![addr(0)]));
    net.run_for(Duration::from_secs(1));
    assert!(net.connected(0, 1));
    let (a4, b4) = (net.node(0).ipv4(), net.node(1).ipv4());
    assert!(range.contains(&a4) && range.contains(&b4), "{a4} {b4}");
    assert_eq!(net.node(0).ipv4_range(), range);
    for (x, y) in [(0, 1), (1, 0)] {
        let pkt = ipv4_packet(net.node(x).ipv4(), net.node(y).ipv4(), b"v4");
        net.delivered[y].clear();
        net.tun(x, &pkt);
        net.run_for(Duration::from_secs(1));
        assert!(net.delivered[y].contains(&pkt), "{x} -> {y}");
    }
    let outside = ipv4_packet(a4, "100.64.0.9".parse().unwrap(), b"x");
    assert_eq!(net.tun(0, &outside), Action::None);
    assert_eq!(net.node(0).drops().get(DropReason::NoRoute), 1);
}

/// Sessions a node keeps: with how many members is a usable session open.
fn sessions(net: &Net, i: usize) -> usize {
    net.node(i)
        .status(net.now)
        .peers
        .iter()
        .filter(|p| p.connected)
        .count()
}

/// Twenty members who all know only node 0: everyone learns everyone, keeps
/// a bounded set of sessions, and reaches any member on demand.
#[test]
fn large_network_keeps_bounded_sessions_and_reaches_anyone_on_demand() {
    use crate::limits::MAX_CONTACTS;
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    for seed in 2..=20 {
        net.add(config(seed, 9, vec![addr(0)]));
    }
    net.run_for(Duration::from_secs(240));
    for i in 1..20 {
        let st = net.node(i).status(net.now);
        assert_eq!(
            st.peers.len(),
            19,
            "node {i} knows {} members",
            st.peers.len()
        );
        // Its neighbours, its bootstrap member and the members that chose it.
        assert!(
            sessions(&net, i) <= 2 * MAX_CONTACTS + 1,
            "node {i}: {} sessions",
            sessions(&net, i)
        );
    }
    assert!(ping(&mut net, 7, 19, b"on demand"));
    assert!(ping(&mut net, 19, 7, b"and back"));
    let pkt = ipv4_packet(net.node(3).ipv4(), net.node(17).ipv4(), b"v4 on demand");
    net.tun(3, &pkt);
    net.run_for(Duration::from_secs(1));
    assert!(net.delivered[17].contains(&pkt));
}

/// Neighbours gossip both ways, whichever of the two chose the other; a
/// session kept only for traffic carries no gossip.
#[test]
fn gossip_flows_between_neighbours_both_ways_and_not_over_traffic_sessions() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    for seed in 2..=20 {
        net.add(config(seed, 9, vec![addr(0)]));
    }
    net.run_for(Duration::from_secs(240));
    let now = net.now;
    let mut one_way = 0;
    for a in 0..20 {
        for b in (0..20).filter(|&b| b != a) {
            let (ida, idb) = (net.node(a).id(), net.node(b).id());
            let a_chose_b = net
                .node(a)
                .peers
                .get(&idb)
                .is_some_and(|p| p.neighbour && p.connected(now));
            if !a_chose_b {
                continue;
            }
            let seen_from_b = net.node(b).peers.get(&ida).expect("b knows a");
            one_way += usize::from(!seen_from_b.neighbour);
            assert!(
                seen_from_b.gossip_partner(now),
                "{b} does not gossip to {a}, which chose it as a neighbour"
            );
        }
    }
    assert!(one_way > 0, "no neighbour chosen on one side only");
    let (a, b) = (1..20)
        .flat_map(|a| (1..20).map(move |b| (a, b)))
        .find(|&(a, b)| a != b && !net.connected(a, b))
        .expect("with at most 12 neighbours each, some pair among 19 is not connected");
    assert!(ping(&mut net, a, b, b"traffic only"));
    net.run_for(Duration::from_secs(70));
    let (ida, idb) = (net.node(a).id(), net.node(b).id());
    assert!(net.connected(a, b), "the traffic session lapsed early");
    assert!(!net.node(a).peers[&idb].gossip_partner(net.now));
    assert!(!net.node(b).peers[&ida].gossip_partner(net.now));
}

/// A session that only traffic needed lapses once the traffic stops, and a
/// new packet opens a new one.
#[test]
fn on_demand_sessions_lapse_when_idle() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    for seed in 2..=12 {
        net.add(config(seed, 9, vec![addr(0)]));
    }
    net.run_for(Duration::from_secs(120));
    // Find a pair that are not neighbours of each other.
    let (a, b) = (1..12)
        .flat_map(|a| (1..12).map(move |b| (a, b)))
        .find(|&(a, b)| a != b && !net.connected(a, b))
        .expect("with 8 neighbours each, some pair among 11 is not connected");
    assert!(ping(&mut net, a, b, b"need a session"));
    assert!(net.connected(a, b));
    net.run_for(Duration::from_secs(400));
    assert!(
        !net.connected(a, b) && !net.connected(b, a),
        "idle session still up"
    );
    assert!(ping(&mut net, a, b, b"again"));
}

/// News of a member that left ages as it travels, so every node forgets it
/// and nobody brings it back.
#[test]
fn departed_member_is_forgotten_everywhere() {
    use crate::limits::PEER_EXPIRY;
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    for seed in 2..=10 {
        net.add(config(seed, 9, vec![addr(0)]));
    }
    net.run_for(Duration::from_secs(120));
    let gone = net.node(5).id().to_string();
    let dead = addr(5);
    net.filter = Box::new(move |from, to, _| usize::from(from != dead && to != dead));
    net.run_for(PEER_EXPIRY + Duration::from_secs(60));
    for i in (0..10).filter(|&i| i != 5) {
        let st = net.node(i).status(net.now);
        assert!(
            st.peers.iter().all(|p| p.node_id != gone),
            "node {i} still lists the departed member"
        );
        assert_eq!(st.peers.len(), 8, "node {i}");
    }
    net.run_for(Duration::from_secs(300));
    for i in (0..10).filter(|&i| i != 5) {
        let st = net.node(i).status(net.now);
        assert!(
            st.peers.iter().all(|p| p.node_id != gone),
            "node {i}: the departed member came back"
        );
    }
}

/// A packet for an overlay address that no member we know owns starts a
/// lookup; once the lookup found no owner, packets for it are answered at
/// once with an ICMPv6 Destination Unreachable quoting them; one outside the
/// overlay is only dropped.
#[test]
fn unowned_overlay_address_gets_destination_unreachable() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(1));
    // Next to node 1's address, so that node 0 asks node 1.
    let mut nobody = net.node(1).ipv6().octets();
    nobody[15] ^= 0x01;
    let pkt = ipv6_packet(net.node(0).ipv6(), Ipv6Addr::from(nobody), b"anyone?");
    assert_eq!(net.tun(0, &pkt), Action::None);
    assert_eq!(net.node(0).lookup_stats().started, 1);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.node(0).lookup_stats().not_found, 1);
    assert_eq!(net.node(1).lookup_stats().answered, 1);
    assert_eq!(net.node(0).drops().get(DropReason::NoRoute), 1);
    match net.tun(0, &pkt) {
        Action::Deliver { range } => assert_eq!(range.len(), 40 + 8 + pkt.len()),
        other => panic!("expected an ICMPv6 error, got {other:?}"),
    }
    assert_eq!(net.node(0).lookup_stats().started, 1);
    let outside = ipv6_packet(net.node(0).ipv6(), "2001:db8::1".parse().unwrap(), b"x");
    assert_eq!(net.tun(0, &outside), Action::None);
    assert_eq!(net.node(0).drops().get(DropReason::NoRoute), 3);
}

/// A member that a node has not heard of is found by a lookup, and the
/// lookup's path carries the first packet: nodes 1 and 2 reach each other
/// only through node 0, and node 1 forgot node 2.
#[test]
fn a_member_not_heard_of_is_found_by_lookup_and_reached_through_its_path() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.add(config(3, 9, vec![addr(0)]));
    let (a, c) = (addr(1), addr(2));
    net.filter =
        Box::new(move |from, to, _| usize::from(!(from == a && to == c || from == c && to == a)));
    net.run_for(Duration::from_secs(20));
    assert!(net.connected(1, 0) && net.connected(0, 2));
    let target = net.node(2).id();
    net.nodes[1].1.remove_peer(&target);
    assert!(!net.node(1).peers.contains_key(&target));
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(2).ipv6(), b"who are you?");
    assert_eq!(net.tun(1, &pkt), Action::None);
    net.run_for(Duration::from_secs(1));
    let stats = net.node(1).lookup_stats();
    assert_eq!((stats.started, stats.found), (1, 1));
    assert_eq!(net.node(0).lookup_stats().answered, 1);
    // The packet waited for the answer and went through node 0.
    assert!(net.delivered[2].contains(&pkt));
    let via = net.node(0).id();
    assert_eq!(
        net.node(1).path_to(&target, net.now),
        Some(Path::Relayed(via))
    );
}

#[path = "tests_stun.rs"]
mod stun;

#[path = "tests_records.rs"]
mod records;

#[path = "tests_names.rs"]
mod names;

#[path = "tests_rotation.rs"]
mod rotation;
