#![no_main]
//! Signed scope records: what parses re-encodes to the same bytes, and
//! checking the signature never panics.
use libfuzzer_sys::fuzz_target;
use tessel_actors::scope::Record;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Record::parse(data) {
        assert_eq!(r.to_bytes().unwrap(), data);
        let _ = r.verify_signature();
    }
});
