//! Member expiry under a flood: thousands of made-up members expiring cost
//! each removal a bounded number of steps (O(log n), counted by the peer
//! table), never a pass over the table; and the benchmark (ignored by
//! default, see `bench/expiry.sh`) that prints the longest single call
//! while 4,000 of them expire.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::test_nodes::lone_node as node;
use super::*;
use crate::identity::NodeKey;
use crate::limits::{MAX_SECOND_HAND, PEER_EXPIRY};
use crate::wire::gossip::{self, Entry};

/// Made-up members in the flood.
const FLOOD: u32 = 4000;

fn endpoint(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + (i & 0xff))), 9740)
}

/// Made-up member IDs (valid keys that no node holds).
fn made_up(count: u32) -> Vec<NodeId> {
    (0..count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[4] = 0xe7;
            NodeKey::from_seed(seed).id()
        })
        .collect()
}

/// A node flooded with [`FLOOD`] made-up members: as many as the
/// second-hand tier holds by gossip (news of ages spread over two
/// minutes), the rest as if met first-hand (hellos, beacons), a tenth of
/// them verified, so that every index a member is in gets filled.
fn flooded(t0: Instant) -> (Node, Vec<NodeId>) {
    let mut a = node(t0);
    let flooder = NodeKey::from_seed([2; 32]).id();
    let fake = made_up(FLOOD);
    let (gossiped, met) = fake.split_at(MAX_SECOND_HAND);
    for (n, chunk) in gossiped.chunks(24).enumerate() {
        let entries: Vec<Entry> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| Entry {
                node_id: *id.as_bytes(),
                age_secs: (n % 120) as u16,
                metric: gossip::UNREACHABLE,
                endpoint: endpoint(i as u32),
            })
            .collect();
        a.consume_gossip(
            t0,
            flooder,
            &crate::wire::to_vec(|o| gossip::emit(&entries, o)),
        );
    }
    for (i, id) in met.iter().enumerate() {
        let p = a
            .add_peer_first_hand(*id, Some(endpoint(i as u32)), t0)
            .expect("room for a first-hand member");
        if i % 10 == 0 {
            p.verified = true;
            a.ipv4_member_verified(t0, *id);
        }
    }
    assert_eq!(a.peers.len(), FLOOD as usize);
    (a, fake)
}

#[test]
fn each_removal_of_an_expiring_flood_costs_o_log_n_steps() {
    let t0 = Instant::now();
    let (mut a, fake) = flooded(t0);
    a.handle_timeout(t0);
    a.removal_work = RemovalWork::default();
    let work_before = a.peers.work();
    // Every 5 s until well past the expiry of the oldest and newest news.
    let mut now = t0;
    while now < t0 + PEER_EXPIRY + Duration::from_secs(180) {
        now += Duration::from_secs(5);
        a.handle_timeout(now);
    }
    let expiry_work = a.peers.work() - work_before;
    assert!(fake.iter().all(|id| !a.peers.contains_key(id)));
    assert!(a.peers.is_empty() && a.by_ipv6.is_empty());
    let w = a.removal_work;
    assert_eq!(w.removals, u64::from(FLOOD));
    // log2(4,000) is 12: a removal is a binary search and a few map
    // changes. A pass over the table (or a recomputation of the IPv4
    // view) per removal would be thousands of steps.
    let log_n = u64::from(FLOOD.ilog2() + 1);
    assert!(w.max <= 4 * log_n, "costliest removal: {} steps", w.max);
    // All the expiry work, the expiry index's included, spread over the
    // removals: also O(log n) each.
    let per_removal = expiry_work / w.removals;
    assert!(per_removal <= 4 * log_n, "{per_removal} steps per removal");
    eprintln!(
        "removals {}, steps per removal: max {}, mean {:.1}, with the expiry index {}",
        w.removals,
        w.max,
        w.total as f64 / w.removals as f64,
        per_removal
    );
}

#[test]
fn members_with_renewed_news_outlive_the_flood() {
    let t0 = Instant::now();
    let (mut a, fake) = flooded(t0);
    // Fresh news of a few of them keeps coming; the rest expire.
    let kept: Vec<NodeId> = fake.iter().step_by(97).copied().collect();
    let mut now = t0;
    while now < t0 + PEER_EXPIRY + Duration::from_secs(180) {
        now += Duration::from_secs(5);
        for id in &kept {
            a.peers.get_mut(id).expect("kept").heard_at = now;
        }
        a.handle_timeout(now);
    }
    assert_eq!(a.peers.len(), kept.len());
    assert!(kept.iter().all(|id| a.peers.contains_key(id)));
}

/// Prints the longest single `handle_timeout` while a flood of 4,000
/// made-up members expires (all at once: the worst case, every member's
/// news the same age), and the time to take the flood in. Not a test:
/// run it with `bench/expiry.sh`.
#[test]
#[ignore = "benchmark: bench/expiry.sh"]
fn bench_expiry_stall() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let flooder = NodeKey::from_seed([2; 32]).id();
    let fake = made_up(FLOOD);
    let (gossiped, met) = fake.split_at(MAX_SECOND_HAND);
    let started = Instant::now();
    let mut longest_in = Duration::ZERO;
    for chunk in gossiped.chunks(24) {
        let entries: Vec<Entry> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| Entry {
                node_id: *id.as_bytes(),
                age_secs: 0,
                metric: gossip::UNREACHABLE,
                endpoint: endpoint(i as u32),
            })
            .collect();
        let msg = crate::wire::to_vec(|o| gossip::emit(&entries, o));
        let t = Instant::now();
        a.consume_gossip(t0, flooder, &msg);
        longest_in = longest_in.max(t.elapsed());
    }
    for (i, id) in met.iter().enumerate() {
        let t = Instant::now();
        a.add_peer_first_hand(*id, Some(endpoint(i as u32)), t0);
        a.ipv4_member_verified(t0, *id);
        longest_in = longest_in.max(t.elapsed());
    }
    let taking_in = started.elapsed();
    a.handle_timeout(t0);
    let mut longest = Duration::ZERO;
    let mut now = t0;
    let started = Instant::now();
    while !a.peers.is_empty() {
        now += Duration::from_secs(5);
        let t = Instant::now();
        a.handle_timeout(now);
        longest = longest.max(t.elapsed());
    }
    let expiring = started.elapsed();
    println!(
        "{FLOOD} made-up members: taken in {taking_in:?} (longest call {longest_in:?}); \
         expired in {expiring:?}, longest handle_timeout {longest:?} \
         ({:?} per member)",
        longest / FLOOD
    );
}
