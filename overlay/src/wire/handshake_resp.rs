//! Handshake response: the second Noise IKpsk2 message.
//!
//! ```text
//! 0      1         3          4              8                12                         60+x     76+x
//! | type | ext_len | reserved | sender_index | receiver_index | noise (e, payload) 48+x | mac 16 |
//! ```
//! The encrypted payload is `x` = `ext_len` (u16, at most [`MAX_EXT`])
//! extension bytes: empty (the 76 bytes nodes have always sent), or in a
//! managed network the responder's member certificate (see
//! [`super::member_cert`]). The MAC covers every byte before it.

use super::kind::{checked, Size};
use super::{mac::MAC_LEN, need, read_u32, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const SENDER_INDEX: Range<usize> = 4..8;
    pub(super) const RECEIVER_INDEX: Range<usize> = 8..12;
    pub(super) const EXT_LEN: Range<usize> = 1..3;
    pub(super) const NOISE_START: usize = 12;
}

/// Bytes of the Noise message: e (32) + encrypted empty payload (16).
pub const NOISE_LEN: usize = 48;
/// Bytes of the whole message without extension.
pub const LEN: usize = 12 + NOISE_LEN + MAC_LEN;
/// Most extension bytes: the longest member certificate.
pub const MAX_EXT: usize = super::member_cert::MAX_LEN;

/// A view over a handshake response.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type, extension length and exact length; the only
    /// constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a handshake response.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need(b, 4)?;
        let ext = usize::from(u16::from_le_bytes([b[1], b[2]]));
        if ext > MAX_EXT {
            return Err(WireError::InvalidField("ext_len"));
        }
        Ok(Self {
            buffer: checked(
                buffer,
                Size::Exactly(LEN + ext),
                &[MessageType::HandshakeResp],
            )?,
        })
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
        let b = self.buffer.as_ref();
        &b[field::NOISE_START..b.len() - MAC_LEN]
    }

    /// Extension bytes in the payload.
    pub fn ext_len(&self) -> usize {
        self.buffer.as_ref().len() - LEN
    }

    /// The whole message, MAC included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Writes the header of a response into `buf` (exactly [`LEN`] plus the
/// extension's length, at most [`MAX_EXT`]) and returns the slice for the
/// Noise message.
pub fn emit_header(buf: &mut [u8], sender_index: u32, receiver_index: u32) -> &mut [u8] {
    let ext = buf.len() - LEN;
    debug_assert!(ext <= MAX_EXT);
    write_type(buf, MessageType::HandshakeResp);
    buf[field::EXT_LEN].copy_from_slice(&(ext as u16).to_le_bytes());
    buf[field::SENDER_INDEX].copy_from_slice(&sender_index.to_le_bytes());
    buf[field::RECEIVER_INDEX].copy_from_slice(&receiver_index.to_le_bytes());
    let end = buf.len() - MAC_LEN;
    &mut buf[field::NOISE_START..end]
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

    #[test]
    fn an_extension_lengthens_the_noise() {
        let mut buf = vec![0u8; LEN + 5];
        emit_header(&mut buf, 7, 9).fill(1);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.ext_len(), p.noise().len()), (5, NOISE_LEN + 5));
        for n in 0..buf.len() {
            assert!(Packet::new_checked(&buf[..n]).is_err(), "{n}");
        }
        buf[1] = 4;
        assert!(Packet::new_checked(&buf[..]).is_err());
    }
}
