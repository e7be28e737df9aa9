#![no_main]
//! Revocation list part and want views; what parses re-emits to the same
//! bytes.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::revocation_part::{emit_part, emit_want, part_range, Op, Packet};
use tessel_overlay::wire::try_to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::new_checked(data) {
        let again = match p.op() {
            Op::Want { count } => try_to_vec(|o| emit_want(p.serial(), p.total_len(), p.index(), count, o)).unwrap(),
            Op::Part => {
                // A list whose part `index` holds these bytes.
                let mut list = vec![0u8; p.total_len()];
                list[part_range(p.total_len(), usize::from(p.index()))].copy_from_slice(p.data());
                try_to_vec(|o| emit_part(p.serial(), &list, p.index(), o)).unwrap()
            }
        };
        assert_eq!(again[..], *data);
    }
});
