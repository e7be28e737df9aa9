#![no_main]
//! Key update view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::key_update::{emit, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let again = emit(p.epoch(), p.grace_end(), &p.network_id(), &p.secret());
        assert_eq!(&again[..], data);
    }
});
