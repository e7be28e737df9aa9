//! Handshake response: the second Noise IKpsk2 message.
//!
//! ```text
//! 0      1        4              8                12                 60       76
//! | type | reserved | sender_index | receiver_index | noise (e, tag) 48 | mac 16 |
//! ```

use super::{exact, mac::MAC_LEN, read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const SENDER_INDEX: Range<usize> = 4..8;
    pub(super) const RECEIVER_INDEX: Range<usize> = 8..12;
    pub(super) const NOISE: Range<usize> = 12..60;
}

/// Bytes of the Noise message: e (32) + encrypted empty payload (16).
pub const NOISE_LEN: usize = 48;
/// Bytes of the whole message.
pub const LEN: usize = 12 + NOISE_LEN + MAC_LEN;

/// A view over a handshake response.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a handshake response.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        exact(b, LEN)?;
        if MessageType::of(b)? != MessageType::HandshakeResp {
            return Err(WireError::InvalidField("type"));
        }
        Ok(Self { buffer })
    }

    /// The responder's session index.
    pub fn sender_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SENDER_INDEX.start)
    }

    /// The initiator's session index, from the initiation.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX.start)
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

/// Writes the header of a response and returns the slice for the Noise message.
pub fn emit_header(buf: &mut [u8; LEN], sender_index: u32, receiver_index: u32) -> &mut [u8] {
    write_type(buf, MessageType::HandshakeResp);
    buf[field::SENDER_INDEX].copy_from_slice(&sender_index.to_le_bytes());
    buf[field::RECEIVER_INDEX].copy_from_slice(&receiver_index.to_le_bytes());
    &mut buf[field::NOISE]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut buf = [0xa5u8; LEN];
        emit_header(&mut buf, 7, 9).fill(1);
        assert_eq!(&buf[..12], &[2, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.sender_index(), p.receiver_index()), (7, 9));
        assert_eq!(p.noise().len(), NOISE_LEN);
        buf[0] = 1;
        assert!(Packet::new_checked(&buf[..]).is_err());
    }
}
