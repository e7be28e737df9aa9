//! Scenarios: a few lines each, on virtual time. Every test takes its seed
//! from `SIM_SEED` (default below) and prints it, with the command that
//! replays it, if it fails.

use std::time::Duration;

use tessel_sim::nat::{NatConfig, NatDrop};
use tessel_sim::stats::{LinkDropKind, NatDropKind, NetDrop};
use tessel_sim::{secs, test_seed, Link, NatKind, Place, World};

const SEED: u64 = 7;

#[test]
fn node_behind_a_port_restricted_nat_reaches_a_public_node() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let nat = w.nat(NatKind::PortRestrictedCone);
    let a = w.public_node();
    let b = w.node_behind(nat, &[a]);
    w.run_for(secs(10));
    assert!(w.connected(a, b));
    assert!(w.ping(a, b) && w.ping(b, a));
    // A sees B at the NAT's address, not at B's private one.
    let a_sees = w.node_ref(a).unwrap().known_members();
    assert_eq!(a_sees.len(), 1);
    assert_eq!(a_sees[0].1.ip(), w.nat_ref(nat).external());
    assert_eq!(w.ledger().violations(), &[]);
}

/// A busy world: lossy, duplicating, reordering links, NATs, a crash and a
/// restart, a partition and traffic.
fn busy_world(seed: u64) -> World {
    let mut w = World::new(seed);
    w.set_default_link(Link {
        loss: 0.05,
        duplicate: 0.05,
        reorder: 0.05,
        jitter: Duration::from_millis(8),
        ..Link::default()
    });
    let r = w.public_node();
    let n1 = w.nat(NatKind::PortRestrictedCone);
    let n2 = w.nat(NatKind::RestrictedCone);
    let hosts = [
        r,
        w.node_behind(n1, &[r]),
        w.node_behind(n2, &[r]),
        w.public_node_with(&[r]),
        w.node_behind(n1, &[r]),
    ];
    w.run_for(secs(5));
    for (i, &a) in hosts.iter().enumerate() {
        w.send_app(a, hosts[(i + 1) % hosts.len()], 300);
    }
    w.crash(hosts[2]);
    w.partition(&[&hosts[..2]]);
    w.run_for(secs(20));
    w.heal_partition();
    w.start(hosts[2]);
    for i in 0..40 {
        w.send_app(hosts[i % 5], hosts[(i + 1 + i / 5 % 4) % 5], 100 + i);
        w.run_for(secs(1));
    }
    w
}

#[test]
fn same_seed_same_run_event_for_event() {
    let seed = test_seed!(SEED);
    let a = busy_world(seed.get());
    let b = busy_world(seed.get());
    assert!(
        a.stats().events > 400,
        "the run did something: {:?}",
        a.stats()
    );
    let delivered = a.ledger().delivered_count();
    assert!(delivered > 25, "{delivered} app packets delivered");
    assert_eq!(a.digest(), b.digest());
    assert_eq!(a.stats().events, b.stats().events);
    assert_eq!(a.total_sent(), b.total_sent());
    let c = busy_world(seed.get() + 1);
    assert_ne!(a.digest(), c.digest());
}

#[test]
fn partition_heals() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let r = w.public_node();
    let nat = w.nat(NatKind::PortRestrictedCone);
    let left = [r, w.public_node_with(&[r])];
    let right = [w.public_node_with(&[r]), w.node_behind(nat, &[r])];
    w.run_for(secs(5));
    assert!(w.connected(left[1], right[1]));
    w.partition(&[&left, &right]);
    w.run_for(secs(60));
    assert!(!w.ping(left[1], right[1]), "the partition holds");
    assert!(w.ping(left[0], left[1]), "each side still talks inside");
    assert!(
        w.stats()
            .drops
            .get(&NetDrop::Partition)
            .copied()
            .unwrap_or(0)
            > 0
    );
    w.heal_partition();
    let healed = w.now();
    for a in left {
        for b in right {
            let at = w.run_until_true(secs(30), secs(1), |w| w.connected(a, b));
            assert!(at.is_some(), "{a} and {b} after the heal at {healed}");
            assert!(w.ping(a, b) && w.ping(b, a));
        }
    }
}

#[test]
fn crashed_node_restarts_from_its_state_dir() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let nat = w.nat(NatKind::PortRestrictedCone);
    let b = w.node_behind(nat, &[a]);
    let c = w.public_node_with(&[a]);
    w.run_for(secs(10));
    assert!(w.connected(b, c));
    let c_id = w.node_id(c);
    assert!(
        w.state_dir(b).iter().any(|(id, _)| *id == c_id),
        "B's peers.json lists C"
    );
    // A, B's only --peer, goes away for good; B crashes and comes back.
    w.leave(a);
    w.crash(b);
    w.run_for(secs(30));
    assert!(!w.is_up(b));
    w.start(b);
    assert_eq!(w.incarnations(b), 2);
    let at = w.run_until_true(secs(10), Duration::from_millis(100), |w| w.connected(b, c));
    assert!(at.is_some(), "B reconnects to C from its state dir");
    assert!(w.ping(b, c) && w.ping(c, b));
}

#[test]
fn roaming_behind_another_nat_keeps_talking_to_a_public_peer() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let home = w.nat(NatKind::FullCone);
    let cafe = w.nat(NatKind::PortRestrictedCone);
    let b = w.node_behind(home, &[a]);
    w.run_for(secs(10));
    let old = w.addr(b);
    w.move_to(b, Place::Behind(cafe)).unwrap();
    assert_ne!(w.addr(b), old);
    // B speaks first from its new address; A follows it there.
    assert!(w.ping(b, a), "B -> A right after the move");
    assert!(w.ping(a, b), "A -> B at B's new address");
    let b_id = w.node_id(b);
    let a_sees = w.node_ref(a).unwrap().known_members();
    let endpoint = a_sees.iter().find(|(id, _)| *id == b_id).unwrap().1;
    assert_eq!(endpoint.ip(), w.nat_ref(cafe).external());
}

#[test]
fn renumbered_nat_recovers() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let nat = w.nat(NatKind::PortRestrictedCone);
    let b = w.node_behind(nat, &[a]);
    w.run_for(secs(10));
    let old = w.nat_ref(nat).external();
    w.renumber_nat(nat).unwrap();
    assert_ne!(w.nat_ref(nat).external(), old);
    assert!(w.ping(b, a) && w.ping(a, b));
}

#[test]
fn neighbours_behind_one_nat_meet_on_their_lan_without_a_hairpin() {
    let seed = test_seed!(SEED);
    for hairpin in [true, false] {
        let mut w = World::new(seed.get());
        let r = w.public_node();
        let nat = w.nat_with(NatConfig {
            hairpin,
            ..NatKind::PortRestrictedCone.config()
        });
        let b = w.node_behind(nat, &[r]);
        let c = w.node_behind(nat, &[r]);
        w.run_for(secs(20));
        assert!(w.connected(b, r) && w.connected(c, r));
        // R's gossip gives each the other's external address, which works
        // only through a hairpin; the candidates they swap through R also
        // hold their LAN addresses, which always work.
        assert!(w.connected(b, c), "hairpin {hairpin}");
        assert!(w.ping(b, c) && w.ping(c, b));
        let off = w.nat_ref(nat).stats().drops.get(&NatDrop::HairpinOff);
        assert_eq!(off.is_some(), !hairpin);
        if !hairpin {
            let st = w.node_ref(b).expect("up").status(w.instant(w.now()));
            let to_c = st
                .peers
                .iter()
                .find(|p| p.node_id == w.node_id(c).to_string())
                .expect("B knows C");
            assert_eq!(
                to_c.endpoint,
                Some(w.addr(c).to_string()),
                "B reaches C on the LAN"
            );
        }
    }
}

#[test]
fn neighbours_behind_one_carrier_grade_nat_connect_through_its_hairpin() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let r = w.public_node();
    let carrier = w.nat(NatKind::Carrier);
    let home1 = w.nat_behind(carrier, NatKind::PortRestrictedCone);
    let home2 = w.nat_behind(carrier, NatKind::RestrictedCone);
    let b = w.node_behind(home1, &[r]);
    let c = w.node_behind(home2, &[r]);
    w.run_for(secs(20));
    assert!(w.connected(b, c));
    assert!(w.ping(b, c) && w.ping(c, b));
    assert!(w.nat_ref(carrier).stats().hairpinned > 0);
    assert_eq!(w.nat_ref(home1).stats().hairpinned, 0);
}

#[test]
fn ipv6_hosts_connect_and_ipv4_hosts_cannot_reach_them() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.node(Place::PublicV6, &[]);
    let b = w.public_node_v6(&[a]);
    let c = w.public_node_with(&[a]);
    w.run_for(secs(10));
    assert!(w.addr(a).is_ipv6() && w.addr(b).is_ipv6());
    assert!(w.connected(a, b));
    assert!(w.ping(a, b) && w.ping(b, a));
    assert!(!w.has_session(c, a));
    assert!(w.stats().drops.get(&NetDrop::NoRoute).copied().unwrap_or(0) > 0);
}

#[test]
fn links_drop_datagrams_above_their_mtu() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let b = w.public_node_with(&[a]);
    w.run_for(secs(5));
    w.link_mut(b).mtu = 1280;
    assert!(w.ping(a, b), "a small packet fits");
    // 1300 bytes of IP packet + 32 of Tessel + 28 of UDP/IPv4 > 1280.
    let big = w.send_app(a, b, 1300).unwrap();
    w.run_for(secs(2));
    assert_eq!(w.ledger().delivered_at(big), None);
    let too_big = NetDrop::Link(LinkDropKind::TooBig);
    assert_eq!(w.stats().drops.get(&too_big), Some(&1));
    // The largest packet that fits: 1280 − 28 − 32.
    let fits = w.send_app(a, b, 1220).unwrap();
    w.run_for(secs(2));
    assert!(w.ledger().delivered_at(fits).is_some());
}

#[test]
fn impaired_links_keep_the_data_path_correct() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    w.set_default_link(Link {
        loss: 0.05,
        duplicate: 0.2,
        reorder: 0.2,
        jitter: Duration::from_millis(15),
        ..Link::default()
    });
    let r = w.public_node();
    let nat = w.nat(NatKind::RestrictedCone);
    let hosts = [r, w.node_behind(nat, &[r]), w.public_node_with(&[r])];
    w.run_for(secs(20));
    for i in 0..300 {
        let (a, b) = (hosts[i % 3], hosts[(i + 1 + i / 3 % 2) % 3]);
        w.send_app(a, b, 100 + i);
        w.run_for(Duration::from_millis(50));
    }
    w.run_for(secs(5));
    assert_eq!(
        w.ledger().violations(),
        &[],
        "never modified or delivered twice"
    );
    let delivered = w.ledger().delivered_count();
    assert!(delivered >= 240, "{delivered} of 300 delivered");
    // Duplicates reached the nodes and their replay windows stopped them.
    let replays: u64 = hosts
        .iter()
        .map(|&h| {
            w.node_ref(h)
                .unwrap()
                .drops()
                .get(tessel_overlay::node::DropReason::Replay)
        })
        .sum();
    assert!(replays > 0);
}

#[test]
fn keepalives_hold_a_nat_mapping_that_outlives_them() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let nat = w.nat_with(NatConfig {
        timeout: secs(30),
        ..NatKind::PortRestrictedCone.config()
    });
    let b = w.node_behind(nat, &[a]);
    w.run_for(secs(5));
    assert!(w.connected(a, b));
    // Ten idle minutes: the node's 25 s keepalive beats the 30 s timeout.
    w.run_for(secs(600));
    assert!(w.ping(a, b), "A reaches B through the held mapping");
    let no_mapping = NetDrop::Nat(NatDropKind::NoMapping);
    assert_eq!(w.stats().drops.get(&no_mapping), None);
}

#[test]
fn a_nat_timeout_shorter_than_the_keepalive_closes_the_door() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let nat = w.nat_with(NatConfig {
        timeout: secs(20),
        ..NatKind::PortRestrictedCone.config()
    });
    let b = w.node_behind(nat, &[a]);
    w.run_for(secs(5));
    assert!(w.connected(a, b));
    // Idle: B refreshes its mapping every 25 s, the NAT forgets it after 20 s,
    // so some of A's keepalives find the door closed.
    w.run_for(secs(300));
    let no_mapping = NetDrop::Nat(NatDropKind::NoMapping);
    assert!(w.stats().drops.get(&no_mapping).is_some_and(|&n| n > 0));
}
