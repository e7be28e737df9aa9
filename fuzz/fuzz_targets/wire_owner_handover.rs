#![no_main]
//! Owner handover view; what parses re-emits to the same bytes, and its
//! signature check never panics.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::identity::{NetworkKey, OwnerHandover};
use tessel_overlay::wire::owner_handover::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let mut again = Vec::new();
        p.fields().emit_signed_part(&mut again);
        again.extend_from_slice(&p.signature());
        assert_eq!(again[..], *data);
        let h = OwnerHandover::parse(data).unwrap();
        let _ = h.verify(&NetworkKey::from_secret([1; 32]).id());
    }
});
