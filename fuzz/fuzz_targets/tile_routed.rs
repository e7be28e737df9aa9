#![no_main]
//! Byte 0 of standard routed packets: the view never panics, and a parsed
//! packet re-emits to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::wire::routed::{Packet, Repr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let r = Repr::parse(&p);
        let mut again = vec![0u8; r.buffer_len()];
        r.emit(&mut again);
        assert_eq!(again, data);
    }
});
