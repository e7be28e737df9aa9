#![no_main]
//! Event bodies: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::event::{encoded_len, parse, write};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = parse(data) {
        let mut b = Vec::new();
        write(&mut b, &e).unwrap();
        assert_eq!(b, data);
        assert_eq!(encoded_len(&e), data.len());
    }
});
