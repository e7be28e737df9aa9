//! Taking addresses and steering routes: an IPv4 address held by a
//! verified member never moves to a newcomer, members only heard of hold
//! none, and one neighbour announcing cheap routes to everyone becomes the
//! next hop of at most its capped share.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::ipv4::IPV4_SETTLE;
use super::routing::ROUTE_CLAIM_ALLOWANCE;
use super::test_nodes::{lone_node as node, session};
use super::*;
use crate::identity::address::{first_ipv4, Ipv4Range};
use crate::identity::NodeKey;
use crate::wire::gossip::{self, Entry};

fn endpoint(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + (i & 0xff))), 9740)
}

fn ids(tag: u8, count: u32) -> Vec<NodeId> {
    (0..count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            seed[4] = tag;
            NodeKey::from_seed(seed).id()
        })
        .collect()
}

/// Two members whose first IPv4 candidates collide, lower ID first.
fn colliding(network: &NetworkId) -> (NodeId, NodeId) {
    let mut seen = std::collections::HashMap::new();
    ids(0x44, 20_000)
        .into_iter()
        .find_map(|m| {
            seen.insert(first_ipv4(&Ipv4Range::DEFAULT, network, &m), m)
                .map(|p| (p.min(m), p.max(m)))
        })
        .expect("a collision among 20,000")
}

/// `id` completes a handshake with `a` (as far as the IPv4 view goes).
fn verify(a: &mut Node, id: NodeId, now: Instant) {
    let p = a
        .add_peer_first_hand(id, Some(endpoint(1)), now)
        .expect("room");
    p.verified = true;
    a.ipv4_member_verified(now, id);
}

#[test]
fn an_address_held_never_moves_to_a_newcomer_with_a_lower_id() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let (low, high) = colliding(&a.network_id());
    let x = first_ipv4(&Ipv4Range::DEFAULT, &a.network_id(), &high);
    // Our own address settles a minute after our first handshake.
    verify(&mut a, ids(0x55, 1)[0], t0);
    let later = t0 + IPV4_SETTLE + Duration::from_secs(1);
    verify(&mut a, high, later);
    assert_eq!(a.ipv4s.owner_of(&x), Some(high));
    // The newcomer wants the same address, and has the lower node ID (the
    // old rule gave it the address): the holder keeps it.
    verify(&mut a, low, later);
    assert_eq!(a.ipv4s.owner_of(&x), Some(high));
    assert_eq!(a.owner_of(IpAddr::V4(x)), Some(high));
    let other = a.ipv4s.addr_of(&low).expect("the newcomer gets another");
    assert_ne!(other, x);
    // Our own address never moved.
    assert_eq!(
        a.ipv4(),
        first_ipv4(&Ipv4Range::DEFAULT, &a.network_id(), &a.id())
    );
    assert!(std::iter::from_fn(|| a.poll_event()).all(|e| !matches!(e, Event::Ipv4Changed(_))));
    // The holder leaves: nobody moves.
    a.remove_peer(&high);
    assert_eq!(a.ipv4s.addr_of(&low), Some(other));
    assert_eq!(a.ipv4s.owner_of(&x), None);
}

#[test]
fn members_only_heard_of_hold_no_ipv4_address() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let (low, high) = colliding(&a.network_id());
    let x = first_ipv4(&Ipv4Range::DEFAULT, &a.network_id(), &high);
    verify(&mut a, high, t0 + IPV4_SETTLE * 2);
    // Gossip names a member whose address collides (made up, or not):
    // it holds nothing, and packets for the address still go to the holder.
    let news = Entry {
        node_id: *low.as_bytes(),
        age_secs: 1,
        metric: gossip::UNREACHABLE,
        endpoint: endpoint(2),
    };
    let gossiper = ids(0x66, 1)[0];
    a.consume_gossip(
        t0,
        gossiper,
        &crate::wire::to_vec(|o| gossip::emit(&[news], o)),
    );
    assert!(a.peers.contains_key(&low));
    assert_eq!(a.ipv4s.addr_of(&low), None);
    assert_eq!(a.owner_of(IpAddr::V4(x)), Some(high));
    // A member only heard of whose address nobody holds is where a packet
    // for it starts a handshake, and still holds nothing.
    let lone = ids(0x77, 1)[0];
    let lone_x = first_ipv4(&Ipv4Range::DEFAULT, &a.network_id(), &lone);
    let news = Entry {
        node_id: *lone.as_bytes(),
        ..news
    };
    a.consume_gossip(
        t0,
        gossiper,
        &crate::wire::to_vec(|o| gossip::emit(&[news], o)),
    );
    assert_eq!(a.owner_of(IpAddr::V4(lone_x)), Some(lone));
    assert_eq!(a.ipv4s.addr_of(&lone), None);
}

#[test]
fn one_neighbour_claiming_cheap_routes_to_everyone_gets_only_its_share() {
    let t0 = Instant::now();
    let mut a = node(t0);
    let hostile = ids(0x11, 1)[0];
    let honest = ids(0x22, 1)[0];
    for (i, h) in [hostile, honest].into_iter().enumerate() {
        let p = a
            .add_peer_first_hand(h, Some(endpoint(i as u32)), t0)
            .expect("room");
        p.verified = true;
        p.current = Some(session(t0));
    }
    // Both answer.
    let answer = |a: &mut Node, now: Instant| {
        for h in [hostile, honest] {
            a.peers.get_mut(&h).expect("known").last_received = Some(now);
        }
    };
    answer(&mut a, t0);
    let members = ids(0x33, 1000);
    for (i, m) in members.iter().enumerate() {
        a.add_peer(*m, Some(endpoint(i as u32)), t0, t0);
    }
    let routed_through = |a: &Node, h: NodeId| {
        members
            .iter()
            .filter(|m| a.peers[*m].route.next_hop == Some(h))
            .count()
    };
    // The hostile neighbour claims a route of the least cost to everyone:
    // nobody else announces them yet, so it is their next hop.
    for m in &members {
        a.route_update_through(t0, hostile, 10, *m, 0);
    }
    assert_eq!(routed_through(&a, hostile), members.len());
    // The honest one announces its real, dearer routes; then the hostile
    // one claims again, and again.
    for round in 0..3 {
        let now = t0 + Duration::from_secs(30 * round);
        answer(&mut a, now);
        for m in &members {
            a.route_update_through(now, honest, 10, *m, 50);
        }
        for m in &members {
            a.route_update_through(now, hostile, 10, *m, 0);
        }
    }
    let (h, g) = (routed_through(&a, hostile), routed_through(&a, honest));
    assert_eq!(h + g, members.len());
    assert!(h <= members.len() / 2 + ROUTE_CLAIM_ALLOWANCE, "{h}");
    assert!(g >= members.len() / 2 - ROUTE_CLAIM_ALLOWANCE, "{g}");
    assert!(a.relay_stats().route_claims_capped > 0);
    // The table's counts agree with a scan.
    assert_eq!(a.peers.routes_through(&hostile), (h, members.len()));
}
