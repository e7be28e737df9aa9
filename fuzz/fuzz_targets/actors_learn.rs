#![no_main]
//! Learn records: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::learn::Learn;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = Learn::parse(data) {
        assert_eq!(l.to_bytes(), data);
        assert_eq!(l.encoded_len(), data.len());
    }
});
