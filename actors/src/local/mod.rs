//! The local engine socket: how programs on a node run engines through the
//! node's daemon (`engines.sock`). Sans-IO like the rest of the crate: the
//! daemon and clients move the bytes, these modules cut and check them.
//!
//! Frames go both ways as `len u32 big-endian ‖ body` ([`frame`]). A client
//! chooses the encoding of the bodies once, by its first bytes: JSON objects
//! (the default), or binary frames after the hello [`frame::BINARY_HELLO`].
//! `docs/actors.md` ("The local engine socket") describes both.

pub mod frame;

/// Longest frame body accepted, in bytes (2 MiB).
pub const MAX_FRAME: usize = 2 << 20;
