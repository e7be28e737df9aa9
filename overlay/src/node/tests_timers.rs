//! Every timer kind, armed through its normal path, is reported by
//! `poll_timeout` and runs at its deadline: a network of nodes whose
//! traffic, losses, lookups, record fetches, STUN checks, key rotation,
//! certificate, LAN beacons and a name claim arm each kind, in a harness that wakes a
//! node only when its `poll_timeout` says. After every event, no armed
//! deadline lies in the past (none was missed) or before what
//! `poll_timeout` reports; and each kind is seen to come due and run at
//! exactly its deadline.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::super::peer::PeerTimers;
use super::super::timer_table::Timer;
use super::{addr, config, ipv6_packet, Net};
use crate::identity::{MemberCert, NetworkKey, NodeId, NodeKey, OwnerKey};
use crate::limits::PERSISTENT_KEEPALIVE;
use crate::wire::MessageType;

/// The nodes' wall clock at the start (see `test_nodes::config`), in ms.
const START_MS: u64 = 1_800_000_000_000;

/// Reads one kind of a member's timers.
type ReadTimer = fn(&PeerTimers) -> Option<Instant>;

/// A member's timer kinds, by name, with how to read each.
const PEER_TIMERS: [(&str, ReadTimer); 7] = [
    ("retransmit", |t| t.retransmit),
    ("keepalive", |t| t.keepalive),
    ("new_handshake", |t| t.new_handshake),
    ("persistent_keepalive", |t| t.persistent_keepalive),
    ("connect", |t| t.connect),
    ("gossip", |t| t.gossip),
    ("session_check", |t| t.session_check),
];

/// One armed deadline: the node, the timer kind, and the member it is for.
type Key = (usize, String, Option<NodeId>);

/// Every armed deadline of every node: the node-level machines' (each
/// slot of the table but the members' own, read from the machine) and
/// each member's.
fn armed(net: &mut Net) -> BTreeMap<Key, Instant> {
    let mut out = BTreeMap::new();
    for (i, (_, node)) in net.nodes.iter_mut().enumerate() {
        for timer in Timer::ALL {
            if timer == Timer::Peers {
                continue;
            }
            if let Some(at) = node.deadline_of(timer) {
                out.insert((i, format!("{timer:?}"), None), at);
            }
        }
        for peer in node.peers.values() {
            for (name, read) in PEER_TIMERS {
                // A persistent keepalive is only ever sent to a neighbour;
                // for others the node does not wake (`PeerTimers::next`).
                if name == "persistent_keepalive" && !peer.neighbour {
                    continue;
                }
                if let Some(at) = read(&peer.timers) {
                    out.insert((i, name.to_string(), Some(peer.id)), at);
                }
            }
        }
    }
    out
}

/// Runs the network to `until` one event at a time, checking after each
/// that nothing armed is overdue or hidden from `poll_timeout`, and notes
/// in `fired` each kind seen to run at exactly its deadline (its deadline
/// came, and it moved or went).
fn run_checked(net: &mut Net, until: Instant, fired: &mut BTreeSet<String>) {
    let mut before = armed(net);
    while net.step(until) {
        let now = net.now;
        let after = armed(net);
        for ((i, kind, peer), at) in &after {
            assert!(
                *at >= now,
                "node {i}: {kind} {peer:?} was due at {at:?}, {:?} ago, and did not run",
                now - *at
            );
        }
        for (i, (_, node)) in net.nodes.iter_mut().enumerate() {
            let earliest = after
                .iter()
                .filter(|((n, _, _), _)| *n == i)
                .map(|(_, at)| *at)
                .min();
            if let Some(earliest) = earliest {
                let reported = node.poll_timeout();
                assert!(
                    reported.is_some_and(|t| t <= earliest),
                    "node {i}: poll_timeout says {reported:?}, a timer is armed for {earliest:?}"
                );
            }
        }
        for (key, at) in &before {
            if *at == now && after.get(key) != Some(at) {
                fired.insert(key.1.clone());
            }
        }
        before = after;
    }
    net.now = net.now.max(until);
}

/// A network that arms every timer kind: node 0 alone with LAN beacons on
/// and a STUN server that never answers, node 1 bootstrapping from it,
/// node 2 that remembers a member at an address where nobody answers,
/// node 3 with a retiring network key, node 4 with a member certificate
/// that runs out and the first part of a long revocation list whose sender
/// never answers; node 1 has a name to publish and renew.
#[test]
fn every_timer_kind_is_reported_and_runs_on_time() {
    let mut net = Net::new();
    let cut = Rc::new(Cell::new(false));
    let cut_in_filter = Rc::clone(&cut);
    let (a0, a1) = (addr(0), addr(1));
    net.filter = Box::new(move |from, to, _| {
        let between = (from == a0 && to == a1) || (from == a1 && to == a0);
        usize::from(!(between && cut_in_filter.get()))
    });
    let t0 = net.now;

    let mut c0 = config(1, 9, vec![]);
    c0.stun_servers = vec![addr(7)];
    net.add(c0);
    net.nodes[0].1.start_lan_beacons(t0);
    net.add(config(2, 9, vec![addr(0)]));
    // Node 1 has a name: its claim is published, and renewed.
    let name = crate::identity::NodeName::parse("one").unwrap();
    net.nodes[1].1.set_name(t0, name, START_MS).unwrap();
    let mut c2 = config(3, 9, vec![]);
    c2.known_peers = vec![(NodeKey::from_seed([99; 32]).id(), addr(6))];
    net.add(c2);
    let old_key = NetworkKey::from_secret([9; 32]);
    let mut c3 = config(4, 9, vec![]);
    c3.network_key = old_key.rotated([1; 32]);
    net.add(c3);
    net.nodes[3]
        .1
        .set_retiring_key(t0, old_key, START_MS + 60_000);
    net.add(config(5, 9, vec![]));
    let owner = OwnerKey::from_seed([42; 32]);
    let own = net.nodes[4].1.id();
    let network = net.nodes[4].1.network_id();
    let cert = MemberCert::sign(
        &owner,
        &network,
        &own,
        "short-lived",
        START_MS / 1000 + 40,
        &[],
    )
    .unwrap();
    net.nodes[4]
        .1
        .set_managed(t0, owner.id(), cert, None)
        .unwrap();
    let part =
        crate::wire::try_to_vec(|o| crate::wire::revocation_part::emit_part(1, &[0; 2000], 0, o))
            .unwrap();
    let from = net.nodes[0].1.id();
    net.nodes[4].1.consume_revocation_part(t0, from, &part);

    let mut fired = BTreeSet::new();
    run_checked(&mut net, t0 + Duration::from_secs(5), &mut fired);
    assert!(net.connected(0, 1) && net.connected(1, 0));

    // Nodes 0 and 1 stop hearing each other: node 1's data goes
    // unanswered, node 0's lookup and node 1's record fetch too.
    cut.set(true);
    let pkt = ipv6_packet(net.node(1).ipv6(), net.node(0).ipv6(), b"anyone there?");
    net.tun(1, &pkt);
    let mut nobody = net.node(1).ipv6().octets();
    nobody[15] ^= 0x01;
    let lost = ipv6_packet(net.node(0).ipv6(), Ipv6Addr::from(nobody), b"whose?");
    net.tun(0, &lost);
    assert_eq!(net.node(0).lookup_stats().started, 1);
    let now = net.now;
    net.nodes[1].1.fetch_record(now, [7; 32]).unwrap();
    run_checked(&mut net, t0 + Duration::from_secs(40), &mut fired);

    // They hear each other again; node 1's data now and then arms node
    // 0's keepalive, which runs when node 0 sends nothing for a while. (The
    // first packet of each pair finds node 0 silent and carries a ping,
    // which node 0 answers; the second, a second later, arms the timer.)
    cut.set(false);
    for s in (50..130).step_by(13) {
        run_checked(&mut net, t0 + Duration::from_secs(s), &mut fired);
        net.tun(1, &pkt);
        run_checked(&mut net, t0 + Duration::from_secs(s + 1), &mut fired);
        net.tun(1, &pkt);
    }
    run_checked(&mut net, t0 + Duration::from_secs(200), &mut fired);

    let kinds: BTreeSet<String> = Timer::ALL
        .into_iter()
        .filter(|t| *t != Timer::Peers)
        .map(|t| format!("{t:?}"))
        .chain(PEER_TIMERS.iter().map(|(name, _)| name.to_string()))
        .collect();
    let missing: Vec<&String> = kinds.difference(&fired).collect();
    assert!(missing.is_empty(), "never seen to run on time: {missing:?}");
}

/// Two idle neighbours hold their path open with gossip alone: each hears
/// from the other at least every persistent-keepalive interval, and never
/// a bare keepalive (an empty data message, 32 bytes) a few seconds before
/// gossip that would have held the path as well; the only ones confirm a
/// rekey.
#[test]
fn idle_neighbours_hold_their_path_with_gossip_and_no_bare_keepalives() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    let t0 = net.now;
    net.run_for(Duration::from_secs(60));
    let step = Duration::from_secs(1);
    let mut seen = net.log.len();
    let mut last: [Option<Instant>; 2] = [None; 2];
    let mut longest = [Duration::ZERO; 2];
    let mut data = [0usize; 2];
    for _ in 0..600 {
        net.run_for(step);
        let now = net.now;
        let new = &net.log[seen..];
        for (from, _, bytes) in new {
            if bytes[0] != MessageType::Data as u8 {
                continue;
            }
            let side = usize::from(*from == addr(1));
            // The initiator of a rekey confirms it with an empty message
            // at once; any other bare keepalive is one gossip would have
            // made needless.
            let confirms = new
                .iter()
                .any(|(f, _, b)| *f != *from && b[0] == MessageType::HandshakeResp as u8);
            assert!(
                bytes.len() != 32 || confirms,
                "a bare keepalive from node {side} at {:?}",
                now - t0
            );
            data[side] += 1;
            if let Some(before) = last[side] {
                longest[side] = longest[side].max(now - before);
            }
            last[side] = Some(now);
        }
        seen = net.log.len();
    }
    for side in 0..2 {
        // 600 s at most 25 s apart: at least 24 messages each way.
        assert!(
            data[side] >= 24,
            "node {side} sent {} data messages",
            data[side]
        );
        assert!(
            longest[side] <= PERSISTENT_KEEPALIVE + step,
            "node {side} was silent for {:?}",
            longest[side]
        );
    }
}
