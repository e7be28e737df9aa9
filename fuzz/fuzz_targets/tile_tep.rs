#![no_main]
//! Tile Event Packets: the view never panics, accepts only connect and
//! disconnect, and re-emits exactly.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::wire::tep::{Packet, Repr};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        assert!(matches!(data[1], 1 | 2));
        assert_eq!(Repr::parse(&p).to_vec(), data);
    }
});
