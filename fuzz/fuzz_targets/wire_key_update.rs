#![no_main]
//! Key update view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::key_update::{emit, Packet};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let again = to_vec(|o| emit(p.epoch(), p.grace_end(), &p.network_id(), &p.secret(), o));
        assert_eq!(&again[..], data);
    }
});
