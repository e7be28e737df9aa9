#![no_main]
//! Arbitrary packets from the TUN device into a node.
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::node;

fuzz_target!(|data: &[u8]| {
    let mut node = node(1, Vec::new(), Instant::now());
    let mut out = vec![0u8; data.len() + 64];
    let _ = node.handle_tun_packet(Instant::now(), data, &mut out);
});
