#![no_main]
//! Classification of decrypted plaintexts and the IP header checks.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::inner::{parse, Inner};

fuzz_target!(|data: &[u8]| {
    if let Ok(Inner::Ip(ip)) = parse(data) {
        assert!(ip.bytes.len() <= data.len());
    }
});
