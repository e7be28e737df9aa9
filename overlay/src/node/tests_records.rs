//! Records in the virtual-time harness of `tests.rs`: a record published by
//! one member is kept by the members nearest its key and fetched by any
//! other; forged, older and expired records are not served.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::wire::record::{emit_record, record_key, signed_part, signing_message};

/// A record of `key` with `salt`, `seq` and `value`, kept for `ttl_s`.
fn record(key: &SigningKey, salt: &[u8], seq: u64, ttl_s: u32, value: &[u8]) -> Vec<u8> {
    let publisher = key.verifying_key().to_bytes();
    let part = signed_part(&publisher, seq, ttl_s, salt, value).unwrap();
    let sig = key.sign(&signing_message(&part)).to_bytes();
    emit_record(part, &sig)
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

/// The answers node `i` got for `key`.
fn answers(net: &Net, i: usize, key: [u8; 32]) -> Vec<Option<Vec<u8>>> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            Event::Record { key: k, record } if *k == key => Some(record.clone()),
            _ => None,
        })
        .collect()
}

/// Which nodes keep the record of `key`.
fn keepers(net: &Net, key: &[u8; 32]) -> Vec<usize> {
    (0..net.nodes.len())
        .filter(|&i| net.node(i).records.get(net.now, key).is_some())
        .collect()
}

#[test]
fn a_published_record_is_kept_near_its_key_and_found_by_any_member() {
    let mut net = network();
    let engine = SigningKey::from_bytes(&[42; 32]);
    let bytes = record(&engine, b"host", 1, 600, b"node 4 hosts me");
    let key = record_key(&engine.verifying_key().to_bytes(), b"host");
    let now = net.now;
    net.nodes[4].1.publish_record(now, &bytes).unwrap();
    net.drain(4);
    net.run_for(Duration::from_secs(1));

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

    // Every other member finds it.
    for i in 0..net.nodes.len() {
        let now = net.now;
        net.nodes[i].1.fetch_record(now, key).unwrap();
        net.drain(i);
        net.run_for(Duration::from_secs(3));
        assert_eq!(answers(&net, i, key), vec![Some(bytes.clone())], "node {i}");
    }

    // A newer version replaces it; an older one is refused.
    let newer = record(&engine, b"host", 2, 600, b"node 7 hosts me now");
    let now = net.now;
    net.nodes[7].1.publish_record(now, &newer).unwrap();
    net.drain(7);
    net.run_for(Duration::from_secs(1));
    let now = net.now;
    net.nodes[4].1.publish_record(now, &bytes).unwrap();
    net.drain(4);
    net.run_for(Duration::from_secs(1));
    for i in keepers(&net, &key) {
        assert_eq!(net.node(i).records.get(net.now, &key), Some(&newer[..]));
    }
    assert!((0..net.nodes.len()).any(|i| net.node(i).record_stats().refused > 0));
}

#[test]
fn a_key_nobody_published_is_not_found_and_records_expire() {
    let mut net = network();
    let nobody = [9u8; 32];
    let now = net.now;
    net.nodes[3].1.fetch_record(now, nobody).unwrap();
    net.drain(3);
    net.run_for(Duration::from_secs(10));
    assert_eq!(answers(&net, 3, nobody), vec![None]);
    assert_eq!(net.node(3).record_stats().not_found, 1);

    let engine = SigningKey::from_bytes(&[43; 32]);
    let bytes = record(&engine, b"", 1, 5, b"short-lived");
    let key = record_key(&engine.verifying_key().to_bytes(), b"");
    let now = net.now;
    net.nodes[2].1.publish_record(now, &bytes).unwrap();
    net.drain(2);
    net.run_for(Duration::from_secs(1));
    assert!(!keepers(&net, &key).is_empty());
    net.run_for(Duration::from_secs(5));
    assert!(keepers(&net, &key).is_empty());
    assert!((0..net.nodes.len()).any(|i| net.node(i).record_stats().expired > 0));
}

#[test]
fn forged_records_are_refused_and_counted() {
    let mut net = network();
    let engine = SigningKey::from_bytes(&[44; 32]);
    let mut forged = record(&engine, b"host", 1, 600, b"node 4 hosts me");
    let key = record_key(&engine.verifying_key().to_bytes(), b"host");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let now = net.now;
    assert_eq!(
        net.nodes[4].1.publish_record(now, &forged),
        Err(RecordError::Invalid)
    );
    assert_eq!(
        net.nodes[4].1.publish_record(now, b"not a record"),
        Err(RecordError::Invalid)
    );
    // The same forgery sent by a member as a store and as a replica.
    let from = net.node(4).id();
    let origin = *from.as_bytes();
    let r = crate::wire::record::Record::parse(&forged).unwrap();
    for op in [
        crate::wire::record::Op::Store(r),
        crate::wire::record::Op::Replica(r),
    ] {
        let msg = crate::wire::record::RecordMessage {
            hop_limit: 3,
            id: 1,
            origin,
            op,
        }
        .emit();
        let now = net.now;
        assert!(net.node(5).usable_hop(now, &from));
        net.nodes[5].1.consume_record(now, from, &msg);
    }
    net.nodes[5].1.consume_record(now, from, b"\x07garbage");
    assert_eq!(net.node(5).drops().get(DropReason::RecordRejected), 2);
    assert_eq!(net.node(5).drops().get(DropReason::BadInner), 1);
    assert!(keepers(&net, &key).is_empty());
}
