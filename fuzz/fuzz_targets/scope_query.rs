#![no_main]
//! Scope queries: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::Query;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = Query::parse(data) {
        assert_eq!(q.to_bytes().unwrap(), data);
    }
});
