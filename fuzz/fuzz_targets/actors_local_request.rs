#![no_main]
//! Local engine socket, binary requests: the parser never panics, and a
//! request that parses re-encodes to bytes that parse to the same request.
use libfuzzer_sys::fuzz_target;
use tessel_actors::local::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok((id, req)) = Request::parse(data) {
        let mut again = Vec::new();
        req.write(id, &mut again).unwrap();
        assert_eq!(again.len(), req.encoded_len());
        assert_eq!(Request::parse(&again), Ok((id, req)));
    }
});
