//! Records in the virtual-time harness of `tests.rs`: values published by
//! members are kept by the members nearest their key and fetched by any
//! other, one per publisher; forged, older and expired records are not
//! served.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::wire::record::{emit_found, emit_record, emit_signed_part, signing_message, Record};

/// A record of `signer` under `key`.
fn record(signer: &SigningKey, key: [u8; 32], seq: u64, value: &[u8]) -> Vec<u8> {
    let publisher = signer.verifying_key().to_bytes();
    let mut part = Vec::new();
    emit_signed_part(&publisher, &key, seq, 600, value, &mut part).unwrap();
    let sig = signer.sign(&signing_message(&part)).to_bytes();
    crate::wire::to_vec(|o| emit_record(&part, &sig, o))
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

/// The answers node `i` got for `key`, each sorted by publisher.
fn answers(net: &Net, i: usize, key: [u8; 32]) -> Vec<Vec<(NodeId, Vec<u8>)>> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Records { key: k, records } if *k == key => {
                let mut r = records.clone();
                r.sort();
                Some(r)
            }
            _ => None,
        })
        .collect()
}

/// Which nodes keep records under `key`.
fn keepers(net: &Net, key: &[u8; 32]) -> Vec<usize> {
    (0..net.nodes.len())
        .filter(|&i| !net.node(i).records.get(net.now, key).is_empty())
        .collect()
}

fn publish(net: &mut Net, i: usize, key: [u8; 32], value: &[u8], ttl: Duration) {
    let now = net.now;
    net.nodes[i].1.publish_record(now, key, value, ttl).unwrap();
    net.drain(i);
    net.run_for(Duration::from_secs(1));
}

fn fetch(net: &mut Net, i: usize, key: [u8; 32]) -> Vec<(NodeId, Vec<u8>)> {
    let now = net.now;
    net.events[i].clear();
    net.nodes[i].1.fetch_record(now, key).unwrap();
    net.drain(i);
    net.run_for(Duration::from_secs(8));
    let mut got = answers(net, i, key);
    assert_eq!(got.len(), 1, "node {i}: one answer");
    got.pop().unwrap()
}

#[test]
fn published_values_are_kept_near_their_key_and_found_by_any_member() {
    let mut net = network();
    let key = [0x5a; 32];
    publish(
        &mut net,
        4,
        key,
        b"node 4 hosts it",
        Duration::from_secs(600),
    );

    // The member whose address is nearest the key keeps it, and at most
    // REPLICAS others with it.
    let target = super::contacts::key(net.node(0).prefix().record_addr(&key));
    let nearest = (0..net.nodes.len())
        .min_by_key(|&i| super::contacts::key(net.node(i).ipv6()) ^ target)
        .unwrap();
    let kept = keepers(&net, &key);
    assert!(
        kept.contains(&nearest),
        "kept by {kept:?}, nearest {nearest}"
    );
    assert!(kept.len() <= 1 + crate::node::records::REPLICAS, "{kept:?}");

    // Every member finds it, with its publisher.
    let four = net.node(4).id();
    for i in 0..net.nodes.len() {
        assert_eq!(
            fetch(&mut net, i, key),
            vec![(four, b"node 4 hosts it".to_vec())],
            "node {i}"
        );
    }

    // Another publisher's value sits beside it; a publisher's newer value
    // replaces its older one.
    publish(&mut net, 7, key, b"node 7 too", Duration::from_secs(600));
    publish(&mut net, 4, key, b"node 4 moved", Duration::from_secs(600));
    let seven = net.node(7).id();
    let mut expected = vec![
        (four, b"node 4 moved".to_vec()),
        (seven, b"node 7 too".to_vec()),
    ];
    expected.sort();
    assert_eq!(fetch(&mut net, 10, key), expected);
}

#[test]
fn a_key_nobody_published_is_not_found_and_records_expire() {
    let mut net = network();
    assert!(fetch(&mut net, 3, [9; 32]).is_empty());
    assert_eq!(net.node(3).record_stats().not_found, 1);

    let key = [0x33; 32];
    publish(&mut net, 2, key, b"short-lived", Duration::from_secs(5));
    assert!(!keepers(&net, &key).is_empty());
    net.run_for(Duration::from_secs(5));
    assert!(keepers(&net, &key).is_empty());
    assert!((0..net.nodes.len()).any(|i| net.node(i).record_stats().expired > 0));
    let now = net.now;
    assert_eq!(
        net.nodes[2]
            .1
            .publish_record(now, key, &[0; 1025], Duration::from_secs(5)),
        Err(RecordError::TooLarge)
    );
}

#[test]
fn forged_and_misplaced_records_are_refused_and_counted() {
    let mut net = network();
    let signer = SigningKey::from_bytes(&[44; 32]);
    let key = [0x44; 32];
    let mut forged = record(&signer, key, 1, b"node 4 hosts me");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    // The forgery sent by a member as a store and as a replica.
    let from = net.node(4).id();
    let origin = *from.as_bytes();
    let r = Record::parse(&forged).unwrap();
    for op in [
        crate::wire::record::Op::Store(r),
        crate::wire::record::Op::Replica(r),
    ] {
        let mut msg = Vec::new();
        crate::wire::record::RecordMessage {
            hop_limit: 3,
            id: 1,
            origin,
            op,
        }
        .emit(&mut msg);
        let now = net.now;
        assert!(net.node(5).usable_hop(now, &from));
        net.nodes[5].1.consume_record(now, from, &msg);
    }
    let now = net.now;
    net.nodes[5].1.consume_record(now, from, b"\x07garbage");
    assert_eq!(net.node(5).drops().get(DropReason::RecordRejected), 2);
    assert_eq!(net.node(5).drops().get(DropReason::BadInner), 1);
    assert!(keepers(&net, &key).is_empty());

    // An answer to a fetch of node 5 with a valid record of another key,
    // and a forged one of the right key: neither is taken.
    let now = net.now;
    net.nodes[5].1.fetch_record(now, key).unwrap();
    let id = net.node(5).records.fetches[&key].id;
    let elsewhere = record(&signer, [0x45; 32], 1, b"another key");
    let me = *net.node(5).id().as_bytes();
    let answer = crate::wire::to_vec(|o| emit_found(id, me, key, 0, 1, &[&elsewhere, &forged], o));
    net.nodes[5].1.consume_record(now, from, &answer);
    assert_eq!(net.node(5).drops().get(DropReason::RecordRejected), 4);
    net.drain(5);
    net.run_for(Duration::from_secs(8));
    assert_eq!(answers(&net, 5, key), vec![vec![]]);
}

/// Values of every member under one key, too many for one answer: the
/// answer comes in parts and the fetch collects them all.
#[test]
fn many_publishers_under_one_key_come_back_in_parts() {
    let mut net = network();
    let key = [0x77; 32];
    for i in 0..net.nodes.len() {
        let value = vec![i as u8; 900];
        let now = net.now;
        net.nodes[i]
            .1
            .publish_record(now, key, &value, Duration::from_secs(600))
            .unwrap();
        net.drain(i);
    }
    net.run_for(Duration::from_secs(2));
    let got = fetch(&mut net, 3, key);
    let mut expected: Vec<(NodeId, Vec<u8>)> = (0..net.nodes.len())
        .map(|i| (net.node(i).id(), vec![i as u8; 900]))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}
