#![no_main]
//! Subscribe and unsubscribe bodies: what parses re-encodes to the same
//! bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::subscribe::{Subscribe, Unsubscribe};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = Subscribe::parse(data) {
        let mut b = Vec::new();
        s.write(&mut b).unwrap();
        assert_eq!(b, data);
    }
    if let Ok(u) = Unsubscribe::parse(data) {
        let mut b = Vec::new();
        u.write(&mut b);
        assert_eq!(b, data);
    }
});
