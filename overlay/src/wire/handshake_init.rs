//! Handshake initiation: the first Noise IKpsk2 message.
//!
//! ```text
//! 0      1         3          4              8                                144+x      160+x         176+x
//! | type | ext_len | reserved | sender_index | noise (e, s, payload) 136+x | mac1 16 | [mac2 16] |
//! ```
//! The Noise payload (encrypted) is the initiator's node ID (32), a
//! timestamp in milliseconds (8) that must grow from one initiation to the
//! next, then `x` = `ext_len` (u16, at most [`MAX_EXT`]) extension bytes: in
//! a managed network, the initiator's member certificate (see
//! [`super::member_cert`]). With `ext_len` 0 the message is the 160 bytes
//! that nodes have always sent.
//!
//! `mac1` is the MAC of every byte before it (see [`super::mac`]). `mac2` is
//! there only when the initiator holds a cookie from the responder (see
//! [`super::cookie_reply`]): the keyed BLAKE3 of every byte up to and
//! including `mac1` under the cookie, which a responder under load requires.

use super::cookie_reply::COOKIE_LEN;
use super::kind::{checked, Size};
use super::{mac::MAC_LEN, need, read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const EXT_LEN: Range<usize> = 1..3;
    pub(super) const SENDER_INDEX: Range<usize> = 4..8;
    pub(super) const NOISE_START: usize = 8;
}

/// Bytes of the Noise message: e (32) + encrypted s (32+16) + encrypted payload (40+16).
pub const NOISE_LEN: usize = 136;
/// Bytes of the plaintext Noise payload.
pub const PAYLOAD_LEN: usize = 40;
/// Bytes of the whole message without `mac2`.
pub const LEN: usize = 8 + NOISE_LEN + MAC_LEN;
/// Bytes of the whole message with `mac2`.
pub const LEN_WITH_MAC2: usize = LEN + MAC_LEN;
/// Most extension bytes: the longest member certificate.
pub const MAX_EXT: usize = super::member_cert::MAX_LEN;

/// The extension length a message header announces (0 if too short to say).
fn ext_len(b: &[u8]) -> usize {
    match b.get(field::EXT_LEN) {
        Some(l) => usize::from(u16::from_le_bytes([l[0], l[1]])),
        None => 0,
    }
}

/// A view over a handshake initiation.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type, extension length and exact length; the only
    /// constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a handshake initiation.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need(b, 4)?;
        let ext = ext_len(b);
        if ext > MAX_EXT {
            return Err(WireError::InvalidField("ext_len"));
        }
        if b.len() != LEN + ext && b.len() != LEN_WITH_MAC2 + ext {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected: LEN + ext,
            });
        }
        Ok(Self {
            buffer: checked(buffer, Size::AtLeast(LEN), &[MessageType::HandshakeInit])?,
        })
    }

    /// Bytes of the message up to and including `mac1`.
    fn mac1_end(&self) -> usize {
        LEN + ext_len(self.buffer.as_ref())
    }

    /// Extension bytes in the payload.
    pub fn ext_len(&self) -> usize {
        ext_len(self.buffer.as_ref())
    }

    /// The initiator's session index, to put in replies.
    pub fn sender_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SENDER_INDEX.start)
    }

    /// The Noise message.
    pub fn noise(&self) -> &[u8] {
        &self.buffer.as_ref()[field::NOISE_START..self.mac1_end() - MAC_LEN]
    }

    /// The message up to and including `mac1` (what `mac1` verifies as the
    /// last bytes of, and what `mac2` covers).
    pub fn with_mac1(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.mac1_end()]
    }

    /// The MAC of the bytes before it, which names the initiation.
    pub fn mac1(&self) -> [u8; MAC_LEN] {
        let end = self.mac1_end();
        let mut m = [0u8; MAC_LEN];
        m.copy_from_slice(&self.buffer.as_ref()[end - MAC_LEN..end]);
        m
    }

    /// The cookie MAC, if the message carries one.
    pub fn mac2(&self) -> Option<[u8; MAC_LEN]> {
        let b = self.buffer.as_ref();
        let end = self.mac1_end();
        let mut m = [0u8; MAC_LEN];
        m.copy_from_slice(b.get(end..end + MAC_LEN)?);
        Some(m)
    }

    /// The whole message, MACs included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The `mac2` of an initiation (`with_mac1`: its bytes up to and including
/// `mac1`) under `cookie`.
pub fn mac2(cookie: &[u8; COOKIE_LEN], with_mac1: &[u8]) -> [u8; MAC_LEN] {
    let mut key = [0u8; 32];
    key[..COOKIE_LEN].copy_from_slice(cookie);
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(b"tessel mac2");
    h.update(with_mac1);
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&h.finalize().as_bytes()[..MAC_LEN]);
    out
}

/// The initiation `msg` (sealed with `mac1`) with the `mac2` of `cookie`
/// appended.
pub fn with_mac2(msg: &[u8], cookie: &[u8; COOKIE_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + MAC_LEN);
    out.extend_from_slice(msg);
    out.extend_from_slice(&mac2(cookie, msg));
    out
}

/// Writes the header of an initiation into `buf` (exactly [`LEN`] plus the
/// extension's length, at most [`MAX_EXT`]) and returns the slice for the
/// Noise message; the caller fills it, then seals the MAC.
pub fn emit_header(buf: &mut [u8], sender_index: u32) -> &mut [u8] {
    let ext = buf.len() - LEN;
    debug_assert!(ext <= MAX_EXT);
    write_type(buf, MessageType::HandshakeInit);
    buf[field::EXT_LEN].copy_from_slice(&(ext as u16).to_le_bytes());
    buf[field::SENDER_INDEX].copy_from_slice(&sender_index.to_le_bytes());
    let end = buf.len() - MAC_LEN;
    &mut buf[field::NOISE_START..end]
}

/// The plaintext payload inside the Noise message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// The initiator's node ID (ed25519 public key).
    pub node_id: [u8; 32],
    /// Milliseconds since the Unix epoch, strictly increasing per initiator.
    pub timestamp_ms: u64,
}

impl Payload {
    /// Parses the decrypted payload.
    ///
    /// # Errors
    /// Returns an error if the payload has the wrong length.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        super::exact(b, PAYLOAD_LEN)?;
        let mut node_id = [0u8; 32];
        node_id.copy_from_slice(&b[..32]);
        Ok(Self {
            node_id,
            timestamp_ms: super::read_u64(b, 32),
        })
    }

    /// Appends the payload.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.node_id);
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut buf = [0xa5u8; LEN];
        emit_header(&mut buf, 0x0403_0201).fill(9);
        assert_eq!(&buf[..8], &[1, 0, 0, 0, 1, 2, 3, 4]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.sender_index(), 0x0403_0201);
        assert!(p.noise().iter().all(|&b| b == 9));
        assert!(Packet::new_checked(&buf[..LEN - 1]).is_err());
        let pl = Payload {
            node_id: [5; 32],
            timestamp_ms: 77,
        };
        assert_eq!(Payload::parse(&crate::wire::to_vec(|o| pl.emit(o))), Ok(pl));
    }

    #[test]
    fn mac2_is_optional_and_trailing() {
        let mut buf = [0xa5u8; LEN];
        emit_header(&mut buf, 7).fill(9);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.mac2(), None);
        assert_eq!(p.mac1(), [0xa5; MAC_LEN]);
        let long = with_mac2(&buf, &[3; COOKIE_LEN]);
        let p = Packet::new_checked(&long[..]).unwrap();
        assert_eq!(p.with_mac1(), &buf[..]);
        assert_eq!(p.mac2(), Some(mac2(&[3; COOKIE_LEN], &buf)));
        assert_ne!(mac2(&[3; COOKIE_LEN], &buf), mac2(&[4; COOKIE_LEN], &buf));
        assert_eq!(p.noise(), &buf[8..144]);
        assert!(Packet::new_checked(&long[..LEN + 1]).is_err());
        assert!(Packet::new_checked(&[&long[..], &[0]].concat()[..]).is_err());
    }

    #[test]
    fn an_extension_lengthens_the_noise_and_moves_the_macs() {
        let mut buf = vec![0xa5u8; LEN + 10];
        emit_header(&mut buf, 7).fill(9);
        assert_eq!(&buf[1..3], &[10, 0]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.ext_len(), p.noise().len()), (10, NOISE_LEN + 10));
        assert_eq!(p.with_mac1().len(), LEN + 10);
        assert_eq!(p.mac2(), None);
        let long = with_mac2(&buf, &[3; COOKIE_LEN]);
        let p = Packet::new_checked(&long[..]).unwrap();
        assert_eq!(p.mac2(), Some(mac2(&[3; COOKIE_LEN], &buf)));
        for n in 0..long.len() {
            if n != buf.len() {
                assert!(Packet::new_checked(&long[..n]).is_err(), "{n}");
            }
        }
        // The announced length must match, and stay under the cap.
        buf[1] = 11;
        assert!(Packet::new_checked(&buf[..]).is_err());
        let mut huge = vec![0u8; LEN + MAX_EXT + 1];
        huge[0] = 1;
        huge[1..3].copy_from_slice(&((MAX_EXT + 1) as u16).to_le_bytes());
        assert!(Packet::new_checked(&huge[..]).is_err());
    }
}
