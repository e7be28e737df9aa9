#![no_main]
//! Signal envelope, sealed body and candidates body.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::signal::{Candidates, Envelope};
use tessel_overlay::wire::signal_seal::{self, SealKey};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::new_checked(data) {
        let _ = (
            e.hop_limit(),
            e.body_kind(),
            e.src(),
            e.dst(),
            e.timestamp_ms(),
            e.signature(),
        );
        assert_eq!(e.signed_part().len() + 2 + 64, data.len());
        let _ = Candidates::parse(e.body());
        // Opening checks lengths before any slicing; a key fixed here
        // (from the header's own IDs) only opens what was sealed with it.
        let key = SealKey::derive(&[7; 32], &e.src(), &e.dst());
        if let Ok(plain) = signal_seal::open(&key, &e) {
            assert_eq!(plain.len() + signal_seal::OVERHEAD, e.body().len());
            let _ = Candidates::parse(&plain);
        }
    }
    if let Ok(c) = Candidates::parse(data) {
        // Parsing what we write gives back the same candidates.
        assert_eq!(Candidates::parse(&to_vec(|o| c.emit(o))).as_ref(), Ok(&c));
    }
});
