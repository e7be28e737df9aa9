//! Hello and hello-ack: how a member learns the node ID behind an address it
//! was given (`--peer HOST:PORT`), so that it can start an IK handshake.
//!
//! ```text
//! 0      1        4             36       52
//! | type | reserved | node_id 32 | mac 16 |
//! ```
//! A hello (type 4) carries the sender's node ID and a MAC keyed from the
//! network key alone; the reply (type 5) carries the responder's node ID and a
//! MAC bound to the hello's sender. A node answers a hello without keeping any
//! state; outsiders, who cannot make the MAC, get no answer.

use super::{exact, mac::MAC_LEN, write_type, MessageType, WireError};

/// Bytes of the message.
pub const LEN: usize = 4 + 32 + MAC_LEN;

/// A view over a hello or hello-ack.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks type and exact length; the only constructor for untrusted input.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a hello or hello-ack.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        exact(b, LEN)?;
        match MessageType::of(b)? {
            MessageType::Hello | MessageType::HelloAck => Ok(Self { buffer }),
            _ => Err(WireError::InvalidField("type")),
        }
    }

    /// Whether this is the reply.
    pub fn is_ack(&self) -> bool {
        self.buffer.as_ref()[0] == MessageType::HelloAck as u8
    }

    /// The sender's node ID bytes (still to be validated as a key).
    pub fn node_id(&self) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[4..36]);
        id
    }

    /// The whole message, MAC included.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Writes a hello (or, with `ack`, a hello-ack) with a zero MAC for the caller to seal.
pub fn emit(ack: bool, node_id: &[u8; 32]) -> [u8; LEN] {
    let mut buf = [0u8; LEN];
    let t = if ack {
        MessageType::HelloAck
    } else {
        MessageType::Hello
    };
    write_type(&mut buf, t);
    buf[4..36].copy_from_slice(node_id);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let b = emit(true, &[8; 32]);
        assert_eq!(&b[..5], &[5, 0, 0, 0, 8]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_ack());
        assert_eq!(p.node_id(), [8; 32]);
        assert!(Packet::new_checked(&b[..LEN - 1]).is_err());
    }
}
