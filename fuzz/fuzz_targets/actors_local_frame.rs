#![no_main]
//! Local engine socket framing: the deframer over arbitrary bytes cut at
//! arbitrary points never panics, and gives the same frames however the
//! bytes are cut.
use libfuzzer_sys::fuzz_target;
use tessel_actors::local::frame::Deframer;

fn frames(data: &[u8], cut: usize) -> (Vec<Vec<u8>>, bool) {
    let mut d = Deframer::new();
    let mut out = Vec::new();
    for chunk in data.chunks(cut.max(1)) {
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(b)) => out.push(b.to_vec()),
                Ok(None) => break,
                Err(_) => return (out, false),
            }
        }
    }
    (out, true)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, data)) = data.split_first() else {
        return;
    };
    let whole = frames(data, data.len());
    let cut = frames(data, usize::from(cut));
    assert_eq!(whole, cut);
});
