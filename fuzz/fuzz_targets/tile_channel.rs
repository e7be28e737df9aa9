#![no_main]
//! The local channel framing: decoding a stream never panics; every frame
//! decoded re-encodes to the bytes it came from.
use libfuzzer_sys::fuzz_target;
use tessel_tile_link::channel::Frame;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((frame, used))) = Frame::decode(rest) {
        assert_eq!(frame.to_vec().unwrap(), &rest[..used]);
        rest = &rest[used..];
    }
});
