#![no_main]
//! Local engine socket, what the daemon sends (answers and pushed frames,
//! binary): the parser never panics, and a frame that parses re-encodes to
//! bytes that parse to the same frame.
use libfuzzer_sys::fuzz_target;
use tessel_actors::local::ToClient;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = ToClient::parse(data) {
        let mut again = Vec::new();
        frame.write(&mut again).unwrap();
        assert_eq!(again.len(), frame.encoded_len());
        assert_eq!(ToClient::parse(&again), Ok(frame));
    }
});
