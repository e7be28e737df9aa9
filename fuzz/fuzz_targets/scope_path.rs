#![no_main]
//! Scope paths: what parses prints back to the same text.
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::ScopePath;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = ScopePath::parse(s) {
            assert_eq!(p.to_string(), s);
            assert_eq!(p.encoded_len(), s.len());
        }
    }
});
