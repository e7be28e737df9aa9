#![no_main]
//! TCP transport frame decoder: arbitrary bytes, cut into arbitrary reads
//! (the first byte sets the read size). It never panics, never returns an
//! empty datagram, and what it returns re-frames to exactly the bytes it
//! consumed.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::stream::{emit_header, Decoder, Header, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(step) + 1;
    let mut d = Decoder::new();
    let mut reframed = Vec::new();
    let mut failed = false;
    for chunk in stream.chunks(step) {
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    assert!(!f.is_empty());
                    emit_header(f.len(), &mut reframed).unwrap();
                    reframed.extend_from_slice(f);
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            break;
        }
    }
    assert_eq!(&stream[..reframed.len()], &reframed[..]);
    if failed {
        // Only an empty frame's header stops the decoder.
        let at = reframed.len();
        assert_eq!(&stream[at..at + HEADER_LEN], &[0, 0]);
        assert!(Header::new_checked(&stream[at..]).is_err());
    } else {
        assert_eq!(reframed.len() + d.pending(), stream.len());
    }
});
