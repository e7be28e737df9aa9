//! The peer table under a flood of made-up members: gossip entries and
//! signals naming members that do not exist fill at most the second-hand
//! tier, never push out verified members or members with recent news, are
//! counted as `peer_table_full`, and are forgotten once nobody speaks of
//! them.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::test_nodes::{candidates_signal, lone_node as node};
use super::*;
use crate::identity::NodeKey;
use crate::limits::{MAX_PEERS, MAX_SECOND_HAND, PEER_EXPIRY};
use crate::wire::gossip::{self, Entry};

fn endpoint(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)), 9740)
}

/// Made-up members: valid keys that no node holds.
fn made_up(from: u32, count: u32) -> Vec<NodeKey> {
    (from..from + count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[4] = 0xee;
            NodeKey::from_seed(seed)
        })
        .collect()
}

/// Gossip messages announcing `ids`, 24 to a message, with news `age_secs` old.
fn gossip_of(ids: &[NodeId], age_secs: u16) -> Vec<Vec<u8>> {
    ids.chunks(24)
        .map(|chunk| {
            let entries: Vec<Entry> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| Entry {
                    node_id: *id.as_bytes(),
                    age_secs,
                    metric: gossip::UNREACHABLE,
                    endpoint: endpoint(i as u32),
                })
                .collect();
            crate::wire::to_vec(|o| gossip::emit(&entries, o))
        })
        .collect()
}

fn second_hand(n: &Node) -> usize {
    n.peers.values().filter(|p| !p.verified).count()
}

#[test]
fn a_flood_of_made_up_members_fills_only_the_second_hand_tier() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let flooder = NodeKey::from_seed([2; 32]).id();
    // 40 verified members (a handshake with each completed once) and 300
    // members that gossip told of 5 s ago.
    let verified: Vec<NodeId> = made_up(1_000_000, 40).iter().map(NodeKey::id).collect();
    for (i, id) in verified.iter().enumerate() {
        a.add_peer_first_hand(*id, Some(endpoint(i as u32)), t0)
            .expect("room")
            .verified = true;
    }
    let real: Vec<NodeId> = made_up(2_000_000, 300).iter().map(NodeKey::id).collect();
    for msg in gossip_of(&real, 5) {
        a.consume_gossip(t0, flooder, &msg);
    }
    assert_eq!(a.peers.len(), 340);
    assert_eq!(a.drops().get(DropReason::PeerTableFull), 0);

    // A member floods 6,000 made-up members, as fresh as news can be.
    let t1 = t0 + Duration::from_secs(10);
    let fake: Vec<NodeId> = made_up(0, 6000).iter().map(NodeKey::id).collect();
    for msg in gossip_of(&fake, 0) {
        a.consume_gossip(t1, flooder, &msg);
    }
    assert!(a.peers.len() <= MAX_PEERS);
    assert_eq!(second_hand(&a), MAX_SECOND_HAND);
    assert!(verified.iter().all(|id| a.peers.contains_key(id)));
    assert!(real.iter().all(|id| a.peers.contains_key(id)));
    let admitted = fake.iter().filter(|id| a.peers.contains_key(id)).count();
    assert_eq!(admitted, MAX_SECOND_HAND - real.len());
    // Counted (a gossip message stops at its first member refused).
    assert!(a.drops().get(DropReason::PeerTableFull) > 0);

    // Signals signed by made-up members (any key can sign) get no further.
    let t2 = t1 + Duration::from_secs(1);
    let signers = made_up(3_000_000, 50);
    let before = a.drops().get(DropReason::PeerTableFull);
    for (i, key) in signers.iter().enumerate() {
        let bytes = candidates_signal(key, a.id(), false, i as u64);
        a.consume_signal(t2, flooder, &bytes);
    }
    assert_eq!(a.drops().get(DropReason::PeerTableFull), before + 50);
    assert!(signers.iter().all(|k| !a.peers.contains_key(&k.id())));

    // A member met first-hand (a handshake) still gets in.
    let newcomer = made_up(4_000_000, 1)[0].id();
    assert!(a
        .add_peer_first_hand(newcomer, Some(endpoint(7)), t2)
        .is_some());

    // Nobody speaks of the made-up members again: they are forgotten.
    let later = t1 + PEER_EXPIRY + Duration::from_secs(10);
    a.handle_timeout(later);
    assert!(fake.iter().all(|id| !a.peers.contains_key(id)));
    assert!(a.peers.len() <= 1, "{}", a.peers.len());
}

#[test]
fn stale_second_hand_news_makes_room_for_fresh_news() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let from = NodeKey::from_seed([2; 32]).id();
    let old: Vec<NodeId> = made_up(0, MAX_SECOND_HAND as u32)
        .iter()
        .map(NodeKey::id)
        .collect();
    for msg in gossip_of(&old, 0) {
        a.consume_gossip(t0, from, &msg);
    }
    assert_eq!(a.peers.len(), MAX_SECOND_HAND);
    // Five minutes on, news of members never heard of again is stale, and
    // news of new members takes its places.
    let t1 = t0 + Duration::from_secs(300);
    let new: Vec<NodeId> = made_up(10_000, 100).iter().map(NodeKey::id).collect();
    for msg in gossip_of(&new, 0) {
        a.consume_gossip(t1, from, &msg);
    }
    assert!(new.iter().all(|id| a.peers.contains_key(id)));
    assert_eq!(a.peers.len(), MAX_SECOND_HAND);
    assert_eq!(a.drops().get(DropReason::PeerTableFull), 0);
}

#[test]
fn a_member_announced_with_an_id_that_is_no_key_gets_no_handshake() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let from = NodeKey::from_seed([2; 32]).id();
    let bogus = (0u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| NodeId::from_bytes(*bytes).is_err())
        .expect("some 32 bytes are no point");
    let real = made_up(0, 1)[0].id();
    // Both are news of a minute ago, and the node has free neighbour places.
    let entries = [(bogus, endpoint(1)), (*real.as_bytes(), endpoint(2))].map(|(id, e)| Entry {
        node_id: id,
        age_secs: 60,
        metric: gossip::UNREACHABLE,
        endpoint: e,
    });
    a.consume_gossip(
        t0,
        from,
        &crate::wire::to_vec(|o| gossip::emit(&entries, o)),
    );
    // Both are recorded, as any announced member is.
    let bogus = NodeId::unchecked(bogus);
    assert!(a.peers.contains_key(&bogus) && a.peers.contains_key(&real));
    let mut sent = Vec::new();
    for s in 0..10 {
        a.handle_timeout(t0 + Duration::from_secs(s));
        sent.extend(std::iter::from_fn(|| a.poll_transmit()).map(|t| t.to));
    }
    // The real one gets an initiation; the one that is no key none, and
    // that is counted.
    assert!(sent.contains(&endpoint(2)), "{sent:?}");
    assert!(!sent.contains(&endpoint(1)), "{sent:?}");
    assert!(a.drops().get(DropReason::InvalidMember) >= 1);
}
