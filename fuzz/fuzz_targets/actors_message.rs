#![no_main]
//! Message envelopes: the view and the owned parse agree, re-encode to the
//! same bytes, and a MAC check never panics.
use libfuzzer_sys::fuzz_target;
use tessel_actors::wire::message::{Message, MessageView};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = MessageView::new_checked(data) {
        let m = Message::parse(data).unwrap();
        assert_eq!(
            (m.src, m.dst, m.epoch, m.seq),
            (v.src(), v.dst(), v.epoch(), v.seq())
        );
        assert_eq!(m.body, v.body());
        assert_eq!(m.to_bytes(), data);
        let _ = v.verify(&[7; 32]);
    } else {
        assert!(Message::parse(data).is_err());
    }
});
