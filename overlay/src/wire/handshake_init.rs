//! Handshake initiation: the first Noise IKpsk2 message.
//!
//! ```text
//! 0      1        4              8                          144        160
//! | type | reserved | sender_index | noise (e, s, payload) 136 | mac 16 |
//! ```
//! The Noise payload (encrypted) is the initiator's node ID (32) and a
//! timestamp in milliseconds (8) that must grow from one initiation to the next.

use super::{exact, mac::MAC_LEN, read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const SENDER_INDEX: Range<usize> = 4..8;
    pub(super) const NOISE: Range<usize> = 8..144;
}

/// Bytes of the Noise message: e (32) + encrypted s (32+16) + encrypted payload (40+16).
pub const NOISE_LEN: usize = 136;
/// Bytes of the plaintext Noise payload.
pub const PAYLOAD_LEN: usize = 40;
/// Bytes of the whole message.
pub const LEN: usize = 8 + NOISE_LEN + MAC_LEN;

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
        exact(b, LEN)?;
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

    /// The whole message, MAC included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
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
        exact(b, PAYLOAD_LEN)?;
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
}
