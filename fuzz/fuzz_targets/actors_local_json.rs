#![no_main]
//! Local engine socket, JSON requests: reading any bytes as a request
//! never panics, and a request that reads re-encodes to JSON that reads
//! to the same request.
use libfuzzer_sys::fuzz_target;
use tessel_actors::local::json;

fuzz_target!(|data: &[u8]| {
    let (id, req) = json::parse(data);
    if let Ok(req) = req {
        let again = json::request_value(&id, &req).to_string();
        assert_eq!(json::parse(again.as_bytes()), (id, Ok(req)));
    }
});
