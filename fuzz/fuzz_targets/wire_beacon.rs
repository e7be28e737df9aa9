#![no_main]
//! LAN beacon view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::beacon::{emit, Packet, LEN};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        assert_eq!(data.len(), LEN);
        assert_ne!(p.port(), 0);
        // Reserved bytes (1..4) and the MAC are not the view's business;
        // everything else re-emits.
        let again = to_vec(|o| emit(&p.node_id(), p.port(), p.timestamp_ms(), o));
        assert_eq!(again[0], data[0]);
        assert_eq!(&again[4..LEN - 16], &data[4..LEN - 16]);
    }
});
