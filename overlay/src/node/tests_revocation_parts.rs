//! Long revocation lists in virtual time: a list of a thousand members
//! travels in parts over sessions, through a member in the middle and
//! across lost datagrams.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::managed::{add_member, network, owner, START};
use super::*;
use crate::identity::RevocationList;
use crate::node::DropReason;
use crate::wire::revocations::{Entry, MAX_WHOLE_LEN};

/// A list revoking `n` made-up members.
fn long_list(serial: u64, n: u32) -> RevocationList {
    let entries: Vec<Entry> = (0..n)
        .map(|i| {
            let mut node_id = [0xee; 32];
            node_id[..4].copy_from_slice(&i.to_be_bytes());
            Entry {
                node_id,
                not_after: START + 86_400,
            }
        })
        .collect();
    RevocationList::sign(&owner(), &network(), serial, &entries).unwrap()
}

#[test]
fn a_thousand_revocations_reach_a_member_two_sessions_away_through_loss() {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=3 {
        add_member(&mut net, seed, &o, START + 86_400);
    }
    net.run_for(Duration::from_secs(10));
    // Nodes 0 and 2 never meet: the list goes 0 → 1 → 2.
    let (a, c) = (addr(0), addr(2));
    net.filter = Box::new(move |from, to, _| {
        usize::from(!((from == a && to == c) || (from == c && to == a)))
    });
    net.run_for(Duration::from_secs(200));
    assert!(net.connected(0, 1) && net.connected(1, 2));
    // One datagram in six is lost from here on.
    let n = Rc::new(Cell::new(0u32));
    net.filter = Box::new(move |from, to, _| {
        if (from == a && to == c) || (from == c && to == a) {
            return 0;
        }
        n.set(n.get() + 1);
        usize::from(!n.get().is_multiple_of(6))
    });

    let list = long_list(7, 1000);
    assert!(list.as_bytes().len() > 30 * MAX_WHOLE_LEN);
    let now = net.now;
    let outcome = net.nodes[0].1.apply_revocations(now, list).unwrap();
    assert_eq!(outcome.serial, 7);
    net.drain(0);
    // A lost offer is made again at the next rekey (2 minutes).
    net.run_for(Duration::from_secs(300));
    for i in 0..3 {
        let status = net.node(i).managed_status().unwrap();
        assert_eq!(status.revocations_serial, Some(7), "node {i}");
        assert_eq!(status.revoked, 1000, "node {i}");
        assert_eq!(net.node(i).drops().get(DropReason::RevocationsRejected), 0);
    }
    // Members stay connected, and node 2 kept the list for the driver.
    assert!(net.connected(1, 2));
    assert!(net.events[2]
        .iter()
        .any(|e| matches!(e, Event::RevocationsChanged(b) if b.len() == 44 + 40_000 + 64)));
}

#[test]
fn a_long_list_not_signed_by_the_owner_is_refused_whole() {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=2 {
        add_member(&mut net, seed, &o, START + 86_400);
    }
    net.run_for(Duration::from_secs(10));
    // Node 0 checks against another owner, so it holds a list node 1
    // will not take.
    let other = crate::identity::OwnerKey::from_seed([3; 32]);
    net.nodes[0]
        .1
        .managed
        .as_mut()
        .unwrap()
        .set_owner_for_test(other.id());
    let entries: Vec<Entry> = (0..100u32)
        .map(|i| Entry {
            node_id: [i as u8; 32],
            not_after: START + 10,
        })
        .collect();
    let forged = RevocationList::sign(&other, &network(), 9, &entries).unwrap();
    let now = net.now;
    net.nodes[0].1.apply_revocations(now, forged).unwrap();
    net.drain(0);
    net.run_for(Duration::from_secs(10));
    let status = net.node(1).managed_status().unwrap();
    assert_eq!(status.revocations_serial, None);
    assert_eq!(net.node(1).drops().get(DropReason::RevocationsRejected), 1);
}
