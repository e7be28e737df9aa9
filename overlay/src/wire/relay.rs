//! Relay frames: an end-to-end datagram between two members, carried
//! through the sessions of the members between them.
//!
//! ```text
//! 0           1           2          4       36      68
//! | kind 0x03 | hop_limit | reserved | dst 32 | src 32 | datagram |
//! ```
//! The datagram is what `src` would have sent `dst` directly: a handshake
//! message, a data message, a probe or probe-ack, still encrypted or MACed
//! end to end. A relay reads only `dst` and the hop limit; it cannot read the
//! datagram, and `dst` drops any change to it (the AEAD or MAC fails). Each
//! relay decrements the hop limit and drops the frame when it would reach
//! zero.

use super::kind::{checked, Size};
use super::{InnerKind, WireError};

/// Bytes before the datagram.
pub const HEADER_LEN: usize = 68;
/// Hop limit of a new frame: enough for any chain of relays a route takes.
pub const HOP_LIMIT: u8 = 16;

/// A checked view of a relay frame.
#[derive(Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Checks the kind and that a datagram follows the header.
    ///
    /// # Errors
    /// Returns an error for a short buffer or a wrong kind.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        Ok(Self {
            buffer: checked(buffer, Size::AtLeast(HEADER_LEN + 1), &[InnerKind::Relay])?,
        })
    }

    /// Hops left.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The recipient's node ID bytes.
    pub fn dst(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[4..36]);
        id
    }

    /// The sender's node ID bytes.
    pub fn src(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[36..68]);
        id
    }

    /// The end-to-end datagram.
    pub fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The whole frame.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[1] = hops;
    }
}

/// Appends a frame carrying `datagram` from `src` to `dst`.
pub fn emit(dst: &[u8; 32], src: &[u8; 32], datagram: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + datagram.len());
    out.extend_from_slice(&[InnerKind::Relay.into(), HOP_LIMIT, 0, 0]);
    out.extend_from_slice(dst);
    out.extend_from_slice(src);
    out.extend_from_slice(datagram);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn round_trip() {
        let b = to_vec(|o| emit(&[1; 32], &[2; 32], &[3, 0, 0, 0, 9], o));
        let mut f = Frame::new_checked(b).unwrap();
        assert_eq!(f.hop_limit(), HOP_LIMIT);
        assert_eq!(f.dst(), [1; 32]);
        assert_eq!(f.src(), [2; 32]);
        assert_eq!(f.datagram(), &[3, 0, 0, 0, 9]);
        f.set_hop_limit(1);
        assert_eq!(f.hop_limit(), 1);
    }

    #[test]
    fn short_or_foreign_is_an_error() {
        let b = to_vec(|o| emit(&[1; 32], &[2; 32], &[3], o));
        assert!(Frame::new_checked(&b[..HEADER_LEN]).is_err());
        let mut wrong = b.clone();
        wrong[0] = 0x02;
        assert!(Frame::new_checked(&wrong[..]).is_err());
    }
}
