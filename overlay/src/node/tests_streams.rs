//! A stream connection (TCP) is reported trusted only once a handshake
//! completed over it: a hello or an initiation that the node takes is not
//! enough.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::test_nodes::node;
use super::traversal::STREAM_IDS_FROM;
use super::*;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)), 9740)
}

/// What `n` sends on stream `id` (its UDP datagrams are lost: the
/// firewall drops UDP).
fn stream_out(n: &mut Node, id: u16, action: Action, out: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    if let Action::SendExtra { socket, len, .. } = action {
        if socket == id {
            v.push(out[..len].to_vec());
        }
    }
    while let Some(t) = n.poll_transmit() {
        if t.socket == id {
            v.push(t.payload);
        }
    }
    v
}

#[test]
fn a_stream_is_trusted_only_once_a_handshake_completed_over_it() {
    let t0 = Instant::now();
    let (a_at, b_at) = (addr(1), addr(2));
    let id = STREAM_IDS_FROM;
    let mut a = node(1, Vec::new(), t0);
    // B dials A over TCP; A accepted the connection.
    let mut b = node(2, vec![a_at], t0);
    a.attach_stream(t0, id, b_at);
    b.attach_stream(t0, id, a_at);
    let mut out = vec![0u8; 2048];
    let mut to_a = stream_out(&mut b, id, Action::None, &out);
    assert!(!to_a.is_empty(), "B greets A through the connection");
    let mut now = t0;
    let mut trusted_at = None;
    let mut before_trust = 0;
    for _ in 0..20 {
        now += Duration::from_millis(10);
        let mut to_b = Vec::new();
        for d in std::mem::take(&mut to_a) {
            let action = a.handle_extra_datagram(now, id, b_at, &d, &mut out);
            to_b.extend(stream_out(&mut a, id, action, &out));
            if a.take_stream_handshake(id) {
                trusted_at.get_or_insert(now);
                assert!(a.is_connected(&b.id(), now), "trusted only with a session");
            } else if trusted_at.is_none() {
                before_trust += 1;
            }
        }
        for d in to_b {
            let action = b.handle_extra_datagram(now, id, a_at, &d, &mut out);
            to_a.extend(stream_out(&mut b, id, action, &out));
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        to_a.extend(stream_out(&mut b, id, Action::None, &out));
    }
    assert!(
        trusted_at.is_some(),
        "the handshake completed over the stream"
    );
    // The hello and the initiation came first, and were taken without
    // making the connection trusted.
    assert!(before_trust >= 2, "{before_trust}");
    assert_eq!(a.drops().total(), 0);
    // Asked once: the answer is cleared (a reused socket ID starts afresh).
    assert!(!a.take_stream_handshake(id));
}
