#![no_main]
//! Hello and hello-ack view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::hello::{emit, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        // Reserved bytes (1..4) are ignored by receivers; the rest re-emits.
        let again = emit(p.is_ack(), &p.node_id());
        assert_eq!(again[0], data[0]);
        assert_eq!(&again[4..36], &data[4..36]);
    }
});
