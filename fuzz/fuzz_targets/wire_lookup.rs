#![no_main]
//! Lookup requests and answers.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::lookup::Lookup;
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(l) = Lookup::parse(data) {
        // What parses is written back byte for byte (the reserved byte aside).
        let b = to_vec(|o| l.emit(o));
        assert_eq!(b.len(), data.len());
        assert_eq!(b.len(), l.buffer_len());
        assert_eq!(&b[..3], &data[..3]);
        assert_eq!(&b[4..], &data[4..]);
        assert_eq!(Lookup::parse(&b), Ok(l));
    }
});
