#![no_main]
//! Handshake response view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::handshake_resp::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (
            p.sender_index(),
            p.receiver_index(),
            p.noise().len(),
            p.ext_len(),
            p.as_bytes().len(),
        );
    }
});
