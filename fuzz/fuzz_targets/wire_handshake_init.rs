#![no_main]
//! Handshake initiation view (with or without mac2) and its payload.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::handshake_init::{Packet, Payload};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (p.sender_index(), p.noise().len(), p.as_bytes().len());
        let _ = (p.mac1(), p.mac2(), p.with_mac1().len(), p.ext_len());
    }
    if let Ok(pl) = Payload::parse(data) {
        assert_eq!(Payload::parse(&to_vec(|o| pl.emit(o))), Ok(pl));
    }
});
