#![no_main]
//! Record messages and the signed records inside them.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::record::{Op, Record, RecordMessage};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = RecordMessage::parse(data) {
        // What parses is written back byte for byte (the reserved byte aside).
        let b = to_vec(|o| m.emit(o));
        assert_eq!(b.len(), data.len());
        assert_eq!(b.len(), m.buffer_len());
        assert_eq!(&b[..3], &data[..3]);
        assert_eq!(&b[4..], &data[4..]);
        assert_eq!(RecordMessage::parse(&b), Ok(m));
        if let Op::Found { records, .. } = m.op {
            assert_eq!(records.iter().count(), records.len());
        }
    }
    if let Ok(r) = Record::parse(data) {
        let _ = r.verify();
        assert_eq!(r.as_bytes(), data);
    }
});
