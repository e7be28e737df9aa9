#![no_main]
//! Revocation list part and want views; what parses re-emits to the same
//! bytes.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::revocation_part::{emit_part, emit_want, part_range, Op, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let again = match p.op() {
            Op::Want { count } => emit_want(p.serial(), p.total_len(), p.index(), count).unwrap(),
            Op::Part => {
                // A list whose part `index` holds these bytes.
                let mut list = vec![0u8; p.total_len()];
                list[part_range(p.total_len(), usize::from(p.index()))].copy_from_slice(p.data());
                emit_part(p.serial(), &list, p.index()).unwrap()
            }
        };
        assert_eq!(again[..], *data);
    }
});
