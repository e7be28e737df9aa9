//! Managed mode in virtual time: only the owner rotates the network key,
//! and members drop key updates the owner did not sign.

use std::time::Duration;

use super::managed::{add_member, owner, START};
use super::*;
use crate::identity::{OwnerKey, SignedRotation};
use crate::node::{DropReason, RotateError};
use crate::wire::key_update;
use crate::wire::to_vec;

/// Three members of a managed network, connected.
fn three_members() -> (Net, OwnerKey) {
    let mut net = Net::new();
    let o = owner();
    for seed in 1..=3 {
        add_member(&mut net, seed, &o, START + 86_400);
    }
    net.run_for(Duration::from_secs(10));
    assert!(net.connected(1, 0) && net.connected(2, 0));
    (net, o)
}

#[test]
fn members_refuse_rotations_the_owner_did_not_sign() {
    let (mut net, o) = three_members();
    let now = net.now;
    // A member cannot rotate on its own.
    let unsigned = net.nodes[0].1.rotate_network_key(now, [5; 32], GRACE);
    assert_eq!(unsigned.unwrap_err(), RotateError::OwnerSignatureRequired);
    // Nor with another key's signature.
    let new = net.node(0).network_key().rotated([5; 32]);
    let forged = SignedRotation::sign(&OwnerKey::from_seed([7; 32]), new.clone(), START + 3600);
    let refused = net.nodes[0].1.rotate_network_key_signed(now, &forged);
    assert_eq!(refused.unwrap_err(), RotateError::NotOwners);
    // A key update sent anyway, bare or with a wrong signature, is dropped.
    let to = net.node(1).id();
    let (id, epoch) = (*new.id().as_bytes(), new.epoch());
    let bare = to_vec(|o| key_update::emit(epoch, START + 3600, &id, new.secret(), o));
    let wrong = to_vec(|o| {
        key_update::emit_signed(
            epoch,
            START + 3600,
            &id,
            new.secret(),
            forged.signature(),
            o,
        )
    });
    // The owner's signature, but over another grace end.
    let good = SignedRotation::sign(&o, new.clone(), START + 3600);
    let stretched = to_vec(|o| {
        key_update::emit_signed(
            epoch,
            START + 99_999,
            &id,
            new.secret(),
            good.signature(),
            o,
        )
    });
    for msg in [&bare[..], &wrong[..], &stretched[..]] {
        assert!(net.nodes[0].1.send_encrypted(now, to, msg));
    }
    net.drain(0);
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.node(1).network_key().epoch(), 0);
    assert_eq!(net.node(1).drops().get(DropReason::KeyUpdateUnsigned), 3);
    assert_eq!(net.node(1).rotation_stats().updates_accepted, 0);
    assert!(ping(&mut net, 1, 0, b"old key still"));
}

#[test]
fn an_owner_signed_rotation_reaches_every_member_and_is_handed_on() {
    let (mut net, o) = three_members();
    // Node 2 hears of the new key only from node 1.
    let (a, c) = (addr(0), addr(2));
    net.filter = Box::new(move |from, to, _| usize::from(!(from == a && to == c)));
    let now = net.now;
    let new = net.node(0).network_key().rotated([6; 32]);
    let signed = SignedRotation::sign(&o, new.clone(), START + 3600);
    net.nodes[0]
        .1
        .rotate_network_key_signed(now, &signed)
        .unwrap();
    // The same rotation twice is not the next key any more.
    let again = net.nodes[0].1.rotate_network_key_signed(now, &signed);
    assert_eq!(again.unwrap_err(), RotateError::NotNext);
    net.drain(0);
    net.run_for(Duration::from_secs(20));
    for i in 0..3 {
        let key = net.node(i).network_key();
        assert_eq!((key.epoch(), key.secret()), (1, new.secret()), "node {i}");
        assert_eq!(net.node(i).drops().get(DropReason::KeyUpdateUnsigned), 0);
        // Each holds the owner's signature to hand the key on.
        let kept = net.node(i).signed_rotation().expect("signed");
        assert!(kept.verify(&o.id()));
        assert_eq!(kept.grace_end_s(), START + 3600);
    }
    assert!(net.node(2).rotation_stats().updates_accepted == 1);
    net.filter = Box::new(|_, _, _| 1);
    assert!(ping(&mut net, 2, 0, b"new key, owner-signed"));
}

const GRACE: Duration = Duration::from_secs(3600);
