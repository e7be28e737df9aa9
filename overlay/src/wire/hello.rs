//! Hello and hello-ack: how a member learns the node ID behind an address it
//! was given (`--peer HOST:PORT`), so that it can start an IK handshake.
//!
//! ```text
//! 0      1            4             36       52
//! | type | stamp u24be | node_id 32 | mac 16 |
//! ```
//! A hello (type 4) carries the sender's node ID, a coarse timestamp (Unix
//! seconds modulo 2^24, [`stamp_of`]) and a MAC keyed from the network key
//! alone; the reply (type 5) carries the responder's node ID, the hello's
//! stamp echoed, and a MAC bound to the hello's sender. A node answers a
//! hello without keeping any state, only if its stamp is within the clock
//! window of its own clock, so a sniffed hello cannot be replayed later; the
//! sender takes an ack only if the stamp it echoes is its own recent one.
//! Outsiders, who cannot make the MAC, get no answer.

use super::kind::{checked, Size};
use super::{mac::MAC_LEN, write_type, MessageType, WireError};

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
        let kinds = [MessageType::Hello, MessageType::HelloAck];
        Ok(Self {
            buffer: checked(buffer, Size::Exactly(LEN), &kinds)?,
        })
    }

    /// Whether this is the reply.
    pub fn is_ack(&self) -> bool {
        self.buffer.as_ref()[0] == MessageType::HelloAck as u8
    }

    /// The coarse timestamp: Unix seconds modulo 2^24 (see [`stamp_of`]).
    pub fn stamp(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[1], b[2], b[3]])
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

/// Values of a stamp: 24 bits.
const STAMP_MODULUS: u64 = 1 << 24;

/// The stamp of a moment given in ms since the Unix epoch: its seconds,
/// modulo 2^24 (it wraps every 194 days; comparisons are modular).
pub fn stamp_of(unix_ms: u64) -> u32 {
    ((unix_ms / 1000) % STAMP_MODULUS) as u32
}

/// How many seconds `stamp` is ahead of the moment `unix_ms` (negative:
/// behind), modulo 2^24: right for any difference under 97 days.
pub fn stamp_offset(stamp: u32, unix_ms: u64) -> i64 {
    let ours = u64::from(stamp_of(unix_ms));
    let ahead = (u64::from(stamp) + STAMP_MODULUS - ours) % STAMP_MODULUS;
    if ahead < STAMP_MODULUS / 2 {
        ahead as i64
    } else {
        ahead as i64 - STAMP_MODULUS as i64
    }
}

/// Appends a hello (or, with `ack`, a hello-ack) with `stamp` (its low 24
/// bits) and a zero MAC for the caller to seal.
pub fn emit(ack: bool, node_id: &[u8; 32], stamp: u32, out: &mut Vec<u8>) {
    let mut buf = [0u8; LEN];
    let t = if ack {
        MessageType::HelloAck
    } else {
        MessageType::Hello
    };
    write_type(&mut buf, t);
    buf[1..4].copy_from_slice(&stamp.to_be_bytes()[1..]);
    buf[4..36].copy_from_slice(node_id);
    out.extend_from_slice(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn layout() {
        let b = to_vec(|o| emit(true, &[8; 32], 0x0102_0304, o));
        assert_eq!(&b[..5], &[5, 2, 3, 4, 8]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.is_ack());
        assert_eq!(p.stamp(), 0x02_0304);
        assert_eq!(p.node_id(), [8; 32]);
        assert!(Packet::new_checked(&b[..LEN - 1]).is_err());
    }

    #[test]
    fn stamps_compare_across_the_wrap() {
        let t = 1_800_000_000_000u64;
        assert_eq!(stamp_offset(stamp_of(t), t), 0);
        assert_eq!(stamp_offset(stamp_of(t + 90_000), t), 90);
        assert_eq!(stamp_offset(stamp_of(t - 300_000), t), -300);
        // Just past a wrap of the 24-bit counter.
        let wrap = (1u64 << 24) * 1000 * 103;
        assert_eq!(stamp_of(wrap), 0);
        assert_eq!(stamp_offset(stamp_of(wrap - 5_000), wrap + 5_000), -10);
        assert_eq!(stamp_offset(stamp_of(wrap + 5_000), wrap - 5_000), 10);
    }
}
