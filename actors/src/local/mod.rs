//! The local engine socket: how programs on a node run engines through the
//! node's daemon (`engines.sock`). Sans-IO like the rest of the crate: the
//! daemon and clients move the bytes, these modules cut and check them.
//!
//! Frames go both ways as `len u32 big-endian ‖ body` ([`frame`]). A client
//! chooses the encoding of the bodies once, by its first bytes: JSON objects
//! (the default), or binary frames after the hello [`frame::BINARY_HELLO`].
//! Both encodings carry the same [`Request`]s, [`Answer`]s and [`Push`]es;
//! the binary one is here ([`request`], [`answer`]), the JSON one in the
//! daemon. `docs/actors.md` ("The local engine socket") describes both.

pub mod answer;
pub mod frame;
#[cfg(feature = "json")]
pub mod json;
pub mod request;

pub use answer::{Answer, Push, ToClient};
pub use frame::{Deframer, Encoding};
pub use request::{Request, Target};

/// Longest frame body accepted, in bytes (2 MiB).
pub const MAX_FRAME: usize = 2 << 20;
