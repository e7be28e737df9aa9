#![no_main]
//! Name claims, releases and claim lists: what parses re-encodes to the
//! same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::names::{parse_claims, write_claims, Claim, Unclaim};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Claim::parse(data) {
        let mut b = Vec::new();
        c.write(&mut b).unwrap();
        assert_eq!(b, data);
    }
    if let Ok(u) = Unclaim::parse(data) {
        let mut b = Vec::new();
        u.write(&mut b).unwrap();
        assert_eq!(b, data);
    }
    if let Ok(cs) = parse_claims(data) {
        let mut b = Vec::new();
        write_claims(&mut b, &cs).unwrap();
        assert_eq!(b, data);
    }
});
