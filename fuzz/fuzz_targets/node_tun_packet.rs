#![no_main]
//! Arbitrary packets from the TUN device into a node that has a live
//! session with a peer (so packets to the peer's addresses are sealed and
//! sent); it must never panic. The pair is set up once per process.
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::established_pair;

fuzz_target!(|data: &[u8]| {
    let mut pair = established_pair();
    let t = pair.start + Duration::from_secs(1);
    let mut out = vec![0u8; data.len() + 64];
    let _ = pair.a.handle_tun_packet(t, data, &mut out);
    while let Some(tx) = pair.a.poll_transmit() {
        assert!(!tx.payload.is_empty());
    }
});
