#![no_main]
//! PCP: requests and responses parse without panicking; a parsed MAP
//! request re-emits to the same bytes (options aside); the client takes
//! any datagram, and its own request echoed with the input's header.
use libfuzzer_sys::fuzz_target;
use tessel_nat::portmap::client::{Client, ClientConfig};
use tessel_nat::portmap::pcp::{emit_request, parse_request, Opcode, Response};
use tessel_nat::portmap::Protocol;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_request(data) {
        if r.opcode != Opcode::Peer {
            // Reserved bytes are written as zero: compare the rest.
            let again = emit_request(r.lifetime, r.client, r.map.as_ref());
            assert_eq!(&again[4..24], &data[4..24]);
            if again.len() > 24 {
                assert_eq!(&again[24..37], &data[24..37]);
                assert_eq!(&again[40..60], &data[40..60]);
            }
        }
    }
    if let Ok(r) = Response::new_checked(data) {
        let _ = (r.result(), r.lifetime(), r.epoch(), r.map());
        for (_code, opt) in r.options() {
            assert!(opt.len() <= data.len());
        }
    }
    let now = std::time::Instant::now();
    let mut c = Client::new(
        ClientConfig {
            protocol: Protocol::Pcp,
            client_addr: "198.18.1.2".parse().unwrap(),
            internal_port: 9740,
            lifetime: 7200,
            nonce: [1; 12],
            seed: 1,
        },
        now,
    );
    let mine = c.poll_transmit().unwrap();
    c.handle_datagram(now, data);
    // The client's own request, turned into a response with the fuzzer's
    // header bytes, must not upset it either.
    if data.len() >= 24 {
        let mut echoed = mine.clone();
        echoed[..24].copy_from_slice(&data[..24]);
        echoed[0] = 2;
        echoed[1] |= 0x80;
        c.handle_datagram(now, &echoed);
    }
    while c.poll_transmit().is_some() {}
    while c.poll_event().is_some() {}
});
