#![no_main]
//! Service 9 (change physics) messages: parsing never panics, a parsed
//! message re-emits exactly, and the machine takes any payload.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::physics::{Message, Physics};
use tessel_tile_link::Dir;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        assert_eq!(m.to_vec(), data);
    }
    let mut p = Physics::new(Vec::new());
    p.handle_neighbour(Dir::East, true);
    p.handle_message(Dir::East, data);
    assert!(p.current().is_none());
    assert!(p.poll_event().is_none());
});
