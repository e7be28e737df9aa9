#![no_main]
//! Hello and hello-ack view.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::hello::{emit, Packet};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        // Everything before the MAC re-emits as it was.
        let again = to_vec(|o| emit(p.is_ack(), &p.node_id(), p.stamp(), o));
        assert_eq!(&again[..36], &data[..36]);
    }
});
