//! Overlay pings: an echo inside an end-to-end session, answered by the
//! member itself, so that `tessel ping` measures the path the session uses
//! (direct or through relays) without depending on the member's firewall.
//!
//! ```text
//! | kind u8 (ping or pong) | nonce u64 |
//! ```

use super::kind::{checked, Size};
use super::{read_u64, InnerKind, WireError};

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
    let b = checked(b, Size::Exactly(LEN), &[InnerKind::Ping, InnerKind::Pong])?;
    Ok(Echo {
        pong: b[0] == u8::from(InnerKind::Pong),
        nonce: read_u64(b, 1),
    })
}

/// Appends a ping or pong.
pub fn emit(e: Echo, out: &mut Vec<u8>) {
    let kind = if e.pong {
        InnerKind::Pong
    } else {
        InnerKind::Ping
    };
    out.push(kind.into());
    out.extend_from_slice(&e.nonce.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    #[test]
    fn round_trip_and_errors() {
        for pong in [false, true] {
            let e = Echo { pong, nonce: 77 };
            assert_eq!(parse(&to_vec(|o| emit(e, o))), Ok(e));
        }
        assert!(parse(&[InnerKind::Ping.into(); 8]).is_err());
        assert!(parse(&[0x06; 9]).is_err());
    }
}
