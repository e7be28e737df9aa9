#![no_main]
//! Scope query frames: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::scope_query::ScopeQueryFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = ScopeQueryFrame::parse(data) {
        let mut out = Vec::new();
        f.write(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(f.encoded_len(), data.len());
    }
});
