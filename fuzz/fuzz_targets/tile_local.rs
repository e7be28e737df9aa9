#![no_main]
//! Standard local packets (`110TTTTT`): the view never panics and re-emits
//! exactly; the packet classifier agrees with it.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::wire::local::{Packet, Repr};
use tessel_tile_link::wire::{classify, Kind};

fuzz_target!(|data: &[u8]| {
    let kind = classify(data);
    if let Ok(p) = Packet::new_checked(data) {
        assert_eq!(kind, Ok(Kind::Local(p.kind())));
        let r = Repr::parse(&p);
        let mut again = vec![0u8; r.buffer_len()];
        r.emit(&mut again);
        assert_eq!(again, data);
    }
});
