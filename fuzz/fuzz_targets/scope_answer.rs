#![no_main]
//! Scope answers: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::Answer;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Answer::parse(data) {
        assert_eq!(a.to_bytes().unwrap(), data);
    }
});
