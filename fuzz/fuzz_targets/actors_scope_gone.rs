#![no_main]
//! Scope gone frames: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::scope_gone::ScopeGone;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = ScopeGone::parse(data) {
        let mut out = Vec::new();
        g.write(&mut out);
        assert_eq!(out, data);
    }
});
