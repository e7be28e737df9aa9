//! Relaying and multi-hop paths: members that cannot reach each other
//! talk through the members between them, end to end encrypted.

use tessel_overlay::node::Path;
use tessel_sim::{secs, test_seed, World};

const SEED: u64 = 3;

/// Public members in a line A–B–C–D where only neighbours reach each other.
fn line_of_four(w: &mut World) -> [tessel_sim::HostId; 4] {
    let a = w.public_node();
    let b = w.public_node_with(&[a]);
    let c = w.public_node_with(&[b]);
    let d = w.public_node_with(&[c]);
    w.cut(a, c);
    w.cut(a, d);
    w.cut(b, d);
    [a, b, c, d]
}

#[test]
fn the_ends_of_a_line_of_four_talk_through_the_middle() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let [a, b, c, d] = line_of_four(&mut w);
    w.run_for(secs(40));
    assert!(w.ping(a, d) && w.ping(d, a), "the ends do not talk");
    assert!(w.ping(a, c) && w.ping(b, d));
    // A's traffic for D goes into the line at B; D's comes back through C.
    assert_eq!(w.path(a, d), Some(Path::Relayed(w.node_id(b))));
    assert_eq!(w.path(d, a), Some(Path::Relayed(w.node_id(c))));
    let through_b = w.node_ref(b).unwrap().relay_stats();
    let through_c = w.node_ref(c).unwrap().relay_stats();
    assert!(through_b.forwarded > 0 && through_c.forwarded > 0);
    assert_eq!(w.ledger().violations(), &[]);
}

#[test]
fn a_ring_of_four_routes_around_a_cut() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let b = w.public_node_with(&[a]);
    let d = w.public_node_with(&[a]);
    let c = w.public_node_with(&[b, d]);
    // A ring A–B–C–D–A: the diagonals are cut.
    w.cut(a, c);
    w.cut(b, d);
    w.run_for(secs(40));
    assert!(w.ping(a, c) && w.ping(c, a));
    let Some(Path::Relayed(first)) = w.path(a, c) else {
        panic!("A reaches C directly across a cut diagonal");
    };
    // Cut the link A uses, while traffic flows: it goes the other way round.
    w.cut(a, w.host_of(&first).unwrap());
    let back = w.run_until_true(
        secs(90),
        secs(1),
        |w| matches!(w.path(a, c), Some(Path::Relayed(r)) if r != first),
    );
    assert!(back.is_some(), "A never routed around the cut");
    assert!(w.ping(a, c) && w.ping(c, a));
    assert_eq!(w.ledger().violations(), &[]);
}

#[test]
fn a_relay_that_flips_a_byte_gets_its_frames_dropped() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let a = w.public_node();
    let b = w.public_node_with(&[a]);
    let c = w.public_node_with(&[b]);
    w.cut(a, c);
    w.run_for(secs(30));
    assert!(w.ping(a, c), "no relayed path to begin with");
    w.tamper_relayed(b);
    let before = w.node_ref(c).unwrap().drops().total();
    for _ in 0..5 {
        assert!(!w.ping(a, c), "a tampered packet was delivered");
    }
    let after = w.node_ref(c).unwrap().drops().total();
    assert!(after > before, "the tampered frames were not counted");
    // Nothing that arrived was altered: the ledger checks every delivery.
    assert_eq!(w.ledger().violations(), &[]);
}

#[test]
fn a_conversation_starts_relayed_moves_direct_and_falls_back() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let r = w.public_node();
    let n1 = w.nat(tessel_sim::NatKind::PortRestrictedCone);
    let n2 = w.nat(tessel_sim::NatKind::PortRestrictedCone);
    let b = w.node_behind(n1, &[r]);
    let c = w.node_behind(n2, &[r]);
    let talked = w.run_until_true(secs(30), tessel_sim::millis(10), |w| w.connected(b, c));
    assert!(talked.is_some());
    let direct = w.run_until_true(secs(30), tessel_sim::millis(10), |w| w.direct(b, c));
    assert!(direct.is_some(), "never moved to a direct path");
    // The direct path dies (a firewall between them): back through R.
    w.cut(b, c);
    let mut fell_back = false;
    for _ in 0..120 {
        // Traffic keeps flowing, so B notices the direct path died.
        if matches!(w.path(b, c), Some(Path::Relayed(_))) && w.ping(b, c) {
            fell_back = true;
            break;
        }
        w.send_app(b, c, 100);
        w.run_for(secs(1));
    }
    assert!(fell_back, "never fell back to the relay");
    assert!(w.ping(c, b));
    assert_eq!(w.ledger().violations(), &[]);
}
