//! The bound on how many pairs of members one relay carries at once.

use tessel_sim::{secs, test_seed, HostId, World};

const SEED: u64 = 5;

/// A public hub and four leaves that reach only the hub: every pair of
/// leaves talks through it.
fn star(w: &mut World) -> (HostId, Vec<HostId>) {
    let hub = w.public_node();
    let leaves: Vec<HostId> = (0..4).map(|_| w.public_node_with(&[hub])).collect();
    for (i, &a) in leaves.iter().enumerate() {
        for &b in &leaves[i + 1..] {
            w.cut(a, b);
        }
    }
    (hub, leaves)
}

/// The pairs of leaves that can exchange a packet both ways.
fn talking_pairs(w: &mut World, leaves: &[HostId]) -> Vec<(HostId, HostId)> {
    let mut pairs = Vec::new();
    for (i, &a) in leaves.iter().enumerate() {
        for &b in &leaves[i + 1..] {
            if w.ping(a, b) && w.ping(b, a) {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

#[test]
fn a_relay_at_its_pair_limit_refuses_new_pairs_and_counts_them() {
    let seed = test_seed!(SEED);
    let mut w = World::new(seed.get());
    let (hub, leaves) = star(&mut w);
    w.limit_relayed_pairs(hub, 1);
    w.run_for(secs(30));
    let talking = talking_pairs(&mut w, &leaves);
    assert_eq!(
        talking.len(),
        1,
        "pairs through a relay limited to one: {talking:?}"
    );
    let stats = w.node_ref(hub).unwrap().relay_stats();
    assert_eq!(stats.pairs, 1);
    assert!(stats.refused_pairs > 0, "refusals not counted: {stats:?}");
    assert!(stats.refused >= stats.refused_pairs);

    // Without the limit every pair talks.
    w.limit_relayed_pairs(hub, 512);
    w.run_for(secs(60));
    assert_eq!(talking_pairs(&mut w, &leaves).len(), 6);
    assert_eq!(w.node_ref(hub).unwrap().relay_stats().pairs, 6);
    assert_eq!(w.ledger().violations(), &[]);
}
