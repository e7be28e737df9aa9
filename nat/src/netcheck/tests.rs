//! The state machine against a simulated NAT and reflectors in virtual
//! time, and the classifiers on their own.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::stun::{
    decode, encode_request, encode_success, IntegrityKey, Message, RequestOptions, Responder,
    SuccessOptions, TransactionId,
};

const WAN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const IP1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const IP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const LOCAL_PORTS: [u16; 2] = [40000, 40001];

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Alloc {
    Preserve,
    Sequential(u16),
    Random,
}

/// A NAT in front of the two sockets, RFC 4787 behaviours by flag.
struct Nat {
    /// What the mapping depends on: 0 nothing, 1 address, 2 address and port.
    mapping: u8,
    /// What the filter checks: 0 nothing, 1 address, 2 address and port.
    filtering: u8,
    alloc: Alloc,
    udp_blocked: bool,
    hairpin: bool,
    next_port: u16,
    rng: u64,
    /// (socket, destination key) → external port.
    table: HashMap<(usize, SocketAddr), u16>,
    /// External port → socket.
    owner: HashMap<u16, usize>,
    /// (external port, remote) sent to.
    contacted: HashSet<(u16, SocketAddr)>,
}

impl Nat {
    fn new(mapping: u8, filtering: u8, alloc: Alloc) -> Self {
        Self {
            mapping,
            filtering,
            alloc,
            udp_blocked: false,
            hairpin: true,
            next_port: 20000,
            rng: 0x1234_5678,
            table: HashMap::new(),
            owner: HashMap::new(),
            contacted: HashSet::new(),
        }
    }

    /// Translates an outbound datagram; returns its external source.
    fn outbound(&mut self, socket: usize, to: SocketAddr) -> Option<SocketAddr> {
        if self.udp_blocked {
            return None;
        }
        let key = match self.mapping {
            0 => SocketAddr::from(([0, 0, 0, 0], 0)),
            1 => SocketAddr::new(to.ip(), 0),
            _ => to,
        };
        let port = match self.table.get(&(socket, key)) {
            Some(p) => *p,
            None => {
                let p = match self.alloc {
                    Alloc::Preserve if !self.owner.contains_key(&LOCAL_PORTS[socket]) => {
                        LOCAL_PORTS[socket]
                    }
                    Alloc::Sequential(step) => {
                        self.next_port += step;
                        self.next_port
                    }
                    Alloc::Preserve => {
                        self.next_port += 1;
                        self.next_port
                    }
                    Alloc::Random => {
                        self.rng ^= self.rng << 13;
                        self.rng ^= self.rng >> 7;
                        self.rng ^= self.rng << 17;
                        1024 + (self.rng % 60000) as u16
                    }
                };
                self.table.insert((socket, key), p);
                self.owner.insert(p, socket);
                p
            }
        };
        self.contacted.insert((port, to));
        Some(sa(WAN, port))
    }

    /// Filters an inbound datagram to external port `port`; returns the socket.
    fn inbound(&self, from: SocketAddr, port: u16) -> Option<usize> {
        let socket = *self.owner.get(&port)?;
        let ok = match self.filtering {
            0 => true,
            1 => self
                .contacted
                .iter()
                .any(|(p, r)| *p == port && r.ip() == from.ip()),
            _ => self.contacted.contains(&(port, from)),
        };
        ok.then_some(socket)
    }
}

/// An RFC 5780 STUN server on IP1/IP2 × 3478/3479, a member reflector on
/// 198.51.100.7:9740 (keyed) and an IPv6 server, behind nothing.
struct World {
    now: Instant,
    nat: Nat,
    member_key: IntegrityKey,
    /// Drop the first N datagrams to the servers.
    drop_first: usize,
    sent: usize,
}

const MEMBER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 9740);

impl World {
    fn new(nat: Nat) -> Self {
        Self {
            now: Instant::now(),
            nat,
            member_key: IntegrityKey::new(&[42; 32]),
            drop_first: 0,
            sent: 0,
        }
    }

    fn server_answer(
        &self,
        to: SocketAddr,
        mapped: SocketAddr,
        req: &[u8],
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let d = decode(req, None).ok()?;
        let Message::Request { change, .. } = d.message else {
            return None;
        };
        let servers = [sa(IP1, 3478), sa(IP1, 3479), sa(IP2, 3478), sa(IP2, 3479)];
        if !servers.contains(&to) {
            return None;
        }
        let ip = match (change.ip, to.ip() == IpAddr::V4(IP1)) {
            (false, _) => to.ip(),
            (true, true) => IpAddr::V4(IP2),
            (true, false) => IpAddr::V4(IP1),
        };
        let port = match (change.port, to.port() == 3478) {
            (false, _) => to.port(),
            (true, true) => 3479,
            (true, false) => 3478,
        };
        let origin = SocketAddr::new(ip, port);
        let other = SocketAddr::new(
            if to.ip() == IpAddr::V4(IP1) {
                IP2.into()
            } else {
                IP1.into()
            },
            if to.port() == 3478 { 3479 } else { 3478 },
        );
        let opts = SuccessOptions {
            key: None,
            response_origin: Some(origin),
            other_address: Some(other),
        };
        Some((
            origin,
            encode_success(d.transaction_id, mapped, &opts).ok()?,
        ))
    }

    /// Runs the netcheck to the end; returns the report and how long it took.
    fn run(&mut self, reflectors: Vec<Reflector>) -> (Report, Duration) {
        let start = self.now;
        let ports = LOCAL_PORTS.map(Some);
        let mut nc = Netcheck::new(reflectors, ports, [7; 32], self.now);
        let member = Responder::new(self.member_key.clone());
        for _ in 0..10_000 {
            while let Some(t) = nc.poll_transmit() {
                self.sent += 1;
                if self.sent <= self.drop_first {
                    continue;
                }
                if t.to.is_ipv6() {
                    let v6 =
                        SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 1), 40000));
                    let d = decode(&t.payload, None).unwrap();
                    let resp =
                        encode_success(d.transaction_id, v6, &SuccessOptions::default()).unwrap();
                    nc.handle_datagram(self.now + Duration::from_millis(5), t.socket, t.to, &resp);
                    continue;
                }
                let Some(ext) = self.nat.outbound(t.socket, t.to) else {
                    continue;
                };
                let reply = if t.to.ip() == IpAddr::V4(WAN) {
                    // Hairpin: back in through the NAT.
                    if self.nat.hairpin {
                        if let Some(s) = self.nat.inbound(ext, t.to.port()) {
                            nc.handle_datagram(self.now, s, ext, &t.payload);
                        }
                    }
                    None
                } else if t.to == MEMBER {
                    member.respond(&t.payload, ext).ok().map(|r| (MEMBER, r))
                } else {
                    self.server_answer(t.to, ext, &t.payload)
                };
                if let Some((from, bytes)) = reply {
                    if let Some(s) = self.nat.inbound(from, ext.port()) {
                        nc.handle_datagram(self.now + Duration::from_millis(20), s, from, &bytes);
                    }
                }
            }
            if nc.is_done() {
                break;
            }
            let Some(t) = nc.poll_timeout() else { break };
            self.now = self.now.max(t);
            nc.handle_timeout(self.now);
        }
        assert!(nc.is_done(), "netcheck never finished");
        assert!(nc.poll_timeout().is_none());
        (nc.report(), self.now - start)
    }
}

fn coturn() -> Reflector {
    Reflector {
        addr: sa(IP1, 3478),
        key: None,
        label: "stun".into(),
    }
}

fn member(key: &IntegrityKey) -> Reflector {
    Reflector {
        addr: MEMBER,
        key: Some(key.clone()),
        label: "member".into(),
    }
}

fn check(nat: Nat) -> Report {
    let mut w = World::new(nat);
    let k = w.member_key.clone();
    let (r, took) = w.run(vec![coturn(), member(&k)]);
    eprintln!("{r:#?} in {took:?}");
    assert!(r.udp && r.ipv4 && r.ipv6.is_none());
    assert!(took <= 3 * GIVE_UP_AFTER, "{took:?}");
    assert_eq!(r.rfc5780_reflector.as_deref(), Some("stun"));
    assert!(r.reflectors[1].authenticated && !r.reflectors[0].authenticated);
    assert!(r.reflectors.iter().all(|x| x.rtt_ms == Some(20.0)));
    r
}

#[test]
fn full_cone() {
    let r = check(Nat::new(0, 0, Alloc::Preserve));
    assert_eq!(r.mapping, MappingBehaviour::EndpointIndependent);
    assert_eq!(r.allocation, PortAllocation::Preserved);
    assert_eq!(r.filtering, Filtering::EndpointIndependent);
    assert_eq!(r.hairpinning, Some(true));
    assert_eq!(r.reflexive_addresses, vec![sa(WAN, 40000)]);
}

#[test]
fn restricted_cone() {
    let r = check(Nat::new(0, 1, Alloc::Preserve));
    assert_eq!(r.mapping, MappingBehaviour::EndpointIndependent);
    assert_eq!(r.filtering, Filtering::AddressDependent);
}

#[test]
fn port_restricted_cone_without_hairpinning() {
    let mut nat = Nat::new(0, 2, Alloc::Preserve);
    nat.hairpin = false;
    let r = check(nat);
    assert_eq!(r.mapping, MappingBehaviour::EndpointIndependent);
    assert_eq!(r.allocation, PortAllocation::Preserved);
    assert_eq!(r.filtering, Filtering::AddressAndPortDependent);
    assert_eq!(r.hairpinning, Some(false));
}

#[test]
fn address_dependent_mapping() {
    let r = check(Nat::new(1, 1, Alloc::Sequential(1)));
    assert_eq!(r.mapping, MappingBehaviour::AddressDependent);
}

#[test]
fn symmetric_sequential() {
    let r = check(Nat::new(2, 2, Alloc::Sequential(2)));
    assert_eq!(r.mapping, MappingBehaviour::AddressAndPortDependent);
    assert_eq!(r.allocation, PortAllocation::Sequential { step: 2 });
    assert_eq!(r.filtering, Filtering::AddressAndPortDependent);
    // Socket 0: stun, member, three alternates; socket 1: one.
    assert_eq!(r.observations.len(), 6);
    assert_eq!(r.reflexive_addresses.len(), 5);
}

#[test]
fn symmetric_random() {
    let r = check(Nat::new(2, 2, Alloc::Random));
    assert_eq!(r.mapping, MappingBehaviour::AddressAndPortDependent);
    assert_eq!(r.allocation, PortAllocation::Random);
}

#[test]
fn udp_blocked_ends_after_one_give_up() {
    let mut nat = Nat::new(0, 0, Alloc::Preserve);
    nat.udp_blocked = true;
    let mut w = World::new(nat);
    let k = w.member_key.clone();
    let (r, took) = w.run(vec![coturn(), member(&k)]);
    assert!(!r.udp && !r.ipv4);
    assert_eq!(took, GIVE_UP_AFTER);
    assert_eq!(r.mapping, MappingBehaviour::Unknown);
    assert_eq!(r.allocation, PortAllocation::Unknown);
    assert_eq!(r.filtering, Filtering::Unknown);
    assert_eq!(r.hairpinning, None);
    assert!(r.filtering_note.contains("no reflector answered"));
    // Three transmissions to each reflector.
    assert_eq!(w.sent, 6);
}

#[test]
fn members_only_leave_filtering_unknown_and_say_why() {
    let mut w = World::new(Nat::new(0, 2, Alloc::Preserve));
    let k = w.member_key.clone();
    let v6 = Reflector {
        addr: SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1), 3478)),
        key: None,
        label: "v6".into(),
    };
    let (r, _) = w.run(vec![member(&k), v6]);
    assert_eq!(r.filtering, Filtering::Unknown);
    assert!(
        r.filtering_note.contains("RFC 5780"),
        "{}",
        r.filtering_note
    );
    assert_eq!(r.ipv6, Some(true));
    assert!(r.reflectors[0].authenticated);
    // One IPv4 destination per socket: behaviour unknown, port preserved.
    assert_eq!(r.mapping, MappingBehaviour::Unknown);
    assert_eq!(r.allocation, PortAllocation::Preserved);
}

#[test]
fn a_member_with_another_key_is_not_believed() {
    let mut w = World::new(Nat::new(0, 0, Alloc::Preserve));
    let (r, _) = w.run(vec![member(&IntegrityKey::new(&[1; 32]))]);
    // The member refuses our key, so nothing comes back.
    assert!(!r.udp && !r.reflectors[0].answered);
}

#[test]
fn forged_answers_are_ignored() {
    let k = IntegrityKey::new(&[3; 32]);
    let now = Instant::now();
    let mut nc = Netcheck::new(vec![member(&k)], [None, None], [1; 32], now);
    let t = nc.poll_transmit().unwrap();
    let id = decode(&t.payload, None).unwrap().transaction_id;
    // Unsigned, and signed with another key.
    let plain = encode_success(id, sa(WAN, 1), &SuccessOptions::default()).unwrap();
    assert!(!nc.handle_datagram(now, 0, MEMBER, &plain));
    let other = IntegrityKey::new(&[4; 32]);
    let opts = SuccessOptions {
        key: Some(&other),
        ..SuccessOptions::default()
    };
    let forged = encode_success(id, sa(WAN, 1), &opts).unwrap();
    assert!(!nc.handle_datagram(now, 0, MEMBER, &forged));
    // An unknown transaction and garbage.
    let stranger = encode_success(
        TransactionId([0; 12]),
        sa(WAN, 1),
        &SuccessOptions::default(),
    )
    .unwrap();
    assert!(!nc.handle_datagram(now, 0, MEMBER, &stranger));
    assert!(!nc.handle_datagram(now, 0, MEMBER, b"hello"));
    let opts = SuccessOptions {
        key: Some(&k),
        ..SuccessOptions::default()
    };
    let good = encode_success(id, sa(WAN, 1), &opts).unwrap();
    assert!(nc.handle_datagram(now, 0, MEMBER, &good));
    assert_eq!(nc.report().reflectors[0].mapped, Some(sa(WAN, 1)));
}

#[test]
fn lost_requests_are_retransmitted() {
    let mut w = World::new(Nat::new(0, 0, Alloc::Preserve));
    w.drop_first = 2;
    let (r, _) = w.run(vec![coturn()]);
    assert!(r.reflectors[0].answered);
    // Answered 20 ms after the third transmission.
    assert_eq!(r.reflectors[0].rtt_ms, Some(20.0));
    assert_eq!(r.filtering, Filtering::EndpointIndependent);
}

#[test]
fn requests_are_plain_for_servers_and_keyed_for_members() {
    let k = IntegrityKey::new(&[5; 32]);
    let now = Instant::now();
    let mut nc = Netcheck::new(vec![coturn(), member(&k)], [None, None], [1; 32], now);
    let a = nc.poll_transmit().unwrap();
    let b = nc.poll_transmit().unwrap();
    assert_eq!(
        (a.socket, a.to, b.socket, b.to),
        (0, sa(IP1, 3478), 0, MEMBER)
    );
    assert_eq!(
        decode(&a.payload, None).unwrap().integrity,
        crate::stun::Integrity::Absent
    );
    assert_eq!(
        decode(&b.payload, Some(&k)).unwrap().integrity,
        crate::stun::Integrity::Verified
    );
    assert_ne!(
        decode(&a.payload, None).unwrap().transaction_id,
        decode(&b.payload, None).unwrap().transaction_id
    );
    let _ = encode_request(TransactionId([1; 12]), &RequestOptions::default());
}

fn obs(socket: usize, dest: SocketAddr, mapped_port: u16) -> Observation {
    Observation {
        socket,
        local_port: Some(LOCAL_PORTS[socket]),
        destination: dest,
        mapped: sa(WAN, mapped_port),
    }
}

#[test]
fn classifier_tells_the_behaviours_apart() {
    let (a, a2, b, b2) = (sa(IP1, 3478), sa(IP1, 3479), sa(IP2, 3478), sa(IP2, 3479));
    let m = classify_mapping(&[obs(0, a, 5), obs(0, b, 5), obs(0, b2, 5)]);
    assert_eq!(m.behaviour, MappingBehaviour::EndpointIndependent);
    assert_eq!(m.allocation, PortAllocation::Unknown);
    let m = classify_mapping(&[obs(0, a, 5), obs(0, a2, 5), obs(0, b, 9)]);
    assert_eq!(m.behaviour, MappingBehaviour::AddressDependent);
    let m = classify_mapping(&[obs(0, a, 5), obs(0, b, 9)]);
    assert_eq!(m.behaviour, MappingBehaviour::Dependent);
    let m = classify_mapping(&[obs(0, a, 100), obs(0, a2, 98), obs(0, b, 96), obs(1, a, 94)]);
    assert_eq!(m.behaviour, MappingBehaviour::AddressAndPortDependent);
    assert_eq!(m.allocation, PortAllocation::Sequential { step: -2 });
    // Gaps from other traffic: the common step wins.
    let m = classify_mapping(&[
        obs(0, a, 100),
        obs(0, a2, 101),
        obs(0, b, 103),
        obs(0, b2, 104),
    ]);
    assert_eq!(m.allocation, PortAllocation::Sequential { step: 1 });
    let m = classify_mapping(&[obs(0, a, 100), obs(0, a2, 3000), obs(0, b, 101)]);
    assert_eq!(m.allocation, PortAllocation::Random);
    assert_eq!(classify_mapping(&[]).behaviour, MappingBehaviour::Unknown);
    // IPv6 answers do not count against IPv4 ones.
    let v6 = Observation {
        socket: 0,
        local_port: None,
        destination: SocketAddr::from((Ipv6Addr::LOCALHOST, 1)),
        mapped: SocketAddr::from((Ipv6Addr::LOCALHOST, 2)),
    };
    let m = classify_mapping(&[obs(0, a, LOCAL_PORTS[0]), v6, obs(0, b, LOCAL_PORTS[0])]);
    assert_eq!(m.behaviour, MappingBehaviour::EndpointIndependent);
    assert_eq!(m.allocation, PortAllocation::Preserved);
}

#[test]
fn filtering_classifier() {
    assert_eq!(
        classify_filtering(Some(true), Some(false)),
        Filtering::EndpointIndependent
    );
    assert_eq!(
        classify_filtering(Some(false), Some(true)),
        Filtering::AddressDependent
    );
    assert_eq!(
        classify_filtering(Some(false), Some(false)),
        Filtering::AddressAndPortDependent
    );
    assert_eq!(classify_filtering(None, None), Filtering::Unknown);
}
