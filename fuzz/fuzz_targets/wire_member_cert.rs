#![no_main]
//! Member certificate view (and its padded form); what parses re-emits to
//! the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::member_cert::{unpad, Fields, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let groups: Vec<String> = p.groups().into_iter().map(str::to_owned).collect();
        let mut again = Vec::new();
        Fields {
            network_id: p.network_id(),
            node_id: p.node_id(),
            not_after: p.not_after(),
            name: p.name(),
            groups: &groups,
        }
        .emit_signed_part(&mut again)
        .unwrap();
        assert_eq!(again[..], *p.signed_part());
        again.extend_from_slice(&p.signature());
        assert_eq!(again[..], *data);
    }
    // A certificate with its padding, as initiations carry it.
    if let Ok(cert) = unpad(data) {
        assert!(Packet::new_checked(cert).is_ok());
    }
});
