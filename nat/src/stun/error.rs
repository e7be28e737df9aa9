//! Errors of the STUN layer.

use thiserror::Error;

/// Why a datagram is not a usable STUN message, or a message could not be
/// built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StunError {
    /// Fails [`super::looks_like_stun`]: not STUN at all.
    #[error("not a STUN message")]
    NotStun,
    /// The header looks right but the message does not parse.
    #[error("malformed STUN message: {0}")]
    Malformed(String),
    /// A method other than Binding.
    #[error("STUN method {0:#06x} is not Binding")]
    NotBinding(u16),
    /// An indication: Tessel neither sends nor answers them.
    #[error("STUN indication")]
    Indication,
    /// A FINGERPRINT attribute that does not match the message.
    #[error("STUN fingerprint mismatch")]
    BadFingerprint,
    /// A success response without a (XOR-)MAPPED-ADDRESS.
    #[error("STUN success response without a mapped address")]
    NoMappedAddress,
    /// `stun-rs` could not encode the message.
    #[error("encoding a STUN message: {0}")]
    Encode(String),
}
