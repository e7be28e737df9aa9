//! Signal bodies sealed end to end: A signals its candidates to B through
//! F, a member with a session to each. F passes the signal on without
//! learning the addresses in it; B opens it and punches toward them. A
//! body changed on the way, a replay, a body sealed under another pair's
//! key and a plaintext body (as older nodes sent) are refused and counted.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::Instant;

use super::test_nodes::{node, session_pair};
use super::*;
use crate::identity::NodeKey;
use crate::session::Session;
use crate::wire::data;
use crate::wire::signal::{self, body_kind, candidate_kind, Candidate, Candidates, Header};
use crate::wire::signal_seal::{self, SealKey};

const LAN: &str = "198.18.0.2:9740";
const REFLEXIVE: &str = "203.0.113.7:40000";
const B_AT: &str = "198.51.100.2:9740";

fn candidates() -> Candidates {
    Candidates {
        request: true,
        fresh: false,
        punch_id: 77,
        nat: signal::NatHint::default(),
        extra_sockets: 0,
        list: vec![
            Candidate {
                kind: candidate_kind::LOCAL,
                addr: LAN.parse().unwrap(),
            },
            Candidate {
                kind: candidate_kind::REFLEXIVE,
                addr: REFLEXIVE.parse().unwrap(),
            },
        ],
    }
}

/// The bytes of `addr` as a signal body carries them, and its IP alone.
fn address_bytes(addr: &str) -> (Vec<u8>, Vec<u8>) {
    let a: SocketAddr = addr.parse().unwrap();
    let mut encoded = Vec::new();
    crate::wire::endpoint::emit(&a, &mut encoded);
    let ip = match a.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    (encoded, ip)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// F, with a session toward B (whose other end, returned, opens what F
/// sends there).
fn forwarder(b: NodeId, t0: Instant) -> (Node, Box<Session>) {
    let mut f = node(3, Vec::new(), t0);
    let (to_b, b_end) = session_pair(t0);
    let p = f
        .add_peer_first_hand(b, Some(B_AT.parse().unwrap()), t0)
        .expect("room");
    p.verified = true;
    p.current = Some(to_b);
    p.last_received = Some(t0);
    (f, b_end)
}

/// What F sent B, opened: the plaintext F's session carried.
fn opened_at_b(f: &mut Node, b_end: &mut Session) -> Vec<u8> {
    let t = f.poll_transmit().expect("F passed the signal on");
    assert_eq!(t.to, B_AT.parse().unwrap());
    let packet = data::Packet::new_checked(&t.payload[..]).unwrap();
    let mut out = vec![0u8; t.payload.len()];
    let n = b_end.decrypt(&packet, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn a_forwarding_member_sees_no_candidate_address_and_the_recipient_does() {
    let t0 = Instant::now();
    let mut a = node(1, Vec::new(), t0);
    let mut b = node(2, Vec::new(), t0);
    let (mut f, mut b_end) = forwarder(b.id(), t0);
    let sent = a.seal_candidates(t0, b.id(), &candidates()).unwrap();
    f.consume_signal(t0, a.id(), &sent);
    assert_eq!(f.traversal.stats.signals_forwarded, 1);
    let forwarded = opened_at_b(&mut f, &mut b_end);
    // What F handled is A's signal, one hop less.
    assert_eq!(forwarded[1] + 1, sent[1]);
    assert_eq!(forwarded[2..], sent[2..]);
    // The search can succeed: a plaintext body holds the addresses.
    let plain = crate::wire::to_vec(|o| candidates().emit(o));
    for addr in [LAN, REFLEXIVE] {
        let (encoded, ip) = address_bytes(addr);
        assert!(contains(&plain, &encoded) && contains(&plain, &ip));
        assert!(!contains(&forwarded, &encoded), "{addr} visible to F");
        assert!(!contains(&forwarded, &ip), "{addr}'s IP visible to F");
    }
    // B opens it, joins the punch and probes A's candidates.
    b.consume_signal(t0, f.id(), &forwarded);
    assert_eq!(b.traversal.stats.punches_joined, 1);
    assert!(b.traversal.punches.contains_key(&a.id()));
    let mut probed = Vec::new();
    while let Some(t) = b.poll_transmit() {
        probed.push(t.to);
    }
    assert!(probed.contains(&LAN.parse().unwrap()), "{probed:?}");
    assert!(probed.contains(&REFLEXIVE.parse().unwrap()), "{probed:?}");
    assert_eq!(b.drops().get(DropReason::SignalRejected), 0);
    assert_eq!(b.drops().get(DropReason::SignalUnsealed), 0);
}

#[test]
fn a_changed_body_and_a_replay_are_refused() {
    let t0 = Instant::now();
    let mut a = node(1, Vec::new(), t0);
    let mut b = node(2, Vec::new(), t0);
    let relay = node(3, Vec::new(), t0).id();
    let first = a.seal_candidates(t0, b.id(), &candidates()).unwrap();
    b.consume_signal(t0, relay, &first);
    assert_eq!(b.traversal.stats.punches_joined, 1);
    // The same signal again.
    b.consume_signal(t0, relay, &first);
    assert_eq!(b.drops().get(DropReason::SignalRejected), 1);
    // A newer one, changed on the way: every byte of the sealed body.
    let mut c = candidates();
    c.request = false;
    let second = a.seal_candidates(t0, b.id(), &c).unwrap();
    let body = signal::HEADER_LEN..second.len() - signal::SIGNATURE_LEN;
    for i in body.clone() {
        let mut changed = second.clone();
        changed[i] ^= 0x20;
        b.consume_signal(t0, relay, &changed);
    }
    assert_eq!(
        b.drops().get(DropReason::SignalRejected),
        1 + body.len() as u64
    );
    // Untouched, it is taken.
    b.consume_signal(t0, relay, &second);
    assert_eq!(
        b.drops().get(DropReason::SignalRejected),
        1 + body.len() as u64
    );
    assert_eq!(b.drops().get(DropReason::SignalUnsealed), 0);
    assert_eq!(b.peers[&a.id()].last_signal_ts, {
        signal::Envelope::new_checked(&second[..])
            .unwrap()
            .timestamp_ms()
    });
}

/// A signal from `from` to `to` at `ts`, signed by `from`, whose body is
/// `plain` sealed under `key` (or left plain with `None`).
fn signal_with(
    from: &NodeKey,
    to: NodeId,
    ts: u64,
    key: Option<&SealKey>,
    plain: &[u8],
) -> Vec<u8> {
    let src = from.id();
    let mut h = Header {
        hop_limit: 4,
        body_kind: body_kind::SEALED_CANDIDATES,
        src: src.as_bytes(),
        dst: to.as_bytes(),
        timestamp_ms: ts,
    };
    match key {
        Some(k) => crate::wire::try_to_vec(|o| {
            signal_seal::emit(&h, k, [9; 16], plain, |m| from.sign(m), o)
        })
        .unwrap(),
        None => {
            h.body_kind = body_kind::CANDIDATES;
            crate::wire::try_to_vec(|o| signal::emit(&h, plain, |m| from.sign(m), o)).unwrap()
        }
    }
}

#[test]
fn a_body_sealed_for_another_pair_or_not_sealed_is_refused() {
    let t0 = Instant::now();
    let a_key = NodeKey::from_seed([1; 32]);
    let mut b = node(2, Vec::new(), t0);
    let c = NodeKey::from_seed([4; 32]).id();
    let relay = node(3, Vec::new(), t0).id();
    let shared_with = |peer: &NodeId| {
        crate::session::dh::StaticSecrets::new(a_key.noise_private())
            .with_peer(peer)
            .unwrap()
            .shared
    };
    let (a, bid) = (a_key.id(), b.id());
    let plain = crate::wire::to_vec(|o| candidates().emit(o));
    let wrong = [
        // Sealed for C, addressed (and signed) to B.
        SealKey::derive(&shared_with(&c), a.as_bytes(), c.as_bytes()),
        // B's key toward A: the other direction.
        SealKey::derive(&shared_with(&bid), bid.as_bytes(), a.as_bytes()),
    ];
    for (i, key) in wrong.iter().enumerate() {
        b.consume_signal(
            t0,
            relay,
            &signal_with(&a_key, bid, 10 + i as u64, Some(key), &plain),
        );
    }
    // A plaintext body, as an older node sends it.
    b.consume_signal(t0, relay, &signal_with(&a_key, bid, 20, None, &plain));
    assert_eq!(b.drops().get(DropReason::SignalUnsealed), 3);
    assert_eq!(b.traversal.stats.punches_joined, 0);
    assert!(b.traversal.punches.is_empty());
    // The right key, for comparison.
    let right = SealKey::derive(&shared_with(&bid), a.as_bytes(), bid.as_bytes());
    b.consume_signal(
        t0,
        relay,
        &signal_with(&a_key, bid, 30, Some(&right), &plain),
    );
    assert_eq!(b.traversal.stats.punches_joined, 1);
    assert_eq!(b.drops().get(DropReason::SignalUnsealed), 3);
}

#[test]
fn a_signal_refused_by_the_join_limits_cannot_be_replayed_against_them() {
    let t0 = Instant::now();
    let mut a = node(1, Vec::new(), t0);
    let mut b = node(2, Vec::new(), t0);
    let relay = node(3, Vec::new(), t0).id();
    // B knows A (an earlier signal), and A's joins for this minute are spent.
    let earlier = a.seal_candidates(t0, b.id(), &candidates()).unwrap();
    b.consume_signal(t0, relay, &earlier);
    b.traversal.punches.clear();
    while b.traversal.limits.admit_join(t0, a.id(), relay).is_ok() {}
    let mut c = candidates();
    c.punch_id = 78;
    let refused = a.seal_candidates(t0, b.id(), &c).unwrap();
    b.consume_signal(t0, relay, &refused);
    assert_eq!(b.traversal.stats.joins_refused, 1);
    // A forwarder replaying it does not count against A's limits again.
    b.consume_signal(t0, relay, &refused);
    assert_eq!(b.traversal.stats.joins_refused, 1);
    assert_eq!(b.drops().get(DropReason::SignalRejected), 1);
}
