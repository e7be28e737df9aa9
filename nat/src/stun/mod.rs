//! STUN (RFC 8489) Binding messages, through `stun-rs`.
//!
//! Tessel nodes answer Binding requests on their overlay UDP port, so that
//! any publicly reachable member is a STUN server for the others, and they
//! ask standard STUN servers too. This module is the message layer:
//!
//! - [`looks_like_stun`]: the cheap check that tells a STUN message apart
//!   from Tessel's own datagrams on the same port (the magic cookie);
//! - [`IntegrityKey`]: short-term credentials derived from a 32-byte
//!   secret (MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256, USERNAME);
//! - [`encode_request`] and [`encode_success`]: the messages we send;
//! - [`decode`]: any Binding message, typed, with whether its integrity
//!   verified;
//! - [`Responder`]: answers only requests whose integrity verifies.
//!
//! Nothing here panics on bad input; errors are [`StunError`].

mod decode;
mod demux;
mod encode;
mod error;
mod key;
mod message;
mod responder;

#[cfg(test)]
mod tests;

pub use decode::decode;
pub use demux::{looks_like_stun, HEADER_LEN, MAGIC_COOKIE};
pub use encode::{encode_request, encode_success, RequestOptions, SuccessOptions};
pub use error::StunError;
pub use key::IntegrityKey;
pub use message::{ChangeRequest, Decoded, Integrity, Message, TransactionId};
pub use responder::{Refusal, Responder};
