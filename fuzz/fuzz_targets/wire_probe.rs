#![no_main]
//! Probe and probe-ack view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::probe::{emit_ack, emit_probe, Packet};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        // Reserved bytes (1..4), a probe's padding, the pair tag and the MAC are not
        // re-emitted; the rest is.
        let again = match p.observed() {
            Some(seen) => to_vec(|o| emit_ack(&p.sender(), p.tx(), seen, o)),
            None => to_vec(|o| emit_probe(&p.sender(), p.tx(), o)),
        };
        assert_eq!(again.len(), data.len());
        assert_eq!(again[0], data[0]);
        assert_eq!(&again[4..44], &data[4..44]);
    }
});
