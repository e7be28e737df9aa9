//! Several threads run the nodes of a world, and the run is the same, event
//! for event, as on one thread.

use std::time::Duration;

use tessel_sim::chaos::{Chaos, ChaosConfig, Phase, Report};
use tessel_sim::{secs, test_seed, Link, NatKind, World};

/// Runs a chaosnet to its end; returns its report and how many host steps
/// ran ahead on the threads.
fn chaos(seed: u64, threads: usize) -> (Report, u64) {
    let mut cfg = ChaosConfig::new(40, 2.0, seed);
    cfg.actions_per_node_minute = 0.5;
    cfg.threads = threads;
    let mut c = Chaos::new(cfg).unwrap();
    while c.phase() != Phase::Done {
        c.advance(Duration::from_secs(30));
    }
    (c.report(), c.world().stats().steps_ahead)
}

#[test]
fn a_chaosnet_runs_the_same_on_one_two_and_three_threads() {
    let seed = test_seed!(3);
    let (one, ahead) = chaos(seed.get(), 1);
    assert_eq!(ahead, 0, "one thread runs no step ahead");
    assert!(one.events > 10_000, "a busy run: {} events", one.events);
    for threads in [2, 3] {
        let (other, ahead) = chaos(seed.get(), threads);
        assert!(
            ahead > one.events / 4,
            "{threads} threads ran {ahead} of {} steps ahead",
            one.events
        );
        assert_eq!(other.digest, one.digest, "{threads} threads");
        assert_eq!(other.events, one.events);
        assert_eq!(other.traffic, one.traffic);
        assert_eq!(other.actions, one.actions);
        assert_eq!(other.app_delivered, one.app_delivered);
        assert_eq!(other.violations, one.violations);
        assert_eq!(other.recovery.confirmed, one.recovery.confirmed);
    }
}

/// NATs of every kind (hairpins and a carrier-grade NAT among them), lossy
/// links that duplicate and reorder, a partition and pings.
fn busy_world(seed: u64, threads: usize) -> World {
    let mut w = World::new(seed);
    w.set_threads(threads);
    w.set_default_link(Link {
        latency: Duration::from_millis(15),
        jitter: Duration::from_millis(10),
        loss: 0.05,
        duplicate: 0.05,
        reorder: 0.05,
        ..Link::default()
    });
    let r = w.public_node();
    let cgn = w.nat(NatKind::Carrier);
    let mut hosts = vec![r];
    for kind in [
        NatKind::FullCone,
        NatKind::RestrictedCone,
        NatKind::PortRestrictedCone,
        NatKind::SymmetricRandom,
    ] {
        let nat = w.nat(kind);
        hosts.push(w.node_behind(nat, &[r]));
        hosts.push(w.node_behind(nat, &[r]));
    }
    let home = w.nat_behind(cgn, NatKind::PortRestrictedCone);
    hosts.push(w.node_behind(home, &[r]));
    hosts.push(w.node_behind(cgn, &[r]));
    for _ in 0..4 {
        hosts.push(w.public_node_with(&[r]));
    }
    w.run_for(secs(20));
    w.partition(&[&hosts[..5]]);
    for (i, &a) in hosts.iter().enumerate() {
        let b = hosts[(i * 7 + 3) % hosts.len()];
        if a != b {
            w.send_app(a, b, 300);
        }
    }
    w.run_for(secs(20));
    w.heal_partition();
    for (i, &a) in hosts.iter().enumerate() {
        let b = hosts[(i * 5 + 1) % hosts.len()];
        if a != b {
            w.ping(a, b);
        }
    }
    w.run_for(secs(60));
    w
}

#[test]
fn a_world_with_nats_and_faults_runs_the_same_on_two_threads() {
    let seed = test_seed!(4);
    let one = busy_world(seed.get(), 1);
    let two = busy_world(seed.get(), 2);
    assert!(two.stats().steps_ahead > 1000, "steps ran ahead");
    assert_eq!(two.digest(), one.digest());
    assert_eq!(two.stats().events, one.stats().events);
    assert_eq!(two.total_sent(), one.total_sent());
    assert_eq!(
        two.ledger().delivered_count(),
        one.ledger().delivered_count()
    );
}
