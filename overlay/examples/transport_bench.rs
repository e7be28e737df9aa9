//! Transport cost: sealing and opening data messages with a session that a
//! real handshake made (header, ChaCha20-Poly1305, replay window).
//!
//! ```text
//! cargo run --release -p tessel-overlay --no-default-features --example transport_bench [-- SECONDS]
//! ```
//!
//! Prints, per payload size, the time to encrypt one message and to
//! decrypt one (its encryption subtracted), and the throughput of each.

// A benchmark: it measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tessel_overlay::identity::{NetworkKey, NodeKey};
use tessel_overlay::session::handshake::{
    consume_initiation, consume_response, create_initiation, HandshakeKeys,
};
use tessel_overlay::session::Session;
use tessel_overlay::wire::{data, handshake_init, handshake_resp};

/// Payload sizes measured: a small control message, a full-MTU IP packet,
/// and a large one.
const SIZES: [usize; 3] = [64, 1420, 8192];

/// Runs `f` repeatedly for about `budget`; returns the time per call.
fn time_per_call(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            f();
        }
        n = n.saturating_add(1000);
    }
    start.elapsed() / n.max(1)
}

/// A fresh session pair (initiator's, responder's) from one handshake.
fn sessions() -> (Session, Session) {
    let now = Instant::now();
    let network = NetworkKey::from_secret([7; 32]);
    let (a, b) = (NodeKey::from_seed([1; 32]), NodeKey::from_seed([2; 32]));
    let (mut ka, mut kb) = (
        HandshakeKeys::new(&a, &network),
        HandshakeKeys::new(&b, &network),
    );
    let (state, init) = create_initiation(&mut ka, &b.id(), 1, 1, [3; 32]).expect("initiation");
    let packet = handshake_init::Packet::new_checked(&init[..]).expect("initiation packet");
    let initiation = consume_initiation(&kb, &packet, [4; 32]).expect("initiation verifies");
    let (responder, resp) = initiation
        .create_response(&mut kb, 2, now)
        .expect("response");
    let packet = handshake_resp::Packet::new_checked(&resp[..]).expect("response packet");
    let (initiator, _) = consume_response(state, &packet, now).expect("response verifies");
    (initiator, responder)
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    println!("transport, per message:");
    println!("  payload   encrypt ns    MB/s   decrypt ns    MB/s");
    for size in SIZES {
        let plaintext = vec![0x5a; size];
        let mut wire = vec![0u8; size + data::HEADER_LEN + data::TAG_LEN];
        let mut out = vec![0u8; size + data::TAG_LEN];
        let (mut a, _) = sessions();
        let seal = time_per_call(budget, || {
            black_box(
                a.encrypt(black_box(&plaintext), &mut wire)
                    .expect("encrypt"),
            );
        });
        let (mut a, mut b) = sessions();
        let both = time_per_call(budget, || {
            let n = a
                .encrypt(black_box(&plaintext), &mut wire)
                .expect("encrypt");
            let packet = data::Packet::new_checked(&wire[..n]).expect("data packet");
            black_box(b.decrypt(&packet, &mut out).expect("decrypt"));
        });
        let open = both.saturating_sub(seal);
        let ns = |d: Duration| d.as_secs_f64() * 1e9;
        let mbps = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
        println!(
            "  {size:7} {:12.0} {:7.0} {:12.0} {:7.0}",
            ns(seal),
            mbps(seal),
            ns(open),
            mbps(open)
        );
    }
}
