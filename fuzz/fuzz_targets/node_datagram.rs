#![no_main]
//! Arbitrary datagrams into a node that has a live session with a peer: the
//! node must never panic, and an unauthenticated datagram never makes it
//! answer (MACs are bypassed under cfg(fuzzing) to reach deeper code). The
//! pair is set up once per process; each input gets a copy.
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::{established_node, with_out, B_ADDR};

fuzz_target!(|data: &[u8]| {
    let (mut a, start) = established_node();
    let b_addr = B_ADDR.parse().unwrap();
    let t = start + Duration::from_secs(1);
    with_out(|out| {
        // The fuzz input, split into datagrams at 0xfe bytes.
        for d in data.split(|w| *w == 0xfe) {
            let _ = a.handle_datagram(t, b_addr, d, out);
        }
    });
    while a.poll_transmit().is_some() {}
    let _ = a.status(t);
});
