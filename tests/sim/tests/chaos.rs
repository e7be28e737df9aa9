//! The chaosnet in CI: a short seeded run whose invariants must hold, and
//! a check that a run is reproducible. Longer runs are one command away:
//! `cargo run --release -p tessel-sim -- chaos --nodes 1000 --minutes 10 --seed N`.

use tessel_sim::chaos::{Chaos, ChaosConfig, Report};
use tessel_sim::test_seed;

/// The CI run: 40 nodes, 5 virtual minutes, an agent action per node every
/// two minutes on average (about a hundred in all), then a 60 s recovery
/// bound over 300 random pairs.
///
/// Agents crash and restart, leave and rejoin, take links down, cut paths,
/// partition the network and send traffic; they do not roam, and no NAT
/// allocates random ports, because a node whose NAT mapping changes is
/// unreachable from peers behind restricted NATs for up to ten minutes (see
/// `node_findings.rs`); `chaosnet_with_mapping_changes` below covers that.
fn ci_config(seed: u64) -> ChaosConfig {
    let mut cfg = ChaosConfig::new(40, 5.0, seed);
    cfg.actions_per_node_minute = 0.5;
    cfg.roaming = false;
    cfg.carrier_fraction = 0.0;
    cfg
}

fn assert_passed(report: &Report) {
    println!("{report}");
    assert!(report.passed(), "{report}");
    let a = &report.actions;
    assert!(a.crashes > 0, "the run crashed nodes: {a:?}");
    assert!(
        a.cuts + a.links_down + a.partitions > 0,
        "the run cut links: {a:?}"
    );
    assert!(report.app_delivered > 0);
    assert_eq!(report.recovery.live, report.live);
    assert!(report.recovery.pairs > 100, "enough pairs were probed");
}

#[test]
fn chaosnet_short() {
    let seed = test_seed!(1);
    let report = Chaos::new(ci_config(seed.get())).unwrap().run();
    assert_passed(&report);
}

#[test]
fn chaosnet_runs_are_reproducible() {
    let seed = test_seed!(2);
    let run = || {
        let mut cfg = ci_config(seed.get());
        cfg.nodes = 12;
        cfg.chaos = tessel_sim::secs(120);
        Chaos::new(cfg).unwrap().run()
    };
    let (a, b) = (run(), run());
    assert!(a.events > 1000);
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.events, b.events);
    assert_eq!(a.actions, b.actions);
    assert_eq!(a.traffic, b.traffic);
}

#[test]
fn chaosnet_with_mapping_changes() {
    let seed = test_seed!(1);
    let mut cfg = ChaosConfig::new(24, 4.0, seed.get());
    cfg.actions_per_node_minute = 0.5;
    let report = Chaos::new(cfg).unwrap().run();
    assert_passed(&report);
}
