//! A cloned node is the node: fed the same inputs, the copy sends the same
//! datagrams and reports the same status as the original, whether it was
//! copied before, during or after a handshake (the fuzz targets start every
//! input from a copy of prepared nodes).

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::test_nodes::node;
use super::Node;

const A: &str = "198.51.100.1:9740";
const B: &str = "198.51.100.2:9740";

/// Two nodes, B bootstrapped from A.
#[derive(Clone)]
struct Pair {
    a: Node,
    b: Node,
}

/// One step of the script: timers at `t`, then what each node sends
/// delivered to the other. Returns every datagram sent, in order.
fn round(p: &mut Pair, t: Instant) -> Vec<Vec<u8>> {
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let mut out = vec![0u8; 65_600];
    let mut sent = Vec::new();
    p.a.handle_timeout(t);
    p.b.handle_timeout(t);
    for _ in 0..4 {
        while let Some(tx) = p.b.poll_transmit() {
            let _ = p.a.handle_datagram(t, b_addr, &tx.payload, &mut out);
            sent.push(tx.payload);
        }
        while let Some(tx) = p.a.poll_transmit() {
            let _ = p.b.handle_datagram(t, a_addr, &tx.payload, &mut out);
            sent.push(tx.payload);
        }
    }
    sent
}

/// An IPv6 UDP packet from `src` to `dst` with an 8-byte payload.
fn udp6(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![0u8; 56];
    p[0] = 0x60;
    p[5] = 16;
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40..42].copy_from_slice(&4000u16.to_be_bytes());
    p[42..44].copy_from_slice(&5000u16.to_be_bytes());
    p[44..46].copy_from_slice(&16u16.to_be_bytes());
    p[48..].copy_from_slice(b"payload!");
    p
}

/// One step of the script: at its time, either a TUN packet each way
/// (`true`) or a round of timers and deliveries.
type Step = (Instant, bool);

/// The script: the first contact and handshake, then keepalives, a rekey
/// and a session's expiry; at each time TUN packets, then a round (so a
/// copy taken between the two has the handshake they start in flight).
fn steps(start: Instant) -> Vec<Step> {
    let mut times: Vec<Instant> = (0..8)
        .map(|i| start + Duration::from_millis(10 * i))
        .collect();
    times.extend([30, 60, 125, 130, 200, 260, 400].map(|s| start + Duration::from_secs(s)));
    times
        .into_iter()
        .flat_map(|t| [(t, true), (t, false)])
        .collect()
}

/// Runs `steps` (not empty). Returns every datagram sent and the final
/// statuses.
fn run(p: &mut Pair, steps: &[Step]) -> (Vec<Vec<u8>>, String) {
    let mut out = vec![0u8; 65_600];
    let mut sent = Vec::new();
    for &(t, tun) in steps {
        if tun {
            let packet = udp6(p.a.ipv6(), p.b.ipv6());
            let _ = p.a.handle_tun_packet(t, &packet, &mut out);
            let packet = udp6(p.b.ipv6(), p.a.ipv6());
            let _ = p.b.handle_tun_packet(t, &packet, &mut out);
        } else {
            sent.extend(round(p, t));
        }
    }
    let t = steps.last().unwrap().0;
    let status = serde_json::to_string(&(p.a.status(t), p.b.status(t))).unwrap();
    (sent, status)
}

fn fresh_pair(start: Instant) -> Pair {
    Pair {
        a: node(1, Vec::new(), start),
        b: node(2, vec![A.parse().unwrap()], start),
    }
}

#[test]
fn a_copy_behaves_as_the_original_at_every_point() {
    let start = Instant::now();
    let times = steps(start);
    let mut copied_in_flight = false;
    for i in 0..times.len() {
        let mut original = fresh_pair(start);
        if i > 0 {
            run(&mut original, &times[..i]);
        }
        copied_in_flight |= [&original.a, &original.b]
            .iter()
            .any(|n| n.peers.values().any(|p| p.handshake.is_some()));
        let mut copy = original.clone();
        let (sent_copy, status_copy) = run(&mut copy, &times[i..]);
        let (sent_original, status_original) = run(&mut original, &times[i..]);
        assert_eq!(
            sent_copy, sent_original,
            "datagrams after a copy at step {i}"
        );
        assert_eq!(
            status_copy, status_original,
            "status after a copy at step {i}"
        );
        let t = times.last().unwrap().0;
        assert!(original.a.status(t).peers.iter().any(|p| p.connected));
    }
    assert!(
        copied_in_flight,
        "no copy was taken with a handshake in flight"
    );
}

/// The clone and the original are independent: what one does, the other
/// does not see.
#[test]
fn a_copy_is_independent() {
    let start = Instant::now();
    let times = steps(start);
    let mut original = fresh_pair(start);
    run(&mut original, &times[..16]);
    let t = times[15].0;
    let before = serde_json::to_string(&original.a.status(t)).unwrap();
    let mut copy = original.clone();
    let (sent, _) = run(&mut copy, &times[16..]);
    assert!(!sent.is_empty());
    let after = serde_json::to_string(&original.a.status(t)).unwrap();
    assert_eq!(before, after);
}
