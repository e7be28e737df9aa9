#![no_main]
//! Name claim view; what parses re-emits to the same bytes, and checking
//! its signature (plain and managed) never panics.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::identity::{NameClaim, NetworkKey, OwnerKey};
use tessel_overlay::wire::name_claim::{Fields, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let name = p.name();
        let mut again = Vec::new();
        Fields {
            network_id: p.network_id(),
            node_id: p.node_id(),
            claimed_at_ms: p.claimed_at_ms(),
            name: &name,
            cert: p.cert().unwrap_or_default(),
        }
        .emit_signed_part(&mut again)
        .unwrap();
        assert_eq!(again[..], *p.signed_part());
        again.extend_from_slice(&p.signature());
        assert_eq!(again[..], *data);
        let claim = NameClaim::parse(data).expect("the view took it");
        let network = NetworkKey::from_secret([1; 32]).id();
        assert!(claim.verify(&network).is_err() || claim.name() == name);
        let _ = claim.verify_managed(&network, &OwnerKey::from_seed([2; 32]).id(), 0);
    }
});
