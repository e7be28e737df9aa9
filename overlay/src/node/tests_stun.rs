//! STUN on the overlay port, in the virtual-time harness of `tests.rs`:
//! members answer each other, outsiders get nothing, and a node learns its
//! reflexive address from members and STUN servers.

use std::net::SocketAddr;
use std::time::Duration;

use tessel_nat::netcheck::PortAllocation;
use tessel_nat::stun::{
    decode, encode_request, encode_success, Integrity, IntegrityKey, Message, RequestOptions,
    SuccessOptions, TransactionId,
};

use super::*;

fn key_of(net: u8) -> IntegrityKey {
    IntegrityKey::new(&NetworkKey::from_secret([net; 32]).stun_secret())
}

fn request(id: u8, key: Option<&IntegrityKey>) -> Vec<u8> {
    let opts = RequestOptions {
        key,
        ..RequestOptions::default()
    };
    encode_request(TransactionId([id; 12]), &opts).unwrap()
}

/// Datagrams the harness saw go from `from` to `to`.
fn sent(net: &Net, from: SocketAddr, to: SocketAddr) -> Vec<Vec<u8>> {
    net.log
        .iter()
        .filter(|(f, t, _)| *f == from && *t == to)
        .map(|(_, _, b)| b.clone())
        .collect()
}

/// STUN requests `from` sent, with their destinations.
fn stun_requests(net: &Net, from: SocketAddr) -> Vec<(SocketAddr, Vec<u8>)> {
    net.log
        .iter()
        .filter(|(f, _, b)| {
            *f == from
                && matches!(decode(b, None), Ok(d) if matches!(d.message, Message::Request { .. }))
        })
        .map(|(_, t, b)| (*t, b.clone()))
        .collect()
}

const OUTSIDE: &str = "203.0.113.9:40000";

#[test]
fn a_members_request_is_answered_with_its_mapped_address() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let from: SocketAddr = OUTSIDE.parse().unwrap();
    let key = key_of(9);
    net.deliver(from, addr(0), &request(3, Some(&key)));
    let answers = sent(&net, addr(0), from);
    assert_eq!(answers.len(), 1);
    let d = decode(&answers[0], Some(&key)).unwrap();
    assert_eq!(d.transaction_id, TransactionId([3; 12]));
    assert_eq!(d.integrity, Integrity::Verified);
    let Message::Success { mapped, .. } = d.message else {
        panic!("{d:?}")
    };
    assert_eq!(mapped, from);
    assert_eq!(net.node(0).drops().total(), 0);
    // IPv6 requesters too.
    let v6: SocketAddr = "[2001:db8::9]:5000".parse().unwrap();
    net.deliver(v6, addr(0), &request(4, Some(&key)));
    let d = decode(&sent(&net, addr(0), v6)[0], Some(&key)).unwrap();
    assert!(matches!(d.message, Message::Success { mapped, .. } if mapped == v6));
}

#[test]
fn outsiders_get_no_stun_answer_and_are_counted() {
    let mut net = Net::new();
    net.add(config(1, 9, vec![]));
    let from: SocketAddr = OUTSIDE.parse().unwrap();
    let other = key_of(8);
    net.deliver(from, addr(0), &request(1, None));
    net.deliver(from, addr(0), &request(2, Some(&other)));
    // Our USERNAME, a wrong HMAC: built with the other key, then renamed.
    let mut forged = request(3, Some(&key_of(9)));
    let n = forged.len();
    forged[n - 30] ^= 1; // inside MESSAGE-INTEGRITY-SHA256
    net.deliver(from, addr(0), &forged);
    assert!(
        sent(&net, addr(0), from).is_empty(),
        "a member must not answer"
    );
    let drops = net.node(0).drops();
    // The forged one fails its FINGERPRINT first: not ours to answer either.
    assert_eq!(drops.get(DropReason::StunUnauthenticated), 2);
    assert_eq!(drops.total(), 3);
    assert_eq!(net.node(0).status(net.now).peers.len(), 0);
    // An answer to nothing we asked.
    let stray = encode_success(TransactionId([5; 12]), from, &SuccessOptions::default()).unwrap();
    net.deliver(from, addr(0), &stray);
    assert_eq!(net.node(0).drops().get(DropReason::UnexpectedStun), 1);
}

#[test]
fn a_node_learns_its_reflexive_address_through_members() {
    let mut net = Net::new();
    for i in 0..5 {
        let boot = if i == 0 { vec![] } else { vec![addr(0)] };
        let n = net.add(config(i + 1, 9, boot));
        net.nodes[n].1.set_local_port(9740);
    }
    net.run_for(Duration::from_secs(5));
    let key = key_of(9);
    let me = addr(4);
    let asked = stun_requests(&net, me);
    // Up to three members, each with the network's integrity.
    assert_eq!(asked.len(), 3, "{asked:?}");
    for (to, req) in &asked {
        assert!((0..4).any(|i| addr(i) == *to));
        assert_eq!(
            decode(req, Some(&key)).unwrap().integrity,
            Integrity::Verified
        );
    }
    let node = net.node(4);
    assert_eq!(node.reflexive_addresses(), vec![me]);
    // Where others reach it, for the join command.
    assert_eq!(node.public_addresses(), vec![me]);
    let samples = node.stun_samples();
    assert_eq!(samples.len(), 3);
    for s in &samples {
        assert!(s.member.is_some() && s.mapped == me);
        assert_eq!(s.rtt, 2 * net.latency);
    }
    let m = node.nat_mapping();
    assert_eq!(m.behaviour, NatBehaviour::EndpointIndependent);
    assert_eq!(m.allocation, PortAllocation::Preserved);
    let st = node.status(net.now).nat;
    assert_eq!(st.reflexive_addresses, vec![me.to_string()]);
    assert_eq!(st.mapping, "endpoint_independent");
    // Every 30 s, another round.
    net.run_for(Duration::from_secs(31));
    assert_eq!(stun_requests(&net, me).len(), 6);
    assert_eq!(net.node(4).drops().total(), 0);
}

#[test]
fn a_stun_server_is_asked_plainly_retransmitted_and_believed() {
    let server: SocketAddr = "192.0.2.50:3478".parse().unwrap();
    let mut net = Net::new();
    net.add(Config {
        stun_servers: vec![server],
        ..config(1, 9, vec![])
    });
    // The server is silent: three transmissions of one request, then none.
    net.run_for(Duration::from_secs(10));
    let asked = sent(&net, addr(0), server);
    assert_eq!(asked.len(), 3);
    assert!(asked.iter().all(|b| *b == asked[0]));
    let d = decode(&asked[0], None).unwrap();
    assert_eq!(d.integrity, Integrity::Absent);
    // The next round at 31 s; this time the server answers.
    net.run_for(Duration::from_secs(21));
    let asked = sent(&net, addr(0), server);
    assert_eq!(asked.len(), 4);
    let id = decode(&asked[3], None).unwrap().transaction_id;
    let mapped: SocketAddr = "203.0.113.7:61000".parse().unwrap();
    let answer = encode_success(id, mapped, &SuccessOptions::default()).unwrap();
    // From elsewhere: not believed.
    net.deliver("192.0.2.51:3478".parse().unwrap(), addr(0), &answer);
    assert!(net.node(0).reflexive_addresses().is_empty());
    assert_eq!(net.node(0).drops().get(DropReason::UnexpectedStun), 1);
    net.deliver(server, addr(0), &answer);
    assert_eq!(net.node(0).reflexive_addresses(), vec![mapped]);
    let s = &net.node(0).stun_samples()[0];
    assert!(s.member.is_none() && s.reflector == server);
    // No retransmission after the answer.
    net.run_for(Duration::from_secs(5));
    assert_eq!(sent(&net, addr(0), server).len(), 4);
}

#[test]
fn a_members_answer_must_carry_the_network_key() {
    let mut net = two_nodes();
    // Member 1 asks member 0; swallow member 0's answers and forge one.
    net.filter = Box::new(|from, _, b| {
        let answer =
            matches!(decode(b, None), Ok(d) if matches!(d.message, Message::Success { .. }));
        usize::from(!(from == addr(0) && answer))
    });
    net.run_for(Duration::from_secs(2));
    let asked = stun_requests(&net, addr(1));
    assert!(asked
        .iter()
        .all(|(to, b)| *to == addr(0) && *b == asked[0].1));
    let id = decode(&asked[0].1, None).unwrap().transaction_id;
    let forged = encode_success(id, addr(5), &SuccessOptions::default()).unwrap();
    net.deliver(addr(0), addr(1), &forged);
    assert!(net.node(1).reflexive_addresses().is_empty());
    assert_eq!(net.node(1).drops().get(DropReason::StunUnauthenticated), 1);
}
