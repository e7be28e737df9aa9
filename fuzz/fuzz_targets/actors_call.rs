#![no_main]
//! Call request and response bodies: what parses re-encodes to the same
//! bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::call::{CallRequest, CallResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = CallRequest::parse(data) {
        let mut b = Vec::new();
        r.write(&mut b);
        assert_eq!(b, data);
    }
    if let Ok(r) = CallResponse::parse(data) {
        let mut b = Vec::new();
        r.write(&mut b);
        assert_eq!(b, data);
    }
});
