//! The LAN beacon: a member announcing itself to the members on its LAN,
//! sent to the discovery multicast groups (not to the overlay port).
//!
//! ```text
//! 0      1          4              36         38              46         62
//! | type | reserved | node_id 32   | port u16 | timestamp u64 | mac 16   |
//! ```
//! The type byte is [`TYPE`]; `port` is the sender's overlay UDP port (the
//! address is the one the beacon came from); `timestamp` is the sender's
//! wall clock in ms since the Unix epoch, so that a receiver can refuse a
//! beacon older than one it already took. The MAC is keyed from the network
//! key alone, like a hello's: only members can make or check it.

use super::kind::{checked, Size};
use super::{mac::MAC_LEN, read_u64, MessageType, WireError};

/// Bytes of the message.
pub const LEN: usize = 4 + 32 + 2 + 8 + MAC_LEN;

mod field {
    use std::ops::Range;

    pub(super) const NODE_ID: Range<usize> = 4..36;
    pub(super) const PORT: Range<usize> = 36..38;
    pub(super) const TIMESTAMP: usize = 38;
}

/// A view over a beacon.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type, exact length and port; the only constructor for
    /// untrusted input. The MAC is the caller's to check.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a beacon, or announces port 0.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self {
            buffer: checked(buffer, Size::Exactly(LEN), &[MessageType::Beacon])?,
        };
        if p.port() == 0 {
            return Err(WireError::InvalidField("port"));
        }
        Ok(p)
    }

    /// The sender's node ID bytes (still to be validated as a key).
    pub fn node_id(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[field::NODE_ID]);
        id
    }

    /// The sender's overlay UDP port.
    pub fn port(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PORT];
        u16::from_le_bytes([b[0], b[1]])
    }

    /// The sender's clock when it made the beacon, in ms since the Unix epoch.
    pub fn timestamp_ms(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::TIMESTAMP)
    }

    /// The whole message, MAC included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Appends a beacon with a zero MAC for the caller to seal.
pub fn emit(node_id: &[u8; 32], port: u16, timestamp_ms: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; LEN];
    buf[0] = MessageType::Beacon.into();
    buf[field::NODE_ID].copy_from_slice(node_id);
    buf[field::PORT].copy_from_slice(&port.to_le_bytes());
    buf[field::TIMESTAMP..field::TIMESTAMP + 8].copy_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let b = to_vec(|o| emit(&[8; 32], 0x2604, 0x0102_0304_0506_0708, o));
        assert_eq!(b.len(), 62);
        assert_eq!(&b[..5], &[16, 0, 0, 0, 8]);
        assert_eq!(&b[36..38], &[0x04, 0x26]);
        assert_eq!(&b[38..46], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[46..], &[0; 16]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.node_id(), [8; 32]);
        assert_eq!(p.port(), 9732);
        assert_eq!(p.timestamp_ms(), 0x0102_0304_0506_0708);
    }

    #[test]
    fn rejects_what_is_not_a_beacon() {
        let b = to_vec(|o| emit(&[8; 32], 9740, 1, o));
        assert_eq!(
            Packet::new_checked(&b[..LEN - 1]).unwrap_err(),
            WireError::WrongLength {
                len: LEN - 1,
                expected: LEN
            }
        );
        let mut longer = b.to_vec();
        longer.push(0);
        assert!(Packet::new_checked(&longer).is_err());
        let mut hello_type = b.clone();
        hello_type[0] = 4;
        assert_eq!(
            Packet::new_checked(&hello_type[..]).unwrap_err(),
            WireError::InvalidField("type")
        );
        let no_port = to_vec(|o| emit(&[8; 32], 0, 1, o));
        assert_eq!(
            Packet::new_checked(&no_port[..]).unwrap_err(),
            WireError::InvalidField("port")
        );
        assert!(Packet::new_checked(&[][..]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<[u8; 32]>(), port in 1..=u16::MAX, ts in any::<u64>()) {
            let b = to_vec(|o| emit(&id, port, ts, o));
            prop_assert_eq!(b.len(), LEN);
            let p = Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!((p.node_id(), p.port(), p.timestamp_ms()), (id, port, ts));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(p.as_bytes().len(), LEN);
                prop_assert!(p.port() != 0);
            }
        }
    }
}
