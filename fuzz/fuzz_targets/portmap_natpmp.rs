#![no_main]
//! NAT-PMP: requests and responses parse without panicking; what parses
//! re-emits to the same bytes; the client takes any datagram.
use libfuzzer_sys::fuzz_target;
use tessel_nat::portmap::client::{Client, ClientConfig};
use tessel_nat::portmap::natpmp::{
    emit_external_address_request, emit_map_request, emit_response, parse_request, Request,
    Response,
};
use tessel_nat::portmap::Protocol;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(Request::ExternalAddress) => {
            assert_eq!(&emit_external_address_request()[..], &data[..2])
        }
        Ok(Request::Map(m)) => {
            let again = emit_map_request(&m);
            assert_eq!(&again[..2], &data[..2]);
            assert_eq!(&again[4..], &data[4..12]);
        }
        Err(_) => {}
    }
    if let Ok(r) = Response::new_checked(data) {
        let body = &data[8..];
        let again = emit_response(r.opcode(), r.result(), r.epoch(), body);
        assert_eq!(&again[..], data);
        let _ = (r.external_address(), r.mapping());
    }
    let now = std::time::Instant::now();
    let mut c = Client::new(
        ClientConfig {
            protocol: Protocol::NatPmp,
            client_addr: "198.18.1.2".parse().unwrap(),
            internal_port: 9740,
            lifetime: 7200,
            nonce: [1; 12],
            seed: 1,
        },
        now,
    );
    c.handle_datagram(now, data);
    while c.poll_transmit().is_some() {}
    while c.poll_event().is_some() {}
});
