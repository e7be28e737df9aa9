#![no_main]
//! Gossip message parser; what parses must re-emit to the same entries.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::gossip::{emit, parse};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse(data) {
        let ok: Vec<_> = entries.map_while(Result::ok).collect();
        let bytes = to_vec(|o| emit(&ok, o));
        let back: Vec<_> = parse(&bytes).unwrap().map(Result::unwrap).collect();
        assert_eq!(back, ok);
    }
});
