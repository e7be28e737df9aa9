//! Network key rotation in the virtual-time harness of `tests.rs`: a new
//! key spreads over sessions, members that were away catch up during the
//! grace period, newcomers join with the new key text, and the old key is
//! refused after the grace.

use std::time::Duration;

use super::*;
use crate::wire::{data, key_update};

const GRACE: Duration = Duration::from_secs(3600);

/// Whether a datagram is a data message as long as an encrypted key update.
fn is_key_update(bytes: &[u8]) -> bool {
    bytes[0] == MessageType::Data as u8
        && bytes.len() == data::HEADER_LEN + key_update::LEN + data::TAG_LEN
}

/// The local indices node `i` keeps of sessions made under its retiring key.
fn old_live_indices(net: &Net, i: usize) -> Vec<u32> {
    let n = net.node(i);
    let mut v: Vec<u32> = n
        .rotation
        .old_indices
        .iter()
        .copied()
        .filter(|idx| n.by_index.contains_key(idx))
        .collect();
    v.sort_unstable();
    v
}

/// The local index of node `i`'s current session with node `j`.
fn current_index(net: &Net, i: usize, j: usize) -> u32 {
    let peer = &net.node(i).peers[&net.node(j).id()];
    peer.current.as_ref().expect("a session").local_index
}

#[test]
fn a_rotation_reaches_members_newcomers_and_those_that_were_away() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.add(config(3, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(5));
    assert!(net.connected(1, 0) && net.connected(2, 0));
    let addresses: Vec<_> = (0..3)
        .map(|i| (net.node(i).ipv6(), net.node(i).ipv4()))
        .collect();

    // C goes away; A rotates.
    let c = addr(2);
    net.filter = Box::new(move |from, to, _| usize::from(from != c && to != c));
    let now = net.now;
    let new = net.nodes[0]
        .1
        .rotate_network_key(now, [42; 32], GRACE)
        .unwrap();
    net.drain(0);
    assert_eq!((new.epoch(), new.id()), (1, net.node(0).network_id()));
    net.run_for(Duration::from_secs(20));

    // B has the new key, and its session with A is under it.
    let b = net.node(1);
    assert_eq!(b.network_key().epoch(), 1);
    assert_eq!(b.network_key().secret(), &[42; 32]);
    assert!(net.events[1].contains(&Event::NetworkKeyChanged));
    assert_eq!(b.rotation_stats().updates_accepted, 1);
    assert!(net.connected(1, 0) && net.connected(0, 1));
    assert!(!net
        .node(1)
        .rotation
        .old_indices
        .contains(&current_index(&net, 1, 0)));
    assert!(!net
        .node(0)
        .rotation
        .old_indices
        .contains(&current_index(&net, 0, 1)));
    assert!(ping(&mut net, 1, 0, b"after rotation"));
    assert!(ping(&mut net, 0, 1, b"and back"));
    // Nobody's address moved.
    for (i, a) in addresses.iter().enumerate() {
        assert_eq!((net.node(i).ipv6(), net.node(i).ipv4()), *a);
    }
    assert_eq!(net.node(2).network_key().epoch(), 0);

    // D starts from the new key's text and joins A and B.
    let mut d_config = config(4, 9, vec![addr(0)]);
    d_config.network_key = NetworkKey::parse(&new.to_text()).unwrap();
    let fresh = Node::new(config(4, 9, vec![]), net.now);
    let d = net.add(d_config);
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.node(d).network_id(), net.node(0).network_id());
    assert_eq!(net.node(d).ipv6(), fresh.ipv6());
    assert!(net.connected(d, 0) && net.connected(d, 1));
    assert!(ping(&mut net, d, 1, b"newcomer"));

    // C comes back after ten minutes, within the grace: it handshakes under
    // the old key, gets the new one, and handshakes again under it.
    net.run_for(Duration::from_secs(600));
    net.filter = Box::new(|_, _, _| 1);
    net.run_for(Duration::from_secs(60));
    let cn = net.node(2);
    assert_eq!(cn.network_key().epoch(), 1);
    assert_eq!(cn.network_key().secret(), &[42; 32]);
    assert!(cn.retiring_key().is_some());
    assert!(net.connected(2, 0) && net.connected(0, 2));
    assert!(!net
        .node(2)
        .rotation
        .old_indices
        .contains(&current_index(&net, 2, 0)));
    assert!(ping(&mut net, 2, 0, b"back"));
    assert!(ping(&mut net, 2, d, b"hello newcomer"));
    assert!(net.node(0).rotation_stats().updates_sent >= 2);
}

#[test]
fn after_the_grace_the_old_key_is_refused_and_its_sessions_closed() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(5));
    assert!(net.connected(1, 0));
    // B never gets the new key.
    let a = addr(0);
    net.filter = Box::new(move |from, _, bytes| usize::from(!(from == a && is_key_update(bytes))));
    let now = net.now;
    let grace = Duration::from_secs(600);
    net.nodes[0]
        .1
        .rotate_network_key(now, [42; 32], grace)
        .unwrap();
    net.drain(0);
    // During the grace B keeps working, on sessions made under the old key
    // (rekeyed on the way).
    net.run_for(Duration::from_secs(300));
    assert_eq!(net.node(1).network_key().epoch(), 0);
    assert!(net.connected(1, 0) && net.connected(0, 1));
    assert!(ping(&mut net, 1, 0, b"old key, in grace"));
    let old = old_live_indices(&net, 0);
    assert!(!old.is_empty());
    let bad_macs = net.node(0).drops().get(DropReason::BadMac);

    net.run_for(grace);
    let an = net.node(0);
    assert!(an.retiring_key().is_none());
    assert!(old.iter().all(|i| !an.by_index.contains_key(i)));
    assert!(!net.connected(0, 1));
    assert!(!ping(&mut net, 1, 0, b"old key, after grace"));
    // Its initiations and hellos are bad MACs now.
    net.run_for(Duration::from_secs(120));
    assert!(net.node(0).drops().get(DropReason::BadMac) > bad_macs);
    assert!(!net.connected(0, 1) && !net.connected(1, 0));
}

#[test]
fn updates_for_another_network_or_an_older_key_change_nothing() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(5));
    let now = net.now;
    let b_id = net.node(1).id();
    // Another network's rotated key, our own key again, and a key of ours
    // two epochs ahead.
    let other = NetworkKey::from_secret([8; 32]).rotated([1; 32]);
    let ours = net.node(0).network_key().clone();
    let ahead = ours.rotated([3; 32]).rotated([4; 32]);
    for key in [&other, &ours, &ahead] {
        let mut msg = crate::wire::to_vec(|o| {
            key_update::emit(key.epoch(), 0, key.id().as_bytes(), key.secret(), o)
        });
        assert!(net.nodes[0].1.send_encrypted(now, b_id, &msg));
        msg.fill(0);
        net.drain(0);
        net.run_for(Duration::from_secs(1));
    }
    let b = net.node(1);
    assert_eq!(b.network_key().epoch(), 0);
    assert!(b.retiring_key().is_none());
    assert_eq!(b.drops().get(DropReason::KeyUpdateRefused), 2);
    assert_eq!(b.drops().get(DropReason::KeyUpdateStale), 1);
    assert_eq!(b.rotation_stats().updates_ignored, 1);
}

#[test]
fn concurrent_rotations_converge_and_grace_is_capped() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(5));
    let now = net.now;
    let ka = net.nodes[0]
        .1
        .rotate_network_key(now, [1; 32], GRACE * 24 * 365)
        .unwrap();
    let kb = net.nodes[1]
        .1
        .rotate_network_key(now, [2; 32], GRACE)
        .unwrap();
    net.drain(0);
    net.drain(1);
    net.run_for(Duration::from_secs(20));
    let winner = if ka.supersedes(&kb) { ka } else { kb };
    for i in 0..2 {
        assert_eq!(net.node(i).network_key().secret(), winner.secret());
    }
    assert!(net.connected(0, 1) && ping(&mut net, 0, 1, b"converged"));
    // A's grace was capped at MAX_GRACE.
    let (_, until) = net.node(0).retiring_key().unwrap();
    assert!(until <= net.node(0).unix_ms_at(net.now) + MAX_GRACE.as_millis() as u64);
}

/// The cost of a datagram that fails the MAC (an initiation and a hello
/// of another network) without and with a retiring key, which adds one
/// keyed hash to each. Wall clock: `bench/rotation.sh`.
#[test]
#[ignore = "benchmark: bench/rotation.sh"]
fn bench_bad_mac_cost_during_grace() {
    use std::time::Instant as Clock;
    const N: u32 = 200_000;
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let from = addr(7);
    let mut init = vec![0u8; crate::wire::handshake_init::LEN];
    init[0] = MessageType::HandshakeInit as u8;
    let mut hello = vec![0u8; crate::wire::hello::LEN];
    hello[0] = MessageType::Hello as u8;
    let mut out = vec![0u8; 512];
    let mut measure = |net: &mut Net, what: &str| {
        for (name, msg) in [("initiation", &mut init), ("hello", &mut hello)] {
            let node = &mut net.nodes[0].1;
            let now = net.now;
            let start = Clock::now();
            for i in 0..N {
                msg[8..12].copy_from_slice(&i.to_le_bytes());
                node.handle_datagram(now, from, msg, &mut out);
            }
            let ns = start.elapsed().as_nanos() as f64 / f64::from(N);
            println!("bad-MAC {name}, {what}: {ns:.0} ns per datagram");
        }
    };
    measure(&mut net, "one key");
    let now = net.now;
    net.nodes[0]
        .1
        .rotate_network_key(now, [42; 32], GRACE)
        .unwrap();
    measure(&mut net, "during a grace (two keys)");
    assert!(net.node(0).drops().get(DropReason::BadMac) >= u64::from(4 * N));
}
