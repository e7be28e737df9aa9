//! Managed mode in virtual time: members show the owner's certificates in
//! their handshakes, a revocation list spreads through sessions and closes
//! the revoked member's, and certificates expire.

use std::time::Duration;

use super::*;
use crate::identity::{MemberCert, NetworkId, OwnerKey, RevocationList, SignedRotation};
use crate::wire::revocations::Entry;

/// The nodes' wall clock at the start (see `test_nodes::config`), in seconds.
pub(super) const START: u64 = 1_800_000_000;
pub(super) const DAY: u64 = 86_400;

pub(super) fn network() -> NetworkId {
    NetworkKey::from_secret([9; 32]).id()
}

pub(super) fn owner() -> OwnerKey {
    OwnerKey::from_seed([42; 32])
}

/// A certificate from `owner` for `node`, valid until `not_after`.
pub(super) fn cert(owner: &OwnerKey, node: &NodeId, name: &str, not_after: u64) -> MemberCert {
    MemberCert::sign(
        owner,
        &network(),
        node,
        name,
        not_after,
        &["ops".to_string()],
    )
    .unwrap()
}

/// Adds node `seed` (bootstrapping from node 0 unless it is the first),
/// managed by `owner` with a certificate valid until `not_after`.
pub(super) fn add_member(net: &mut Net, seed: u8, owner: &OwnerKey, not_after: u64) -> usize {
    let boot = if net.nodes.is_empty() {
        vec![]
    } else {
        vec![addr(0)]
    };
    let i = net.add(config(seed, 9, boot));
    let now = net.now;
    let node = &mut net.nodes[i].1;
    let c = cert(
        owner,
        &node.id(),
        &format!("member number {seed}"),
        not_after,
    );
    node.set_managed(now, owner.id(), c, None).unwrap();
    i
}

#[test]
fn managed_members_connect_and_know_each_others_certificates() {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=3 {
        add_member(&mut net, seed, &o, START + DAY);
    }
    net.run_for(Duration::from_secs(3));
    for (a, b) in [(0, 1), (0, 2), (1, 2), (2, 1)] {
        assert!(net.connected(a, b), "{a} -> {b}");
    }
    assert!(ping(&mut net, 1, 2, b"managed"));
    let b = net.node(2).id();
    let seen = net.node(1).peer_certificate(&b).unwrap();
    assert_eq!(
        (seen.name.as_str(), &seen.groups[..]),
        ("member number 3", &["ops".to_string()][..])
    );
    let status = net.node(0).managed_status().unwrap();
    assert_eq!(status.owner, o.id().to_string());
    assert_eq!(status.not_after, START + DAY);
    // The certificates ride inside the handshakes, encrypted.
    let name = b"member number";
    assert!(!net
        .log
        .iter()
        .any(|(_, _, d)| d.windows(name.len()).any(|w| w == name)));
}

/// A node that shows no good certificate gets no session and leaves no
/// state at the member, which counts why.
fn refused(setup: impl FnOnce(&mut Net, usize), reason: DropReason) {
    let mut net = Net::new();
    let o = owner();
    add_member(&mut net, 1, &o, START + DAY);
    let i = net.add(config(2, 9, vec![addr(0)]));
    setup(&mut net, i);
    net.run_for(Duration::from_secs(20));
    assert!(!net.connected(i, 0) && !net.connected(0, i));
    assert!(net.node(0).drops().get(reason) > 0, "{}", reason.name());
    assert!(net.node(0).status(net.now).peers.is_empty());
}

#[test]
fn a_node_without_a_certificate_cannot_join() {
    refused(|_, _| {}, DropReason::CertMissing);
}

#[test]
fn a_certificate_from_another_owner_is_refused() {
    refused(
        |net, i| {
            let other = OwnerKey::from_seed([43; 32]);
            let now = net.now;
            let node = &mut net.nodes[i].1;
            let c = cert(&other, &node.id(), "rogue", START + DAY);
            node.set_managed(now, other.id(), c, None).unwrap();
        },
        DropReason::CertInvalid,
    );
}

#[test]
fn a_certificate_for_another_node_is_refused() {
    refused(
        |net, i| {
            let someone = NodeKey::from_seed([77; 32]).id();
            let c = cert(&owner(), &someone, "stolen", START + DAY);
            // Its own node refuses to start with it; send it anyway.
            let now = net.now;
            let node = &mut net.nodes[i].1;
            assert!(node
                .set_managed(now, owner().id(), c.clone(), None)
                .is_err());
            node.keys.set_certificate(c.as_bytes().to_vec());
        },
        DropReason::CertInvalid,
    );
}

#[test]
fn an_expired_certificate_is_refused() {
    refused(
        |net, i| {
            let node = &mut net.nodes[i].1;
            let c = cert(&owner(), &node.id(), "late", START - 1);
            assert_eq!(
                node.set_managed(net.now, owner().id(), c.clone(), None),
                Err(crate::identity::MembershipError::Expired)
            );
            node.keys.set_certificate(c.as_bytes().to_vec());
        },
        DropReason::CertExpired,
    );
}

#[test]
fn a_garbage_certificate_is_refused() {
    refused(
        |net, i| net.nodes[i].1.keys.set_certificate(vec![0x5a; 200]),
        DropReason::CertInvalid,
    );
}

/// The initiator checks the responder's certificate too.
#[test]
fn a_responder_with_a_bad_certificate_is_refused_by_the_initiator() {
    let mut net = Net::new();
    let other = OwnerKey::from_seed([43; 32]);
    // Node 0 is a member of another owner's making; node 1 initiates to it.
    add_member(&mut net, 1, &other, START + DAY);
    net.nodes[0]
        .1
        .managed
        .as_mut()
        .unwrap()
        .set_owner_for_test(owner().id());
    add_member(&mut net, 2, &owner(), START + DAY);
    net.run_for(Duration::from_secs(20));
    assert!(!net.connected(1, 0));
    assert!(net.node(1).drops().get(DropReason::CertInvalid) > 0);
}

#[test]
fn a_revoked_member_loses_every_session_and_the_list_reaches_everyone() {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=4 {
        add_member(&mut net, seed, &o, START + DAY);
    }
    net.run_for(Duration::from_secs(5));
    for a in 0..4 {
        assert_eq!(sessions(&net, a), 3, "node {a}");
    }
    // Node 3 goes offline; its sessions lapse.
    let offline = std::rc::Rc::new(std::cell::Cell::new(true));
    let off = offline.clone();
    net.filter = Box::new(move |from, to, _| {
        usize::from(!(off.get() && (from == addr(3) || to == addr(3))))
    });
    net.run_for(Duration::from_secs(200));
    assert!(!net.connected(0, 3) && !net.connected(3, 0));
    // The owner revokes node 2; node 0 is handed the list.
    let revoked = net.node(2).id();
    let entry = Entry {
        node_id: *revoked.as_bytes(),
        not_after: START + DAY,
    };
    let list = RevocationList::sign(&o, &network(), START + 300, &[entry]).unwrap();
    let now = net.now;
    let outcome = net.nodes[0].1.apply_revocations(now, list.clone()).unwrap();
    assert_eq!((outcome.serial, outcome.sessions_closed), (START + 300, 1));
    net.drain(0);
    assert!(net.events[0].contains(&Event::RevocationsChanged(list.as_bytes().to_vec())));
    // One hop later node 1 has it from node 0, and has closed its session.
    assert!(net.connected(1, 2));
    net.run_for(Duration::from_millis(50));
    assert!(!net.connected(0, 2) && !net.connected(1, 2));
    let serial = |net: &Net, i: usize| net.node(i).managed_status().unwrap().revocations_serial;
    assert_eq!(serial(&net, 1), Some(START + 300));
    assert!(net
        .node(1)
        .status(net.now)
        .peers
        .iter()
        .all(|p| p.node_id != revoked.to_string()));
    // The same list again is no news, and an older one is refused.
    let now = net.now;
    assert!(matches!(
        net.nodes[1].1.apply_revocations(now, list.clone()),
        Err(RevocationError::NotNewer { .. })
    ));
    // The revoked member cannot come back.
    net.run_for(Duration::from_secs(120));
    assert!(!net.connected(2, 0) && !net.connected(2, 1));
    assert!(!net.connected(0, 2) && !net.connected(1, 2));
    let refusals: u64 = (0..2)
        .map(|i| net.node(i).drops().get(DropReason::Revoked))
        .sum();
    assert!(refusals > 0);
    // Node 3 comes back and gets the list with its first session.
    assert_eq!(serial(&net, 3), None);
    offline.set(false);
    net.run_for(Duration::from_secs(60));
    assert!(net.connected(3, 0) || net.connected(3, 1));
    assert_eq!(serial(&net, 3), Some(START + 300));
    assert!(!net.connected(3, 2));
}

#[test]
fn a_list_not_signed_by_the_owner_is_refused() {
    let mut net = Net::new();
    let o = owner();
    add_member(&mut net, 1, &o, START + DAY);
    add_member(&mut net, 2, &o, START + DAY);
    net.run_for(Duration::from_secs(3));
    let victim = net.node(1).id();
    let entry = Entry {
        node_id: *victim.as_bytes(),
        not_after: START + DAY,
    };
    let forged =
        RevocationList::sign(&OwnerKey::from_seed([43; 32]), &network(), 9, &[entry]).unwrap();
    let now = net.now;
    assert!(matches!(
        net.nodes[0].1.apply_revocations(now, forged.clone()),
        Err(RevocationError::Invalid(_))
    ));
    // Sent by a member inside its session, it is dropped and counted.
    let (now, to) = (net.now, net.node(0).id());
    assert!(net.nodes[1].1.send_encrypted(now, to, forged.as_bytes()));
    net.drain(1);
    net.run_for(Duration::from_secs(1));
    assert!(net.connected(0, 1));
    assert_eq!(net.node(0).drops().get(DropReason::RevocationsRejected), 1);
}

#[test]
fn a_certificate_that_expires_closes_its_session() {
    let mut net = Net::new();
    let o = owner();
    add_member(&mut net, 1, &o, START + DAY);
    add_member(&mut net, 2, &o, START + 60);
    net.run_for(Duration::from_secs(30));
    assert!(net.connected(0, 1) && net.connected(1, 0));
    net.run_for(Duration::from_secs(31));
    assert!(!net.connected(0, 1));
    // Node 1 tries again with its expired certificate, and is refused.
    net.run_for(Duration::from_secs(60));
    assert!(!net.connected(0, 1));
    assert!(!ping(&mut net, 1, 0, b"still here?"));
    assert!(net.node(0).drops().get(DropReason::CertExpired) > 0);
}

#[test]
fn a_rotated_key_reaches_managed_members_and_certificates_still_count() {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=3 {
        add_member(&mut net, seed, &o, START + DAY);
    }
    net.run_for(Duration::from_secs(5));
    assert!(net.connected(1, 0) && net.connected(2, 0));

    // C goes away; A rotates.
    let c = addr(2);
    net.filter = Box::new(move |from, to, _| usize::from(from != c && to != c));
    let now = net.now;
    let new = net.node(0).network_key().rotated([42; 32]);
    let signed = SignedRotation::sign(&o, new, START + 3600);
    net.nodes[0]
        .1
        .rotate_network_key_signed(now, &signed)
        .unwrap();
    net.drain(0);
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.node(1).network_key().epoch(), 1);
    assert!(net.connected(1, 0) && net.connected(0, 1));
    assert!(ping(&mut net, 1, 0, b"managed, new key"));
    let b = net.node(1).id();
    assert!(net.node(0).peer_certificate(&b).is_some());

    // C comes back within the grace: its handshake under the old key still
    // carries and checks certificates, and it takes the new key.
    net.run_for(Duration::from_secs(300));
    net.filter = Box::new(|_, _, _| 1);
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.node(2).network_key().epoch(), 1);
    assert!(net.connected(2, 0) && net.connected(0, 2));
    let cid = net.node(2).id();
    assert!(net.node(0).peer_certificate(&cid).is_some());
    assert!(ping(&mut net, 2, 1, b"back, certified"));
    for i in 0..3 {
        for reason in [
            DropReason::CertMissing,
            DropReason::CertInvalid,
            DropReason::Revoked,
        ] {
            assert_eq!(net.node(i).drops().get(reason), 0, "{i} {reason:?}");
        }
    }
}
