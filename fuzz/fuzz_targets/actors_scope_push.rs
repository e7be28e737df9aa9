#![no_main]
//! Scope push frames: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::scope_push::{ScopePush, MAX_LEN, MAX_RECORDS};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ScopePush::parse(data) {
        assert!(!p.records.is_empty() && p.records.len() <= MAX_RECORDS);
        assert!(data.len() <= MAX_LEN);
        let mut out = Vec::new();
        p.write(&mut out).unwrap();
        assert_eq!(out, data);
    }
});
