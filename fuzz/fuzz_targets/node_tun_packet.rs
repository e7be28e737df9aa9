#![no_main]
//! Arbitrary packets from the TUN device into a node that has a live
//! session with a peer (so packets to the peer's addresses are sealed and
//! sent); it must never panic. The pair is set up once per process.
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::{established_node, with_out};

fuzz_target!(|data: &[u8]| {
    let (mut a, start) = established_node();
    let t = start + Duration::from_secs(1);
    with_out(|out| {
        let _ = a.handle_tun_packet(t, data, out);
    });
    while let Some(tx) = a.poll_transmit() {
        assert!(!tx.payload.is_empty());
    }
});
