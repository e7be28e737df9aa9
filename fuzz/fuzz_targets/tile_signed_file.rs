#![no_main]
//! Signed files: the view never panics, and arbitrary bytes never verify
//! under a fixed trusted key.
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::file::signed::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (p.name(), p.timestamp(), p.content().len(), p.version());
        let trusted = SigningKey::from_bytes(&[1; 32]).verifying_key();
        assert!(p.verify(&[trusted]).is_err());
    }
});
