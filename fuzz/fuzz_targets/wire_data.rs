#![no_main]
//! Data message view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::data::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (p.receiver_index(), p.counter(), p.ciphertext().len());
    }
});
