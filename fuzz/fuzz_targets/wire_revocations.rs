#![no_main]
//! Revocation list view; what parses re-emits to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::revocations::{emit_signed_part, Packet};
use tessel_overlay::wire::try_to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let entries: Vec<_> = p.entries().collect();
        let again =
            try_to_vec(|o| emit_signed_part(p.network_id(), p.serial(), &entries, o)).unwrap();
        assert_eq!(again[..], *p.signed_part());
        let _ = p.signature();
    }
});
