#![no_main]
//! Scope answer frames: what parses re-encodes to the same bytes; the id
//! of any body of eight bytes or more can be read.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::scope_answer::ScopeAnswerFrame;

fuzz_target!(|data: &[u8]| {
    assert_eq!(ScopeAnswerFrame::peek_id(data).is_some(), data.len() >= 8);
    if let Ok(f) = ScopeAnswerFrame::parse(data) {
        let mut out = Vec::new();
        f.write(&mut out).unwrap();
        assert_eq!(out, data);
    }
});
