#![no_main]
//! Key update view, with and without the owner's signature.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::key_update::{emit, emit_signed, Packet};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let (epoch, grace, id, secret) = (p.epoch(), p.grace_end(), p.network_id(), p.secret());
        let again = match p.owner_signature() {
            Some(sig) => to_vec(|o| emit_signed(epoch, grace, &id, &secret, &sig, o)),
            None => to_vec(|o| emit(epoch, grace, &id, &secret, o)),
        };
        assert_eq!(&again[..], data);
    }
});
