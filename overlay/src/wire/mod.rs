//! The wire format: one module per message, each a typed view over bytes
//! (`Packet<T: AsRef<[u8]>>`) with a `new_checked` constructor that is the only
//! way in for untrusted input, checked accessors and an `emit` writer.
//!
//! After `new_checked` succeeds, no accessor panics. Byte layouts are in
//! `docs/protocol.md`; integers are little-endian unless noted.
//!
//! Every UDP datagram starts with a one-byte [`MessageType`] followed by three
//! reserved bytes that senders set to zero and receivers ignore.

pub mod beacon;
pub mod bootstrap;
pub mod cookie_reply;
pub mod data;
pub mod endpoint;
pub mod gossip;
pub mod handshake_init;
pub mod handshake_resp;
pub mod hello;
pub mod inner;
pub mod key_update;
pub mod lookup;
pub mod mac;
pub mod member_cert;
pub mod name_claim;
pub mod owner_handover;
pub mod ping;
pub mod probe;
pub mod record;
pub mod relay;
pub mod revocation_part;
pub mod revocations;
pub mod signal;
pub mod signal_seal;
pub mod stream;

/// Why a datagram or payload could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than the fixed part of the message.
    #[error("truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes required.
        need: usize,
    },
    /// A fixed-size message of the wrong size.
    #[error("wrong length: {len} bytes, expected {expected}")]
    WrongLength {
        /// Bytes available.
        len: usize,
        /// Bytes the message type requires.
        expected: usize,
    },
    /// The type byte names no known message.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// A field holds a value that the format forbids.
    #[error("invalid field `{0}`")]
    InvalidField(&'static str),
}

/// The first byte of every datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    /// Noise IKpsk2 first message.
    HandshakeInit = 1,
    /// Noise IKpsk2 second message.
    HandshakeResp = 2,
    /// Encrypted transport data.
    Data = 3,
    /// A member asking an address for its node ID (bootstrap).
    Hello = 4,
    /// The answer to a hello.
    HelloAck = 5,
    /// A path probe (hole punching).
    Probe = 6,
    /// The answer to a path probe.
    ProbeAck = 7,
    /// A responder under load asking an initiator to retry with a cookie.
    CookieReply = 8,
}

impl MessageType {
    /// Classifies a datagram by its first byte.
    ///
    /// # Errors
    /// Returns an error for an empty datagram or an unknown type byte.
    pub fn of(datagram: &[u8]) -> Result<Self, WireError> {
        match datagram.first() {
            None => Err(WireError::Truncated { len: 0, need: 1 }),
            Some(1) => Ok(Self::HandshakeInit),
            Some(2) => Ok(Self::HandshakeResp),
            Some(3) => Ok(Self::Data),
            Some(4) => Ok(Self::Hello),
            Some(5) => Ok(Self::HelloAck),
            Some(6) => Ok(Self::Probe),
            Some(7) => Ok(Self::ProbeAck),
            Some(8) => Ok(Self::CookieReply),
            Some(&t) => Err(WireError::UnknownType(t)),
        }
    }
}

/// Checks that `buf` holds at least `need` bytes.
pub(crate) fn need(buf: &[u8], need: usize) -> Result<(), WireError> {
    if buf.len() < need {
        Err(WireError::Truncated {
            len: buf.len(),
            need,
        })
    } else {
        Ok(())
    }
}

/// Checks that `buf` holds exactly `expected` bytes.
pub(crate) fn exact(buf: &[u8], expected: usize) -> Result<(), WireError> {
    if buf.len() != expected {
        Err(WireError::WrongLength {
            len: buf.len(),
            expected,
        })
    } else {
        Ok(())
    }
}

/// The bytes an ed25519 signature at the end of `buf` covers (the caller
/// checked that `buf` is longer than a signature).
pub(crate) fn before_signature(buf: &[u8]) -> &[u8] {
    &buf[..buf.len() - 64]
}

/// The ed25519 signature at the end of `buf` (the caller checked that
/// `buf` is longer than one).
pub(crate) fn trailing_signature(buf: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(&buf[buf.len() - 64..]);
    out
}

/// Reads a little-endian u32 at `at` (caller checked the length).
pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Reads a little-endian u64 at `at` (caller checked the length).
pub(crate) fn read_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Writes the type byte and zeroes the reserved bytes.
pub(crate) fn write_type(buf: &mut [u8], t: MessageType) {
    buf[0] = t as u8;
    buf[1..4].fill(0);
}
