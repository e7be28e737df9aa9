//! A hostile member aims hole punching at a victim: it floods a node with
//! signed candidate signals (its own and made-up members') that name the
//! victim's address, with port predictions and birthday spraying asked for,
//! and, in the worst case, gossips the made-up members at the victim's
//! address so that they look vouched for. Over a minute of virtual time the
//! victim receives at most [`TARGET_PROBES`] probes from the node, or
//! [`VOUCHED_TARGET_PROBES`] when vouched for (docs/protocol.md §20).

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::rx_context::RxContext;
use super::test_nodes::{candidates_signal, lone_node as node, sealed_signal};
use super::traversal::limits::{TARGET_PROBES, VOUCHED_TARGET_PROBES, WINDOW};
use super::*;
use crate::identity::{NetworkKey, NodeKey};
use crate::session::handshake::HandshakeKeys;
use crate::wire::gossip::{self, Entry};
use crate::wire::probe::PROBE_LEN;
use crate::wire::signal::{candidate_kind, Candidate, Candidates, NatHint};
use crate::wire::MessageType;

const VICTIM: &str = "192.0.2.66";

/// A probe from `key` to `to`, sealed as `key`'s node would: its pair tag
/// is keyed from `key` and `to`.
fn probe_from(key: &NodeKey, to: NodeId, tx: u64) -> Vec<u8> {
    use crate::wire::probe;
    let keys = HandshakeKeys::new(key, &NetworkKey::from_secret([9; 32]));
    let pair = super::traversal::pair::PairKeys::default()
        .get(key, &keys, &to)
        .unwrap();
    let mut msg = crate::wire::to_vec(|o| probe::emit_probe(key.id().as_bytes(), tx, o));
    probe::seal(&mut msg, &pair.to, &keys.mac_to(&to));
    msg
}

/// `key`'s probe claiming to come from `claimed`: right network MAC, pair
/// tag keyed from `key`'s own pair with `to`.
fn forged_probe(key: &NodeKey, claimed: NodeId, to: NodeId, tx: u64) -> Vec<u8> {
    let mut msg = probe_from(key, to, tx);
    msg[4..36].copy_from_slice(claimed.as_bytes());
    let keys = HandshakeKeys::new(key, &NetworkKey::from_secret([9; 32]));
    keys.mac_to(&to).seal(&mut msg);
    msg.to_vec()
}

fn victim() -> IpAddr {
    VICTIM.parse().unwrap()
}

/// A candidates request from `key`, naming 24 ports of the victim, a NAT
/// that allocates in sequence, and birthday sockets.
fn crafted(key: &NodeKey, to: NodeId, ts: u64, punch_id: u64) -> Vec<u8> {
    let list = (0..24)
        .map(|i| Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr: SocketAddr::new(victim(), 40_000 + i),
        })
        .collect();
    let mut body = Vec::new();
    Candidates {
        request: true,
        fresh: false,
        punch_id,
        nat: NatHint {
            mapping: 2,
            allocation: 2,
            step: 1,
            last_port: 40_000,
        },
        extra_sockets: 256,
        list,
    }
    .emit(&mut body);
    sealed_signal(key, to, ts, &body)
}

/// Made-up members the hostile one signs for.
fn sock_puppets(count: u32) -> Vec<NodeKey> {
    (0..count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[4] = 0x5a;
            NodeKey::from_seed(seed)
        })
        .collect()
}

/// What the victim got from the node, and what the attack cost.
struct Outcome {
    probe_bytes: usize,
    all_bytes: usize,
    signal_bytes: usize,
    node: Node,
}

/// Runs the attack for `time`: every 50 ms the hostile member passes on 8
/// crafted requests (its own and its puppets', round robin); with `vouch`
/// it also gossips every puppet at the victim's address.
fn attack(time: Duration, vouch: bool) -> Outcome {
    let t0 = Instant::now();
    let mut a = node(t0);
    let hostile = NodeKey::from_seed([2; 32]);
    let puppets = sock_puppets(200);
    let mut signers: Vec<&NodeKey> = puppets.iter().collect();
    signers.push(&hostile);
    if vouch {
        let entries: Vec<Entry> = puppets
            .iter()
            .map(|k| Entry {
                node_id: *k.id().as_bytes(),
                age_secs: 0,
                metric: gossip::UNREACHABLE,
                endpoint: SocketAddr::new(victim(), 40_000),
            })
            .collect();
        for chunk in entries.chunks(24) {
            a.consume_gossip(
                t0,
                hostile.id(),
                &crate::wire::to_vec(|o| gossip::emit(chunk, o)),
            );
        }
    }
    let mut out = Outcome {
        probe_bytes: 0,
        all_bytes: 0,
        signal_bytes: 0,
        node: a,
    };
    let step = Duration::from_millis(50);
    let mut now = t0;
    let mut ts = 1u64;
    let mut next = 0usize;
    while now < t0 + time {
        for _ in 0..8 {
            let key = signers[next % signers.len()];
            next += 1;
            ts += 1;
            let msg = crafted(key, out.node.id(), ts, ts * 1000);
            out.signal_bytes += msg.len();
            out.node.consume_signal(now, hostile.id(), &msg);
        }
        if out.node.poll_timeout().is_some_and(|t| t <= now) {
            out.node.handle_timeout(now);
        }
        let mut sent = Vec::new();
        while let Some(t) = out.node.poll_transmit() {
            sent.push((t.to, t.payload));
        }
        for (to, payload) in sent {
            if to.ip() != victim() {
                continue;
            }
            out.all_bytes += payload.len();
            if MessageType::of(&payload) == Ok(MessageType::Probe) {
                out.probe_bytes += payload.len();
            }
        }
        now += step;
    }
    out
}

#[test]
fn crafted_signals_send_the_victim_at_most_the_target_budget() {
    let o = attack(WINDOW, false);
    let bound = TARGET_PROBES as usize * PROBE_LEN;
    let stats = o.node.traversal.stats;
    println!(
        "victim got {} bytes ({} in probes) for {} bytes of signals; joins refused {}, probes capped {}",
        o.all_bytes, o.probe_bytes, o.signal_bytes, stats.joins_refused, stats.probes_capped
    );
    assert!(o.all_bytes <= bound, "{} > {bound}", o.all_bytes);
    // The caps did the work: without them, each join would probe the
    // victim's 24 ports and predictions round after round.
    assert!(stats.joins_refused > 0);
    assert!(stats.probes_capped > 0);
    assert_eq!(stats.spray_probes, 0, "nobody vouched for the victim");
    assert!(o.probe_bytes > 0);
}

#[test]
fn vouching_raises_the_budget_but_it_still_holds() {
    let o = attack(WINDOW, true);
    let bound = VOUCHED_TARGET_PROBES as usize * PROBE_LEN;
    let stats = o.node.traversal.stats;
    println!(
        "vouched: victim got {} bytes ({} in probes) for {} bytes of signals; joins refused {}, probes capped {}",
        o.all_bytes, o.probe_bytes, o.signal_bytes, stats.joins_refused, stats.probes_capped
    );
    assert!(o.probe_bytes <= bound, "{} > {bound}", o.probe_bytes);
    assert!(stats.probes_capped > 0);
}

#[test]
fn the_budget_renews_each_window_and_no_faster() {
    // Three windows: at most three budgets.
    let o = attack(WINDOW * 3, false);
    assert!(o.probe_bytes <= 3 * TARGET_PROBES as usize * PROBE_LEN);
    assert!(o.probe_bytes > TARGET_PROBES as usize * PROBE_LEN);
}

#[test]
fn a_spray_needs_another_members_word_for_the_address() {
    let t0 = Instant::now();
    let requester = NodeKey::from_seed([3; 32]);
    let forwarder = NodeKey::from_seed([4; 32]).id();
    let sprays = |vouch: bool| {
        let mut a = node(t0);
        if vouch {
            let entry = Entry {
                node_id: *requester.id().as_bytes(),
                age_secs: 0,
                metric: gossip::UNREACHABLE,
                endpoint: SocketAddr::new(victim(), 40_000),
            };
            a.consume_gossip(
                t0,
                forwarder,
                &crate::wire::to_vec(|o| gossip::emit(&[entry], o)),
            );
        }
        let msg = crafted(&requester, a.id(), 1, 77);
        a.consume_signal(t0, forwarder, &msg);
        let mut now = t0;
        while now < t0 + Duration::from_secs(10) {
            now += Duration::from_millis(25);
            a.handle_timeout(now);
            while a.poll_transmit().is_some() {}
        }
        a.traversal.stats.spray_probes
    };
    assert_eq!(sprays(false), 0);
    assert!(sprays(true) > 0);
}

#[test]
fn probes_and_hellos_inside_relay_frames_are_dropped_and_direct_ones_answered() {
    use crate::wire::hello;
    let t0 = Instant::now();
    let mut a = node(t0);
    let sender_key = NodeKey::from_seed([3; 32]);
    let sender = sender_key.id();
    let relay = NodeKey::from_seed([4; 32]).id();
    let pr = probe_from(&sender_key, a.id(), 5);
    let mut hi = crate::wire::to_vec(|o| {
        hello::emit(
            false,
            sender.as_bytes(),
            hello::stamp_of(a.unix_ms_at(t0)),
            o,
        )
    });
    a.keys.mac_to_any().seal(&mut hi);
    let from: SocketAddr = "198.51.100.9:9740".parse().unwrap();
    let mut out = [0u8; 256];
    let relayed = RxContext::direct(0).unwrapped(relay, *sender.as_bytes());
    for msg in [&pr[..], &hi[..]] {
        a.receive(t0, relayed, from, msg, &mut out);
    }
    assert_eq!(a.drops().get(DropReason::RelayedPathMessage), 2);
    assert!(a.poll_transmit().is_none());
    // Straight from the network, both are answered, never with more bytes.
    for msg in [&pr[..], &hi[..]] {
        a.handle_datagram(t0, from, msg, &mut out);
        let answer = a.poll_transmit().expect("answered");
        assert_eq!(answer.to, from);
        assert!(answer.payload.len() <= msg.len());
    }
}

#[test]
fn a_probe_forged_by_a_third_member_moves_no_path() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let b = NodeKey::from_seed([3; 32]);
    let m = NodeKey::from_seed([4; 32]);
    let forwarder = NodeKey::from_seed([5; 32]).id();
    // B asks A to punch (no candidates), through another member.
    let sig = candidates_signal(&b, a.id(), true, 1000);
    a.consume_signal(t0, forwarder, &sig);
    assert!(a.traversal.punches.contains_key(&b.id()));
    let mut out = [0u8; 256];
    // M, a member, sends a probe "from" B of the punch, from its own address.
    let m_addr: SocketAddr = "203.0.113.50:9740".parse().unwrap();
    let forged = forged_probe(&m, b.id(), a.id(), 1001);
    a.handle_datagram(t0, m_addr, &forged, &mut out);
    assert_eq!(a.drops().get(DropReason::BadMac), 1);
    assert_eq!(a.peers.get(&b.id()).and_then(|p| p.endpoint), None);
    assert_eq!(a.traversal.stats.direct_paths_found, 0);
    while let Some(t) = a.poll_transmit() {
        assert_ne!(t.to, m_addr, "a forged probe got an answer");
    }
    // B's own probe, from B's address, is a path.
    let b_addr: SocketAddr = "198.51.100.20:9740".parse().unwrap();
    a.handle_datagram(t0, b_addr, &probe_from(&b, a.id(), 1001), &mut out);
    assert_eq!(a.peers.get(&b.id()).and_then(|p| p.endpoint), Some(b_addr));
    assert_eq!(a.traversal.stats.direct_paths_found, 1);
}

#[test]
fn hellos_from_outside_the_clock_window_and_old_acks_are_refused() {
    use crate::node::test_nodes;
    use crate::wire::hello;
    let t0 = Instant::now();
    let mut a = node(t0);
    let sender = NodeKey::from_seed([3; 32]).id();
    let from: SocketAddr = "198.51.100.9:9740".parse().unwrap();
    let mut out = [0u8; 256];
    let now_ms = a.unix_ms_at(t0);
    // A sniffed hello replayed 200 s later, or one from a clock 200 s
    // ahead: no answer, counted.
    for skew in [-200_000i64, 200_000] {
        let stamp = hello::stamp_of(now_ms.saturating_add_signed(skew));
        let mut hi = crate::wire::to_vec(|o| hello::emit(false, sender.as_bytes(), stamp, o));
        a.keys.mac_to_any().seal(&mut hi);
        a.handle_datagram(t0, from, &hi, &mut out);
        assert!(a.poll_transmit().is_none(), "skew {skew} ms answered");
    }
    assert_eq!(a.drops().get(DropReason::HelloStale), 2);
    // Within the window: answered, the stamp echoed.
    let stamp = hello::stamp_of(now_ms - 60_000);
    let mut hi = crate::wire::to_vec(|o| hello::emit(false, sender.as_bytes(), stamp, o));
    a.keys.mac_to_any().seal(&mut hi);
    a.handle_datagram(t0, from, &hi, &mut out);
    let ack = a.poll_transmit().expect("answered");
    assert_eq!(
        hello::Packet::new_checked(&ack.payload[..])
            .unwrap()
            .stamp(),
        stamp
    );

    // B greets A; A's answer, held back 200 s, is refused by B.
    let a_at: SocketAddr = "198.51.100.1:9740".parse().unwrap();
    let b_at: SocketAddr = "198.51.100.2:9740".parse().unwrap();
    let mut a = test_nodes::node(1, Vec::new(), t0);
    let mut b = test_nodes::node(2, vec![a_at], t0);
    b.handle_timeout(t0);
    let hi = b.poll_transmit().expect("B says hello");
    a.handle_datagram(t0, b_at, &hi.payload, &mut out);
    let ack = a.poll_transmit().expect("A answers");
    let late = t0 + Duration::from_secs(200);
    b.handle_datagram(late, a_at, &ack.payload, &mut out);
    assert_eq!(b.drops().get(DropReason::HelloStale), 1);
    assert!(b.peers.get(&a.id()).is_none(), "B learned nothing from it");
    // In time, the same answer starts a handshake.
    b.handle_datagram(t0, a_at, &ack.payload, &mut out);
    assert!(b.peers.get(&a.id()).is_some());
}
