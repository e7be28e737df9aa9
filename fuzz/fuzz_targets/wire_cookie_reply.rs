#![no_main]
//! Cookie reply view: parsing and opening under a fixed key.
use libfuzzer_sys::fuzz_target;
use tessel_overlay::wire::cookie_reply::{emit, CookieKey, Packet, COOKIE_LEN, NONCE_LEN};
use tessel_overlay::wire::to_vec;

fuzz_target!(|data: &[u8]| {
    let key = CookieKey::new(&[1; 32], &[2; 32]);
    if let Ok(p) = Packet::new_checked(data) {
        let _ = p.receiver_index();
        let _ = p.open(&key, &[3; 16]);
    }
    if data.len() >= 4 + NONCE_LEN + COOKIE_LEN {
        let index = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&data[4..4 + NONCE_LEN]);
        let mut cookie = [0u8; COOKIE_LEN];
        cookie.copy_from_slice(&data[4 + NONCE_LEN..4 + NONCE_LEN + COOKIE_LEN]);
        let buf = to_vec(|o| emit(&key, index, nonce, &cookie, &[3; 16], o));
        let p = Packet::new_checked(&buf[..]).expect("emitted replies parse");
        assert_eq!(p.receiver_index(), index);
        assert_eq!(p.open(&key, &[3; 16]), Some(cookie));
    }
});
