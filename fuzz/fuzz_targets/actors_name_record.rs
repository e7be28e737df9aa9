#![no_main]
//! Name records: what parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::name_record::NameRecord;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = NameRecord::parse(data) {
        assert_eq!(r.to_bytes().unwrap(), data);
        assert_eq!(r.encoded_len(), data.len());
    }
});
