#![no_main]
//! STUN: the demultiplexing check, the decoder and the responder. A
//! message that decodes as a success re-encodes to one that decodes the
//! same.
use libfuzzer_sys::fuzz_target;
use tessel_nat::stun::{
    decode, encode_success, looks_like_stun, IntegrityKey, Message, Responder, SuccessOptions,
};

fuzz_target!(|data: &[u8]| {
    let key = IntegrityKey::new(&[7; 32]);
    let stun = looks_like_stun(data);
    let decoded = decode(data, Some(&key));
    assert!(stun || decoded.is_err());
    let from = "198.51.100.1:9740".parse().unwrap();
    let _ = Responder::new(key.clone()).respond(data, from);
    if let Ok(d) = decoded {
        if let Message::Success {
            mapped,
            other_address,
            response_origin,
        } = d.message
        {
            let opts = SuccessOptions {
                key: Some(&key),
                response_origin,
                other_address,
            };
            let again = encode_success(d.transaction_id, mapped, &opts).unwrap();
            let back = decode(&again, Some(&key)).unwrap();
            assert_eq!(back.transaction_id, d.transaction_id);
            assert!(matches!(back.message, Message::Success { mapped: m, .. } if m == mapped));
        }
    }
});
