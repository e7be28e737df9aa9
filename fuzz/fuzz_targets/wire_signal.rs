#![no_main]
//! Signal envelope and candidates body.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::signal::{Candidates, Envelope};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::new_checked(data) {
        let _ = (
            e.hop_limit(),
            e.src(),
            e.dst(),
            e.timestamp_ms(),
            e.signature(),
        );
        assert_eq!(e.signed_part().len() + 2 + 64, data.len());
        let _ = Candidates::parse(e.body());
    }
    if let Ok(c) = Candidates::parse(data) {
        // Parsing what we write gives back the same candidates.
        assert_eq!(Candidates::parse(&c.emit()).as_ref(), Ok(&c));
    }
});
