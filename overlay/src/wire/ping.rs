//! Overlay pings: an echo inside an end-to-end session, answered by the
//! member itself, so that `tessel ping` measures the path the session uses
//! (direct or through relays) without depending on the member's firewall.
//!
//! ```text
//! | kind u8 (0x04 ping, 0x05 pong) | nonce u64 |
//! ```

use super::{exact, read_u64, WireError};

/// The first plaintext byte of a ping.
pub const PING: u8 = 0x04;
/// The first plaintext byte of a pong.
pub const PONG: u8 = 0x05;
/// Bytes of a ping or pong.
pub const LEN: usize = 9;

/// A parsed ping or pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// Whether this is the answer.
    pub pong: bool,
    /// Names the ping.
    pub nonce: u64,
}

/// Parses a ping or pong.
///
/// # Errors
/// Returns an error for a wrong length or kind.
pub fn parse(b: &[u8]) -> Result<Echo, WireError> {
    exact(b, LEN)?;
    let pong = match b[0] {
        PING => false,
        PONG => true,
        _ => return Err(WireError::InvalidField("echo kind")),
    };
    Ok(Echo {
        pong,
        nonce: read_u64(b, 1),
    })
}

/// Writes a ping or pong.
pub fn emit(e: Echo) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0] = if e.pong { PONG } else { PING };
    b[1..].copy_from_slice(&e.nonce.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        for pong in [false, true] {
            let e = Echo { pong, nonce: 77 };
            assert_eq!(parse(&emit(e)), Ok(e));
        }
        assert!(parse(&[PING; 8]).is_err());
        assert!(parse(&[0x06; 9]).is_err());
    }
}
