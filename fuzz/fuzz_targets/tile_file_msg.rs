#![no_main]
//! Service 8 (file update) messages: parsing never panics, and a parsed
//! message re-emits exactly.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::file::msg::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        assert_eq!(m.buffer_len(), data.len());
        assert_eq!(m.to_vec(), data);
    }
});
