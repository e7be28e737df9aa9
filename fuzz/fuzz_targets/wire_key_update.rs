#![no_main]
//! Key update view, with and without the owner's signature.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::key_update::{emit, emit_signed, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let (epoch, grace, id, secret) = (p.epoch(), p.grace_end(), p.network_id(), p.secret());
        match p.owner_signature() {
            Some(sig) => assert_eq!(&emit_signed(epoch, grace, &id, &secret, &sig)[..], data),
            None => assert_eq!(&emit(epoch, grace, &id, &secret)[..], data),
        }
    }
});
