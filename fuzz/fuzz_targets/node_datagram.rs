#![no_main]
//! Arbitrary datagrams into a node that has a live session with a peer: the
//! node must never panic, and an unauthenticated datagram never makes it
//! answer (MACs are bypassed under cfg(fuzzing) to reach deeper code).
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::node;

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let a_addr = "192.0.2.1:9740".parse().unwrap();
    let b_addr = "192.0.2.2:9740".parse().unwrap();
    let mut a = node(1, vec![], now);
    let mut b = node(2, vec![a_addr], now);
    let mut out = vec![0u8; 65_600];
    // A few rounds of the real exchange so that sessions exist.
    for round in 0..6u32 {
        let t = now + Duration::from_millis(u64::from(round) * 10);
        b.handle_timeout(t);
        a.handle_timeout(t);
        while let Some(tx) = b.poll_transmit() {
            let _ = a.handle_datagram(t, b_addr, &tx.payload, &mut out);
        }
        while let Some(tx) = a.poll_transmit() {
            let _ = b.handle_datagram(t, a_addr, &tx.payload, &mut out);
        }
    }
    let t = now + Duration::from_secs(1);
    // The fuzz input, split into datagrams at 0xfe bytes.
    for d in data.split(|w| *w == 0xfe) {
        let _ = a.handle_datagram(t, b_addr, d, &mut out);
    }
    while a.poll_transmit().is_some() {}
    let _ = a.status(t);
});
