#![no_main]
//! Arbitrary datagrams on the LAN discovery port into a node: it must never
//! panic (MACs are bypassed under cfg(fuzzing), so that what follows the
//! checks is reached too: members, endpoints, handshakes). The node is set
//! up once per process; each input gets a copy.
use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tessel_fuzz::fresh_node;

fuzz_target!(|data: &[u8]| {
    let (mut a, now) = fresh_node();
    // The fuzz input, split into datagrams at 0xfe bytes; the first byte of
    // each picks the source, the second whether it is on the LAN.
    for (i, d) in data.split(|w| *w == 0xfe).enumerate() {
        let from: SocketAddr = match d.first().map(|b| b % 4) {
            Some(0) => "198.18.1.3:9741".parse().unwrap(),
            Some(1) => "[fe80::3%2]:9741".parse().unwrap(),
            Some(2) => "[::ffff:198.18.1.4]:9741".parse().unwrap(),
            _ => "0.0.0.0:9741".parse().unwrap(),
        };
        let t = now + Duration::from_millis(i as u64);
        let on_link = d.get(1).is_none_or(|b| b % 8 != 0);
        a.handle_lan_beacon(t, from, on_link, d);
        a.handle_timeout(t);
        while let Some(tx) = a.poll_transmit() {
            assert!(!tx.payload.is_empty());
        }
    }
    let _ = a.status(now + Duration::from_secs(1));
});
