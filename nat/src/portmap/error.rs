//! Why a port-mapping message could not be parsed.

/// A malformed NAT-PMP, PCP, SSDP, HTTP or SOAP message.
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
    /// Longer than the format allows.
    #[error("too long: {len} bytes, at most {max}")]
    TooLong {
        /// Bytes available.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field holds a value that the format forbids.
    #[error("invalid field `{0}`")]
    InvalidField(&'static str),
    /// A required part of a text message is missing.
    #[error("missing `{0}`")]
    Missing(&'static str),
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

/// Reads a big-endian u16 at `at` (the caller checked the length).
pub(crate) fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Reads a big-endian u32 at `at` (the caller checked the length).
pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
