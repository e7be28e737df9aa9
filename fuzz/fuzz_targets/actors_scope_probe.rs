#![no_main]
//! Scope probe frames: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::scope_probe::ScopeProbe;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ScopeProbe::parse(data) {
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out, data);
    }
});
