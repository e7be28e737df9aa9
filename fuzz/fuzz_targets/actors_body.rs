#![no_main]
//! Message bodies of every kind: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::body::Body;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Body::parse(data) {
        assert_eq!(b.to_bytes().unwrap(), data);
    }
});
