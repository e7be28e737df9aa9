//! Managed mode in virtual time: the owner hands the network to a new
//! owner key; the handover spreads over sessions, certificates of the new
//! owner are taken at once and those of the old one until the grace ends,
//! and forged handovers are refused.

use std::time::Duration;

use super::managed::{add_member, cert, network, owner, DAY, START};
use super::*;
use crate::identity::{NetworkKey, OwnerHandover, OwnerKey};
use crate::node::{DropReason, HandoverError};
use crate::wire::owner_handover;

/// Three members of a managed network, connected.
fn three_members() -> (Net, OwnerKey) {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=3 {
        add_member(&mut net, seed, &o, START + DAY);
    }
    net.run_for(Duration::from_secs(10));
    assert!(net.connected(1, 0) && net.connected(2, 0) && net.connected(2, 1));
    (net, o)
}

fn owner_of(net: &Net, i: usize) -> String {
    net.node(i).managed_status().unwrap().owner
}

#[test]
fn a_handover_spreads_admits_the_new_owners_members_and_retires_the_old_after_its_grace() {
    let (mut net, old) = three_members();
    let new = OwnerKey::from_seed([77; 32]);
    let grace_end = START + 600;
    let h = OwnerHandover::sign(&old, &network(), &new.id(), grace_end);
    let now = net.now;
    let outcome = net.nodes[0].1.apply_owner_handover(now, h.clone()).unwrap();
    assert_eq!((outcome.owner, outcome.grace_end_s), (new.id(), grace_end));
    assert_eq!(
        net.nodes[0].1.apply_owner_handover(now, h.clone()),
        Err(HandoverError::Held)
    );
    net.drain(0);
    net.run_for(Duration::from_secs(2));
    for i in 0..3 {
        assert_eq!(owner_of(&net, i), new.id().to_string(), "node {i}");
        let status = net.node(i).managed_status().unwrap();
        assert_eq!(status.previous_owner, Some(old.id().to_string()));
        assert_eq!(status.previous_owner_grace_end, Some(grace_end));
        assert!(net.events[i].contains(&Event::OwnerHandoversChanged(vec![h.clone()])));
        assert_eq!(
            net.node(i).drops().get(DropReason::OwnerHandoverRejected),
            0
        );
    }
    // During the grace the old owner's members keep their sessions.
    assert!(net.connected(1, 0) && net.connected(2, 1));

    // A member certified by the new owner, started with the old owner and
    // the handover kept from an earlier run, joins everyone.
    let i = net.add(config(4, 9, vec![addr(0)]));
    let now = net.now;
    let node = &mut net.nodes[i].1;
    let c = cert(&new, &node.id(), "newcomer", START + DAY);
    node.set_managed_with_handovers(now, old.id(), c, None, std::slice::from_ref(&h))
        .unwrap();
    assert_eq!(owner_of(&net, i), new.id().to_string());
    net.run_for(Duration::from_secs(30));
    for j in 0..3 {
        assert!(net.connected(i, j) && net.connected(j, i), "node {j}");
        let pc = net.node(j).peer_certificate(&net.node(i).id()).unwrap();
        assert!(!pc.by_previous_owner);
    }
    let pc = net.node(i).peer_certificate(&net.node(0).id()).unwrap();
    assert!(pc.by_previous_owner);

    // After the grace, sessions the old owner's certificates admitted
    // close, and those certificates are refused from then on.
    net.run_for(Duration::from_secs(600));
    for j in 0..3 {
        assert!(!net.connected(i, j) && !net.connected(j, i), "node {j}");
    }
    assert!(!net.connected(1, 0) && !net.connected(2, 1));
    let refused: u64 = (0..4)
        .map(|j| net.node(j).drops().get(DropReason::CertRetiredOwner))
        .sum();
    assert!(refused > 0);
}

#[test]
fn forged_and_foreign_handovers_are_refused() {
    let (mut net, old) = three_members();
    let stranger = OwnerKey::from_seed([78; 32]);
    let now = net.now;
    // Signed by a key that is not the owner, as itself.
    let own_claim = OwnerHandover::sign(&stranger, &network(), &stranger.id(), START + 600);
    let by_stranger = OwnerHandover::sign(&stranger, &network(), &old.id(), START + 600);
    assert!(matches!(
        net.nodes[0]
            .1
            .apply_owner_handover(now, by_stranger.clone()),
        Err(HandoverError::NotFromOwner { .. })
    ));
    assert!(matches!(
        net.nodes[0].1.apply_owner_handover(now, own_claim),
        Err(HandoverError::Invalid(_))
    ));
    // Naming the owner as the old key, but signed by another.
    let mut forged = by_stranger.as_bytes().to_vec();
    forged[34..66].copy_from_slice(old.id().as_bytes());
    forged[66..98].copy_from_slice(stranger.id().as_bytes());
    let forged_handover = OwnerHandover::parse(&forged).unwrap();
    assert!(matches!(
        net.nodes[0].1.apply_owner_handover(now, forged_handover),
        Err(HandoverError::Invalid(_))
    ));
    // The owner's, but for another network.
    let elsewhere = NetworkKey::from_secret([8; 32]).id();
    let foreign = OwnerHandover::sign(&old, &elsewhere, &stranger.id(), START + 600);
    // Sent over a session anyway: dropped, the owner unchanged.
    let to = net.node(1).id();
    for msg in [&forged[..], foreign.as_bytes(), by_stranger.as_bytes()] {
        assert!(net.nodes[0].1.send_encrypted(now, to, msg));
    }
    assert!(net.nodes[0]
        .1
        .send_encrypted(now, to, &forged[..owner_handover::LEN - 1]));
    net.drain(0);
    net.run_for(Duration::from_secs(2));
    assert_eq!(owner_of(&net, 1), old.id().to_string());
    assert_eq!(
        net.node(1).drops().get(DropReason::OwnerHandoverRejected),
        3
    );
    assert!(net.node(1).drops().get(DropReason::BadInner) >= 1);
    assert!(net.connected(1, 0) && net.connected(2, 1));
}
