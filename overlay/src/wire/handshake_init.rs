//! Handshake initiation: the first Noise IKpsk2 message.
//!
//! ```text
//! 0      1        4              8                          144        160         176
//! | type | reserved | sender_index | noise (e, s, payload) 136 | mac1 16 | [mac2 16] |
//! ```
//! The Noise payload (encrypted) is the initiator's node ID (32) and a
//! timestamp in milliseconds (8) that must grow from one initiation to the next.
//!
//! `mac1` is the MAC of bytes 0..144 (see [`super::mac`]). `mac2` is there
//! only when the initiator holds a cookie from the responder (see
//! [`super::cookie_reply`]): the keyed BLAKE3 of bytes 0..160 under the
//! cookie, which a responder under load requires. Without it the message is
//! the 160 bytes that nodes without cookies have always sent.

use super::cookie_reply::COOKIE_LEN;
use super::{mac::MAC_LEN, read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const SENDER_INDEX: Range<usize> = 4..8;
    pub(super) const NOISE: Range<usize> = 8..144;
}

/// Bytes of the Noise message: e (32) + encrypted s (32+16) + encrypted payload (40+16).
pub const NOISE_LEN: usize = 136;
/// Bytes of the plaintext Noise payload.
pub const PAYLOAD_LEN: usize = 40;
/// Bytes of the whole message without `mac2`.
pub const LEN: usize = 8 + NOISE_LEN + MAC_LEN;
/// Bytes of the whole message with `mac2`.
pub const LEN_WITH_MAC2: usize = LEN + MAC_LEN;

/// A view over a handshake initiation.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a handshake initiation.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() != LEN && b.len() != LEN_WITH_MAC2 {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected: LEN,
            });
        }
        if MessageType::of(b)? != MessageType::HandshakeInit {
            return Err(WireError::InvalidField("type"));
        }
        Ok(Self { buffer })
    }

    /// The initiator's session index, to put in replies.
    pub fn sender_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SENDER_INDEX.start)
    }

    /// The Noise message.
    pub fn noise(&self) -> &[u8] {
        &self.buffer.as_ref()[field::NOISE]
    }

    /// The message up to and including `mac1` (what `mac1` verifies as the
    /// last bytes of, and what `mac2` covers).
    pub fn with_mac1(&self) -> &[u8] {
        &self.buffer.as_ref()[..LEN]
    }

    /// The MAC of bytes 0..144, which names the initiation.
    pub fn mac1(&self) -> [u8; MAC_LEN] {
        let mut m = [0u8; MAC_LEN];
        m.copy_from_slice(&self.buffer.as_ref()[LEN - MAC_LEN..LEN]);
        m
    }

    /// The cookie MAC, if the message carries one.
    pub fn mac2(&self) -> Option<[u8; MAC_LEN]> {
        let b = self.buffer.as_ref();
        let mut m = [0u8; MAC_LEN];
        m.copy_from_slice(b.get(LEN..LEN_WITH_MAC2)?);
        Some(m)
    }

    /// The whole message, MACs included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The `mac2` of an initiation (`with_mac1`: its bytes 0..160) under `cookie`.
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
pub fn with_mac2(msg: &[u8; LEN], cookie: &[u8; COOKIE_LEN]) -> [u8; LEN_WITH_MAC2] {
    let mut out = [0u8; LEN_WITH_MAC2];
    out[..LEN].copy_from_slice(msg);
    out[LEN..].copy_from_slice(&mac2(cookie, msg));
    out
}

/// Writes the header of an initiation into `buf[..LEN]` and returns the slice
/// for the Noise message; the caller fills it, then seals the MAC.
pub fn emit_header(buf: &mut [u8; LEN], sender_index: u32) -> &mut [u8] {
    write_type(buf, MessageType::HandshakeInit);
    buf[field::SENDER_INDEX].copy_from_slice(&sender_index.to_le_bytes());
    &mut buf[field::NOISE]
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

    /// Writes the payload.
    pub fn emit(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..32].copy_from_slice(&self.node_id);
        out[32..].copy_from_slice(&self.timestamp_ms.to_le_bytes());
        out
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
        assert_eq!(Payload::parse(&pl.emit()), Ok(pl));
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
}
