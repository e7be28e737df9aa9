//! The STUN machine on its own: no node, a virtual clock, datagrams in and
//! out by hand.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessel_nat::netcheck::{PortAllocation, GIVE_UP_AFTER, INITIAL_RTO};
use tessel_nat::stun::{
    decode, encode_request, encode_success, Integrity, IntegrityKey, Message, RequestOptions,
    Responder, SuccessOptions, TransactionId,
};

use super::machine::{
    Received, StunMachine, FIRST_ROUND, MAX_SENDS, MEMBER_REFLECTORS, ROUND_INTERVAL,
};
use super::NatBehaviour;
use crate::identity::{NetworkKey, NodeId, NodeKey};
use crate::node::{DropReason, Transmit};

fn key(net: u8) -> IntegrityKey {
    IntegrityKey::new(&NetworkKey::from_secret([net; 32]).stun_secret())
}

fn member(n: u8) -> NodeId {
    NodeKey::from_seed([n; 32]).id()
}

fn at(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn request(id: u8, key: Option<&IntegrityKey>) -> Vec<u8> {
    let opts = RequestOptions {
        key,
        ..RequestOptions::default()
    };
    encode_request(TransactionId([id; 12]), &opts).unwrap()
}

/// The answer `from` would give to `req`, seeing us at `mapped`.
fn answer(req: &Transmit, mapped: SocketAddr, key: Option<&IntegrityKey>) -> Vec<u8> {
    let id = decode(&req.payload, None).unwrap().transaction_id;
    let opts = SuccessOptions {
        key,
        ..SuccessOptions::default()
    };
    encode_success(id, mapped, &opts).unwrap()
}

/// A Binding error response: the header and an ERROR-CODE attribute with
/// no reason phrase (RFC 8489 section 14.8).
fn binding_error(id: TransactionId, code: u16) -> Vec<u8> {
    let mut b = vec![0x01, 0x11, 0, 8, 0x21, 0x12, 0xa4, 0x42];
    b.extend_from_slice(&id.0);
    b.extend_from_slice(&[0x00, 0x09, 0, 4, 0, 0]);
    b.extend_from_slice(&[(code / 100) as u8, (code % 100) as u8]);
    b
}

struct Rig {
    t0: Instant,
    rng: ChaCha20Rng,
    stun: StunMachine,
}

impl Rig {
    fn new(servers: &[SocketAddr]) -> Self {
        // The machine never reads a clock: any origin will do.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        Self {
            t0,
            rng: ChaCha20Rng::from_seed([1; 32]),
            stun: StunMachine::new(key(9), servers.to_vec(), t0),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn tick(&mut self, now: Instant, members: &[(NodeId, SocketAddr)]) -> Vec<Transmit> {
        let list = members.to_vec();
        self.stun.handle_timeout(now, || list, &mut self.rng)
    }
}

const SERVER: &str = "192.0.2.50:3478";
const SEEN: &str = "203.0.113.7:61000";

#[test]
fn a_members_keyed_request_is_answered_and_others_are_dropped() {
    let mut rig = Rig::new(&[]);
    let now = rig.t0;
    let from = at("198.51.100.4:9740");
    let got = rig
        .stun
        .handle_datagram(now, from, &request(3, Some(&key(9))), None);
    let Received::Answer(bytes) = got else {
        panic!("{got:?}")
    };
    let d = decode(&bytes, Some(&key(9))).unwrap();
    assert_eq!(d.integrity, Integrity::Verified);
    assert!(matches!(d.message, Message::Success { mapped, .. } if mapped == from));
    // No key, or another network's: no answer.
    for req in [request(4, None), request(5, Some(&key(8)))] {
        assert_eq!(
            rig.stun.handle_datagram(now, from, &req, None),
            Received::Dropped(DropReason::StunUnauthenticated)
        );
    }
    // Not STUN at all: the overlay's to parse.
    assert_eq!(
        rig.stun.handle_datagram(now, from, &[1, 0, 0, 0], None),
        Received::NotStun
    );
    // An answer to nothing we asked.
    let stray = encode_success(TransactionId([6; 12]), from, &SuccessOptions::default()).unwrap();
    assert_eq!(
        rig.stun.handle_datagram(now, from, &stray, None),
        Received::Dropped(DropReason::UnexpectedStun)
    );
}

#[test]
fn the_retiring_key_is_answered_only_while_given() {
    let mut rig = Rig::new(&[]);
    let from = at("198.51.100.4:9740");
    let old = Responder::new(key(7));
    let req = request(1, Some(&key(7)));
    let got = rig.stun.handle_datagram(rig.t0, from, &req, Some(&old));
    let Received::Answer(bytes) = got else {
        panic!("{got:?}")
    };
    assert_eq!(
        decode(&bytes, Some(&key(7))).unwrap().integrity,
        Integrity::Verified
    );
    assert_eq!(
        rig.stun.handle_datagram(rig.t0, from, &req, None),
        Received::Dropped(DropReason::StunUnauthenticated)
    );
    // A new current key takes over; the old one answers only as retiring.
    let replaced = rig.stun.replace_responder(Responder::new(key(7)));
    assert!(matches!(
        rig.stun.handle_datagram(rig.t0, from, &req, None),
        Received::Answer(_)
    ));
    assert_eq!(replaced.key().username(), key(9).username());
}

#[test]
fn a_silent_server_is_asked_three_times_then_again_next_round() {
    let server = at(SERVER);
    let mut rig = Rig::new(&[server]);
    // Nothing before the first round.
    assert_eq!(rig.stun.next_deadline(false), Some(rig.at(1.0)));
    assert!(rig.tick(rig.at(0.5), &[]).is_empty());
    let first = rig.tick(rig.t0 + FIRST_ROUND, &[]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].to, server);
    let d = decode(&first[0].payload, None).unwrap();
    assert_eq!(d.integrity, Integrity::Absent);
    // Retransmitted on RFC 8489's schedule, the same bytes each time.
    let mut now = rig.t0 + FIRST_ROUND;
    let mut sends = vec![first[0].clone()];
    for k in 1..MAX_SENDS {
        now += INITIAL_RTO * 2u32.pow(k - 1);
        assert_eq!(rig.stun.next_deadline(false), Some(now));
        sends.extend(rig.tick(now, &[]));
    }
    assert_eq!(sends.len(), MAX_SENDS as usize);
    assert!(sends.iter().all(|t| *t == sends[0]));
    // Then given up, without another send.
    let give_up = rig.t0 + FIRST_ROUND + GIVE_UP_AFTER;
    assert_eq!(rig.stun.next_deadline(false), Some(give_up));
    assert!(rig.tick(give_up, &[]).is_empty());
    // The next round asks again, with a new transaction.
    let round = rig.t0 + FIRST_ROUND + ROUND_INTERVAL;
    assert_eq!(rig.stun.next_deadline(false), Some(round));
    let again = rig.tick(round, &[]);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].payload, sends[0].payload);
}

#[test]
fn a_servers_answer_is_a_sample_from_its_source_only() {
    let server = at(SERVER);
    let mut rig = Rig::new(&[server]);
    let sent = rig.tick(rig.at(1.0), &[]);
    let ok = answer(&sent[0], at(SEEN), None);
    // From elsewhere: not believed.
    assert_eq!(
        rig.stun
            .handle_datagram(rig.at(1.2), at("192.0.2.51:3478"), &ok, None),
        Received::Dropped(DropReason::UnexpectedStun)
    );
    assert_eq!(
        rig.stun.handle_datagram(rig.at(1.2), server, &ok, None),
        Received::Taken
    );
    let samples = rig.stun.samples();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].reflector, server);
    assert_eq!(samples[0].member, None);
    assert_eq!(samples[0].mapped, at(SEEN));
    assert_eq!(samples[0].rtt, Duration::from_millis(200));
    assert_eq!(rig.stun.reflexive_addresses(), vec![at(SEEN)]);
    // Answered: no retransmission, nothing pending but the next round.
    assert_eq!(
        rig.stun.next_deadline(false),
        Some(rig.at(1.0) + ROUND_INTERVAL)
    );
    // The same answer twice is a stray.
    assert_eq!(
        rig.stun.handle_datagram(rig.at(1.3), server, &ok, None),
        Received::Dropped(DropReason::UnexpectedStun)
    );
}

#[test]
fn a_servers_error_ends_its_request() {
    let server = at(SERVER);
    let mut rig = Rig::new(&[server]);
    let sent = rig.tick(rig.at(1.0), &[]);
    let id = decode(&sent[0].payload, None).unwrap().transaction_id;
    let error = binding_error(id, 400);
    assert_eq!(
        rig.stun.handle_datagram(rig.at(1.1), server, &error, None),
        Received::Taken
    );
    assert!(rig.stun.samples().is_empty());
    assert!(rig.tick(rig.at(1.0) + INITIAL_RTO, &[]).is_empty());
}

#[test]
fn members_are_asked_keyed_up_to_the_limit_with_distinct_addresses() {
    let mut rig = Rig::new(&[]);
    // Nothing to ask: no round is scheduled.
    assert_eq!(rig.stun.next_deadline(false), None);
    let members: Vec<(NodeId, SocketAddr)> = vec![
        (member(1), at("198.51.100.1:9740")),
        // The same address as the first: skipped.
        (member(2), at("198.51.100.1:9741")),
        (member(3), at("198.51.100.3:9740")),
        (member(4), at("198.51.100.4:9740")),
        (member(5), at("198.51.100.5:9740")),
    ];
    let sent = rig.tick(rig.at(1.0), &members);
    let to: Vec<SocketAddr> = sent.iter().map(|t| t.to).collect();
    assert_eq!(to.len(), MEMBER_REFLECTORS);
    assert_eq!(
        to,
        vec![members[0].1, members[2].1, members[3].1],
        "in the order given"
    );
    for t in &sent {
        let d = decode(&t.payload, Some(&key(9))).unwrap();
        assert_eq!(d.integrity, Integrity::Verified);
    }
    // A member's answer must carry the key.
    let plain = answer(&sent[0], at(SEEN), None);
    assert_eq!(
        rig.stun
            .handle_datagram(rig.at(1.1), sent[0].to, &plain, None),
        Received::Dropped(DropReason::StunUnauthenticated)
    );
    let keyed = answer(&sent[0], at(SEEN), Some(&key(9)));
    assert_eq!(
        rig.stun
            .handle_datagram(rig.at(1.1), sent[0].to, &keyed, None),
        Received::Taken
    );
    assert_eq!(rig.stun.samples()[0].member, Some(member(1)));
}

#[test]
fn a_session_coming_up_gets_its_member_asked_at_once_and_only_once() {
    let mut rig = Rig::new(&[]);
    let one = [(member(1), at("198.51.100.1:9740"))];
    // The first round with nobody to ask.
    assert!(rig.tick(rig.at(1.0), &[]).is_empty());
    rig.stun.session_came_up(rig.at(2.0));
    assert_eq!(rig.stun.next_deadline(true), Some(rig.at(2.0)));
    let sent = rig.tick(rig.at(2.0), &one);
    assert_eq!(sent.len(), 1);
    let keyed = answer(&sent[0], at(SEEN), Some(&key(9)));
    rig.stun
        .handle_datagram(rig.at(2.1), one[0].1, &keyed, None);
    // Another session: the member asked this round is not asked again.
    rig.stun.session_came_up(rig.at(3.0));
    assert!(rig.tick(rig.at(3.0), &one).is_empty());
    // The next round asks it again.
    assert_eq!(rig.tick(rig.at(1.0) + ROUND_INTERVAL, &one).len(), 1);
}

#[test]
fn members_are_not_listed_unless_picked() {
    let mut rig = Rig::new(&[]);
    let listed = std::cell::Cell::new(0);
    let members = || {
        listed.set(listed.get() + 1);
        Vec::new()
    };
    rig.stun.handle_timeout(rig.at(0.5), members, &mut rig.rng);
    assert_eq!(listed.get(), 0);
    let members = || {
        listed.set(listed.get() + 1);
        Vec::new()
    };
    rig.stun.handle_timeout(rig.at(1.0), members, &mut rig.rng);
    assert_eq!(listed.get(), 1);
}

#[test]
fn a_new_server_is_asked_at_once() {
    let mut rig = Rig::new(&[]);
    assert!(rig.tick(rig.at(1.0), &[]).is_empty());
    assert!(!rig.stun.replace_servers(&[], rig.at(5.0)));
    assert!(rig.stun.replace_servers(&[at(SERVER)], rig.at(5.0)));
    assert_eq!(rig.stun.servers(), &[at(SERVER)]);
    assert_eq!(rig.stun.next_deadline(false), Some(rig.at(5.0)));
    assert_eq!(rig.tick(rig.at(5.0), &[]).len(), 1);
}

#[test]
fn samples_tell_the_mapping_and_expire() {
    let servers = [at("192.0.2.50:3478"), at("192.0.2.60:3478")];
    let mut rig = Rig::new(&servers);
    rig.stun.set_local_port(61000);
    let sent = rig.tick(rig.at(1.0), &[]);
    assert_eq!(sent.len(), 2);
    // One mapping for both servers: endpoint-independent, port preserved.
    for t in &sent {
        let a = answer(t, at(SEEN), None);
        assert_eq!(
            rig.stun.handle_datagram(rig.at(1.1), t.to, &a, None),
            Received::Taken
        );
    }
    let m = rig.stun.nat_mapping();
    assert_eq!(m.behaviour, NatBehaviour::EndpointIndependent);
    assert_eq!(m.allocation, PortAllocation::Preserved);
    // Next round, the second server sees another port: dependent.
    let round = rig.at(1.0) + ROUND_INTERVAL;
    let sent = rig.tick(round, &[]);
    let other = at("203.0.113.7:61001");
    let a = answer(&sent[1], other, None);
    rig.stun.handle_datagram(round, sent[1].to, &a, None);
    assert_eq!(rig.stun.nat_mapping().behaviour, NatBehaviour::Dependent);
    assert_eq!(rig.stun.reflexive_addresses(), vec![other, at(SEEN)]);
    // Five minutes without answers: the samples are gone by a round.
    let mut now = round;
    while now < rig.at(1.1) + Duration::from_secs(300) {
        now += ROUND_INTERVAL;
        rig.tick(now, &[]);
    }
    assert!(rig.stun.samples().len() < 2);
}
