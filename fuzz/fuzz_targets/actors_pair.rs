#![no_main]
//! Pair key offers: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::pair::Pair;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Pair::parse(data) {
        assert_eq!(p.to_bytes(), data);
    }
});
