#![no_main]
//! Relay frames: what parses is written back byte for byte.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::relay::{emit, Frame};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Frame::new_checked(data) {
        let (dst, src, hops) = (f.dst(), f.src(), f.hop_limit());
        let mut again = to_vec(|o| emit(&dst, &src, f.datagram(), o));
        assert_eq!(again.len(), data.len());
        let mut g = Frame::new_checked(&mut again[..]).expect("what we write parses");
        g.set_hop_limit(hops);
        assert_eq!((g.dst(), g.src(), g.datagram()), (dst, src, f.datagram()));
    }
});
