#![no_main]
//! Service packets (byte 0 and byte 1): the view never panics, accepts only
//! services 1 to 63 with the reserved bits clear, and re-emits exactly.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::wire::service::{Packet, Repr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let s = p.service().number();
        assert!((1..=63).contains(&s));
        assert_eq!(Repr::parse(&p).to_vec(), data);
    }
});
