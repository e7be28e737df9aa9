#![no_main]
//! Forget records: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::forget::Forget;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Forget::parse(data) {
        assert_eq!(f.to_bytes(), data);
    }
});
