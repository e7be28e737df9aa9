//! Names in the virtual-time harness of `tests.rs`: claims travel over
//! sessions and as records, every member resolves every name to the same
//! holder, the member that claimed a name second is told it lost it, and
//! forged claims are dropped and counted.

use std::time::Duration;

use super::*;
use crate::identity::{MemberCert, NameClaim, NodeName, OwnerKey};

/// The nodes' wall clock at the start (see `test_nodes::config`), in ms.
const START_MS: u64 = 1_800_000_000_000;

fn name(s: &str) -> NodeName {
    NodeName::parse(s).unwrap()
}

/// Names node `i` `n`, claimed at `at_ms`.
fn set_name(net: &mut Net, i: usize, n: &str, at_ms: u64) {
    let now = net.now;
    net.nodes[i].1.set_name(now, name(n), at_ms).unwrap();
    net.drain(i);
}

/// Node `i` resolves `n` through the network; returns what it found.
fn resolve(net: &mut Net, i: usize, n: &str) -> Option<NodeId> {
    let now = net.now;
    match net.nodes[i].1.resolve_name(now, &name(n)) {
        NameLookup::Found(id) => return Some(id),
        NameLookup::NotFound => return None,
        NameLookup::Pending => {}
    }
    let seen = net.events[i].len();
    net.drain(i);
    net.run_for(Duration::from_secs(8));
    net.events[i][seen..]
        .iter()
        .find_map(|e| match e {
            Event::NameResolved { name: got, member } if got.as_str() == n => Some(*member),
            _ => None,
        })
        .expect("the fetch of a name always ends")
}

/// Twelve members that all joined through node 0 and had time to meet.
fn network() -> Net {
    let mut net = Net::new();
    net.add(config(1, 5, vec![]));
    for i in 2..=12 {
        net.add(config(i, 5, vec![addr(0)]));
    }
    net.run_for(Duration::from_secs(40));
    net
}

#[test]
fn members_with_a_session_know_each_others_names() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    set_name(&mut net, 0, "alpha", START_MS);
    set_name(&mut net, 1, "beta", START_MS);
    net.run_for(Duration::from_secs(3));
    assert!(net.connected(0, 1));
    let (a, b) = (net.node(0).id(), net.node(1).id());
    // Each knows the other's name without asking the network.
    assert_eq!(net.node(0).member_by_name(&name("beta")), Some(b));
    assert_eq!(net.node(1).member_by_name(&name("alpha")), Some(a));
    assert_eq!(net.node(0).member_by_name(&name("alpha")), Some(a));
    let status = net.node(0).status(net.now);
    let peer = status
        .peers
        .iter()
        .find(|p| p.node_id == b.to_string())
        .unwrap();
    assert_eq!(peer.name.as_deref(), Some("beta"));
    assert_eq!(peer.name_held_by, None);
    assert_eq!(
        status.name,
        Some(NameStatus {
            name: "alpha".into(),
            held_by: None
        })
    );
    // A DNS answer's addresses are the member's overlay addresses.
    let (v6, v4) = net.node(0).member_addresses(&b);
    assert_eq!(v6, net.node(1).ipv6());
    assert_eq!(v4, Some(net.node(1).ipv4()));
}

#[test]
fn any_member_resolves_any_name_through_its_record() {
    let mut net = network();
    set_name(&mut net, 7, "db", START_MS);
    net.run_for(Duration::from_secs(2));
    let db = net.node(7).id();
    // Members with no session with node 7 find the name through the
    // members that keep its record.
    let strangers: Vec<usize> = (0..12)
        .filter(|&i| i != 7 && !net.connected(i, 7))
        .collect();
    assert!(
        !strangers.is_empty(),
        "every member has a session with node 7"
    );
    for i in strangers {
        assert_eq!(resolve(&mut net, i, "db"), Some(db), "node {i}");
        // Asked again within the TTL: answered from memory.
        let now = net.now;
        assert_eq!(
            net.nodes[i].1.resolve_name(now, &name("db")),
            NameLookup::Found(db)
        );
    }
    assert_eq!(resolve(&mut net, 3, "nobody-has-this"), None);
}

#[test]
fn two_claims_of_one_name_resolve_to_the_earlier_everywhere() {
    let mut net = network();
    // Node 4 claimed "web" first; node 9 claims it later.
    set_name(&mut net, 4, "web", START_MS - 60_000);
    set_name(&mut net, 9, "web", START_MS);
    // Both publish, and renew (and look at their own name) after 5 min.
    net.run_for(NAME_RENEW + Duration::from_secs(10));
    let (first, second) = (net.node(4).id(), net.node(9).id());
    for i in 0..12 {
        assert_eq!(resolve(&mut net, i, "web"), Some(first), "node {i}");
    }
    let lost = net.node(9).name_status().unwrap();
    assert_eq!(lost.name, "web");
    assert_eq!(lost.held_by, Some(first.to_string()));
    assert_eq!(net.node(4).name_status().unwrap().held_by, None);
    // The loser is still reachable by its address.
    assert!(ping(&mut net, 4, 9, b"still here"));
    // Members that know node 9's claim say in their status who holds it.
    let mut told = 0;
    for i in 0..12 {
        let status = net.node(i).status(net.now);
        if let Some(p) = status
            .peers
            .iter()
            .find(|p| p.node_id == second.to_string())
        {
            if p.name.is_some() {
                assert_eq!(p.name.as_deref(), Some("web"));
                assert_eq!(p.name_held_by, Some(first.to_string()), "node {i}");
                told += 1;
            }
        }
    }
    assert!(told > 0, "no member had node 9's claim over a session");
}

#[test]
fn the_loser_of_a_direct_conflict_is_told_at_once() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    // Same time: the lower node ID holds the name.
    set_name(&mut net, 0, "web", START_MS);
    set_name(&mut net, 1, "web", START_MS);
    net.run_for(Duration::from_secs(3));
    let (a, b) = (net.node(0).id(), net.node(1).id());
    let (holder, loser) = if a < b { (0, 1) } else { (1, 0) };
    let holder_id = net.node(holder).id();
    assert_eq!(
        net.node(loser).name_status().unwrap().held_by,
        Some(holder_id.to_string())
    );
    assert_eq!(net.node(holder).name_status().unwrap().held_by, None);
    for i in [0, 1] {
        assert_eq!(net.node(i).member_by_name(&name("web")), Some(holder_id));
    }
    // The holder leaves: once its record expires (it no longer renews
    // it), the other holds the name.
    let gone = addr(holder);
    net.filter = Box::new(move |from, to, _| usize::from(from != gone && to != gone));
    net.run_for(Duration::from_secs(60));
    assert!(net.node(loser).name_status().unwrap().held_by.is_some());
    net.run_for(NAME_RECORD_TTL + NAME_RENEW);
    assert_eq!(net.node(loser).name_status().unwrap().held_by, None);
    let loser_id = net.node(loser).id();
    assert_eq!(net.node(loser).member_by_name(&name("web")), Some(loser_id));
}

#[test]
fn forged_and_foreign_claims_are_dropped_and_counted() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    net.add(config(2, 9, vec![addr(0)]));
    net.run_for(Duration::from_secs(3));
    let (b, now) = (net.node(1).id(), net.now);
    let network = net.node(0).network_id();
    // Node 1 passes on a claim made by someone else.
    let other = NodeKey::from_seed([77; 32]);
    let foreign = NameClaim::sign(&other, &network, &name("web"), 1, None);
    net.nodes[0]
        .1
        .consume_name_claim(now, b, foreign.as_bytes());
    // A claim of node 1 with its signature broken.
    let mut forged = NameClaim::sign(
        &NodeKey::from_seed([2; 32]),
        &network,
        &name("web"),
        1,
        None,
    )
    .as_bytes()
    .to_vec();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    net.nodes[0].1.consume_name_claim(now, b, &forged);
    // A claim for another network.
    let elsewhere = NetworkKey::from_secret([3; 32]).id();
    let stray = NameClaim::sign(
        &NodeKey::from_seed([2; 32]),
        &elsewhere,
        &name("web"),
        1,
        None,
    );
    net.nodes[0].1.consume_name_claim(now, b, stray.as_bytes());
    assert_eq!(net.node(0).drops().get(DropReason::NameClaimRejected), 3);
    // Garbage is malformed, not a claim.
    net.nodes[0].1.consume_name_claim(now, b, b"\x0agarbage");
    assert_eq!(net.node(0).drops().get(DropReason::NameClaimRejected), 3);
    assert_eq!(net.node(0).member_by_name(&name("web")), None);
    // The genuine claim is taken.
    let genuine = NameClaim::sign(
        &NodeKey::from_seed([2; 32]),
        &network,
        &name("web"),
        1,
        None,
    );
    net.nodes[0]
        .1
        .consume_name_claim(now, b, genuine.as_bytes());
    assert_eq!(net.node(0).member_by_name(&name("web")), Some(b));
}

#[test]
fn a_managed_node_takes_only_its_certificates_name() {
    let mut net = Net::new();
    let i = net.add(config(1, 9, vec![]));
    let now = net.now;
    let owner = OwnerKey::from_seed([42; 32]);
    let node = &mut net.nodes[i].1;
    let cert = MemberCert::sign(
        &owner,
        &node.network_id(),
        &node.id(),
        "Web-1",
        1_900_000_000,
        &[],
    )
    .unwrap();
    node.set_managed(now, owner.id(), cert, None).unwrap();
    assert_eq!(node.certificate_name(), Some(Ok(name("web-1"))));
    assert!(matches!(
        node.set_name(now, name("db"), START_MS),
        Err(SetNameError::NotTheCertificateName { .. })
    ));
    assert!(node.set_name(now, name("web-1"), START_MS).is_ok());
    assert_eq!(node.name_status().unwrap().name, "web-1");
}
