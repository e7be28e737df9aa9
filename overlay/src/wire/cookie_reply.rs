//! Cookie reply: a responder under load answers an initiation that carries
//! no valid `mac2` with a cookie bound to the initiation's source, instead
//! of doing its Diffie-Hellman (as WireGuard's cookie reply does).
//!
//! ```text
//! 0      1        4                8          32                 48       64
//! | type | reserved | receiver_index | nonce 24 | sealed cookie 16 | tag 16 |
//! ```
//! `receiver_index` is the initiation's sender index. The cookie is sealed
//! with a keyed-BLAKE3 encrypt-then-MAC construction under a key derived
//! from the network's MAC key and the responder's node ID (which the
//! initiator knows, as WireGuard keys it from the responder's static key):
//! the keystream is `keyed_hash(key, "enc" | nonce)`, the tag
//! `keyed_hash(key, "tag" | bytes 0..48 | mac1)` with `mac1` the MAC of the
//! initiation it answers, so only a member that sent (or saw) that
//! initiation can open it. At 64 bytes it is smaller than the initiation
//! that caused it.

use super::kind::{checked, Size};
use super::mac::{constant_time_eq, MAC_LEN};
use super::{read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const RECEIVER_INDEX: Range<usize> = 4..8;
    pub(super) const NONCE: Range<usize> = 8..32;
    pub(super) const COOKIE: Range<usize> = 32..48;
    pub(super) const TAG: Range<usize> = 48..64;
}

/// Bytes of a cookie.
pub const COOKIE_LEN: usize = 16;
/// Bytes of the nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of the whole message.
pub const LEN: usize = 64;

/// A view over a cookie reply.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a cookie reply.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        Ok(Self {
            buffer: checked(buffer, Size::Exactly(LEN), &[MessageType::CookieReply])?,
        })
    }

    /// The initiator's session index, from the initiation answered.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX.start)
    }

    /// Opens the sealed cookie with `key` (see [`CookieKey`]), given the
    /// MAC of the initiation it answers; `None` if it does not verify.
    pub fn open(
        &self,
        key: &CookieKey,
        initiation_mac: &[u8; MAC_LEN],
    ) -> Option<[u8; COOKIE_LEN]> {
        let b = self.buffer.as_ref();
        let tag = key.tag(&b[..field::TAG.start], initiation_mac);
        // Fuzzing cannot guess tags; let it past to reach the code behind.
        if !cfg!(fuzzing) && !constant_time_eq(&tag, &b[field::TAG]) {
            return None;
        }
        let nonce: &[u8; NONCE_LEN] = b[field::NONCE].try_into().ok()?;
        let stream = key.keystream(nonce);
        let mut cookie = [0u8; COOKIE_LEN];
        for (i, c) in cookie.iter_mut().enumerate() {
            *c = b[field::COOKIE.start + i] ^ stream[i];
        }
        Some(cookie)
    }
}

/// The key that seals cookie replies from one responder.
#[derive(Clone)]
pub struct CookieKey([u8; 32]);

impl CookieKey {
    /// The key of replies from `responder` (a node ID's bytes) in the
    /// network whose MAC key is `network_mac_key`.
    pub fn new(network_mac_key: &[u8; 32], responder: &[u8; 32]) -> Self {
        let mut h = blake3::Hasher::new_keyed(network_mac_key);
        h.update(b"tessel cookie reply");
        h.update(responder);
        Self(*h.finalize().as_bytes())
    }

    fn keystream(&self, nonce: &[u8; NONCE_LEN]) -> [u8; COOKIE_LEN] {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"enc");
        h.update(nonce);
        let mut out = [0u8; COOKIE_LEN];
        out.copy_from_slice(&h.finalize().as_bytes()[..COOKIE_LEN]);
        out
    }

    fn tag(&self, head: &[u8], initiation_mac: &[u8; MAC_LEN]) -> [u8; MAC_LEN] {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"tag");
        h.update(head);
        h.update(initiation_mac);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&h.finalize().as_bytes()[..MAC_LEN]);
        out
    }
}

impl Drop for CookieKey {
    fn drop(&mut self) {
        // Derived from the network key: as secret as it.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Appends a cookie reply answering the initiation with `receiver_index`
/// and MAC `initiation_mac`, sealing `cookie` under `key` with `nonce`.
pub fn emit(
    key: &CookieKey,
    receiver_index: u32,
    nonce: [u8; NONCE_LEN],
    cookie: &[u8; COOKIE_LEN],
    initiation_mac: &[u8; MAC_LEN],
    out: &mut Vec<u8>,
) {
    let mut buf = [0u8; LEN];
    write_type(&mut buf, MessageType::CookieReply);
    buf[field::RECEIVER_INDEX].copy_from_slice(&receiver_index.to_le_bytes());
    buf[field::NONCE].copy_from_slice(&nonce);
    let stream = key.keystream(&nonce);
    for i in 0..COOKIE_LEN {
        buf[field::COOKIE.start + i] = cookie[i] ^ stream[i];
    }
    let tag = key.tag(&buf[..field::TAG.start], initiation_mac);
    buf[field::TAG].copy_from_slice(&tag);
    out.extend_from_slice(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn layout_seal_open_and_tamper() {
        let key = CookieKey::new(&[1; 32], &[2; 32]);
        let mac = [3u8; MAC_LEN];
        let buf = to_vec(|o| emit(&key, 0x0403_0201, [4; NONCE_LEN], &[5; COOKIE_LEN], &mac, o));
        assert_eq!(&buf[..8], &[8, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(&buf[8..32], &[4; NONCE_LEN]);
        // The cookie is not in clear.
        assert_ne!(&buf[32..48], &[5; COOKIE_LEN]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.receiver_index(), 0x0403_0201);
        assert_eq!(p.open(&key, &mac), Some([5; COOKIE_LEN]));
        // Another initiation's MAC, another responder's key: refused.
        assert_eq!(p.open(&key, &[9; MAC_LEN]), None);
        assert_eq!(p.open(&CookieKey::new(&[1; 32], &[7; 32]), &mac), None);
        for i in 4..LEN {
            let mut t = buf.clone();
            t[i] ^= 1;
            let p = Packet::new_checked(&t[..]).unwrap();
            assert_eq!(p.open(&key, &mac), None, "byte {i}");
        }
        assert!(Packet::new_checked(&buf[..LEN - 1]).is_err());
        let mut wrong = buf.clone();
        wrong[0] = 1;
        assert!(Packet::new_checked(&wrong[..]).is_err());
    }
}
