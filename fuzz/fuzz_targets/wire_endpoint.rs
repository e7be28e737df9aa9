#![no_main]
//! Endpoint encoding: parse, re-emit, compare.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::endpoint::{emit, encoded_len, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok((addr, n)) = parse(data) {
        assert_eq!(n, encoded_len(&addr));
        let mut v = Vec::new();
        emit(&addr, &mut v);
        assert_eq!(&v[..], &data[..n]);
    }
});
