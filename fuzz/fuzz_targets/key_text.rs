#![no_main]
//! Text forms of node IDs, node keys, network keys and signed rotations.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::identity::{NetworkKey, NodeId, NodeKey, SignedRotation};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(id) = NodeId::parse(s) {
            assert_eq!(NodeId::parse(&id.to_string()), Ok(id));
        }
        let _ = NodeKey::from_text(s);
        if let Ok(k) = NetworkKey::parse(s) {
            // Plain and rotated forms read back as the same key.
            let back = NetworkKey::parse(&k.to_text()).expect("own text parses");
            assert_eq!((back.id(), back.epoch()), (k.id(), k.epoch()));
            assert_eq!(back.secret(), k.secret());
        }
        if let Ok(r) = SignedRotation::from_text(s) {
            let back = SignedRotation::from_text(&r.to_text()).expect("own text parses");
            assert_eq!(back.key().secret(), r.key().secret());
            assert_eq!((back.grace_end_s(), back.signature()), (r.grace_end_s(), r.signature()));
        }
    }
});
