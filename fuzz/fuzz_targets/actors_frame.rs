#![no_main]
//! Stream framing: the deframer over arbitrary bytes, and whole frames;
//! a frame that parses re-encodes to the same bytes.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::frame::{Deframer, Frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = Frame::parse_whole(data) {
        assert_eq!(f.to_bytes().unwrap(), data);
    }
    let mut d = Deframer::new(1 << 16);
    d.push(data);
    while let Ok(Some(raw)) = d.next_frame() {
        let _ = Frame::parse(raw.ty, &raw.body);
    }
});
