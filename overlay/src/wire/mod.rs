//! The wire format: one module per message, each a typed view over bytes
//! (`Packet<T: AsRef<[u8]>>`) with a `new_checked` constructor that is the only
//! way in for untrusted input, checked accessors and an `emit` writer.
//!
//! After `new_checked` succeeds, no accessor panics. Byte layouts are in
//! `docs/protocol.md`; integers are little-endian unless noted.
//!
//! Writers have one shape: `emit…(fields…, out: &mut Vec<u8>)` appends the
//! message to `out` (a fallible writer returns `Result<(), WireError>` and
//! appends nothing when it fails); [`to_vec`] collects one message on its
//! own. The one exception is the header writer of the messages whose rest
//! cryptography writes in place (`data`, `handshake_init`,
//! `handshake_resp`): `emit_header` fills the start of the buffer the
//! caller sized, so that the data path never allocates.
//!
//! Every UDP datagram starts with a one-byte [`MessageType`] followed by three
//! reserved bytes that senders set to zero and receivers ignore. Control
//! messages inside a session start with an [`InnerKind`]. Both are numbered
//! in one place, [`kind`], and every checked constructor starts with
//! [`kind::checked`] (size and kind byte).
//!
//! # Adding a message kind
//!
//! An inner control message (the usual case) touches these files; the
//! compiler or a test stops the build at each one that is missed:
//!
//! 1. `wire/kind.rs`: a variant of [`InnerKind`] with the next free number
//!    (a constant assertion refuses a number already taken).
//! 2. `wire/NAME.rs`: the view, `new_checked` starting with
//!    [`kind::checked`], the accessors, the `emit` writer, unit tests; and
//!    `pub mod NAME;` here.
//! 3. `wire/inner.rs`: a variant of [`inner::Inner`] and its arm in
//!    [`inner::parse`] (the match over [`InnerKind`] is exhaustive).
//! 4. `node/receive.rs`: the arm that hands it to its handler (the match
//!    over [`inner::Inner`] is exhaustive), and the handler in its own
//!    `node/` file.
//! 5. `docs/protocol.md`: a row in the table of inner kinds under
//!    "Transport data" (the registry's test fails without it) and a section
//!    with the byte layout.
//! 6. `fuzz/fuzz_targets/wire_NAME.rs`, its `[[bin]]` in `fuzz/Cargo.toml`
//!    and a seed under `fuzz/seeds/wire_NAME/`.
//!
//! A new datagram type is the same with a [`MessageType`] variant, the
//! dispatch in `node/receive.rs` `handle_datagram`, and the table under
//! "Datagrams" in `docs/protocol.md`.

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
pub mod kind;
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

pub use kind::{InnerKind, MessageType};

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

/// The bytes a writer appends to an empty buffer: for a caller that sends
/// a message on its own.
pub fn to_vec(emit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    emit(&mut out);
    out
}

/// The bytes a fallible writer appends to an empty buffer.
///
/// # Errors
/// The writer's.
pub fn try_to_vec(
    emit: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    emit(&mut out).map(|()| out)
}
