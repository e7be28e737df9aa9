//! Transport data: an AEAD ciphertext under a session's keys, with the
//! explicit counter that serves as the nonce and feeds the replay window.
//!
//! ```text
//! 0      1        4                8            16
//! | type | reserved | receiver_index | counter u64 | ciphertext (plaintext + 16-byte tag) |
//! ```
//! An empty plaintext is a keepalive.

use super::kind::{checked, Size};
use super::{read_u32, read_u64, write_type, MessageType, WireError};

mod field {
    use std::ops::Range;
    pub(super) const RECEIVER_INDEX: Range<usize> = 4..8;
    pub(super) const COUNTER: Range<usize> = 8..16;
    pub(super) const CIPHERTEXT: usize = 16;
}

/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = field::CIPHERTEXT;
/// Bytes of the AEAD tag.
pub const TAG_LEN: usize = 16;

/// A view over a data message.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and minimum length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a data message.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        Ok(Self {
            buffer: checked(
                buffer,
                Size::AtLeast(HEADER_LEN + TAG_LEN),
                &[MessageType::Data],
            )?,
        })
    }

    /// The recipient's session index.
    pub fn receiver_index(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::RECEIVER_INDEX.start)
    }

    /// The sender's message counter (the AEAD nonce).
    pub fn counter(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::COUNTER.start)
    }

    /// The ciphertext with its tag.
    pub fn ciphertext(&self) -> &[u8] {
        &self.buffer.as_ref()[field::CIPHERTEXT..]
    }
}

/// Writes a data header into `buf[..HEADER_LEN]`.
///
/// # Panics
/// If `buf` is shorter than [`HEADER_LEN`]; callers size their buffers.
pub fn emit_header(buf: &mut [u8], receiver_index: u32, counter: u64) {
    write_type(buf, MessageType::Data);
    buf[field::RECEIVER_INDEX].copy_from_slice(&receiver_index.to_le_bytes());
    buf[field::COUNTER].copy_from_slice(&counter.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut buf = [0xa5u8; 40];
        emit_header(&mut buf, 0x11, 0x0102);
        assert_eq!(
            &buf[..16],
            &[3, 0, 0, 0, 0x11, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]
        );
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!((p.receiver_index(), p.counter()), (0x11, 0x0102));
        assert_eq!(p.ciphertext().len(), 24);
        assert!(Packet::new_checked(&buf[..31]).is_err());
    }
}
