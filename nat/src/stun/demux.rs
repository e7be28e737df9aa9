//! Telling STUN apart from Tessel's own datagrams on the same UDP port.
//!
//! A STUN message starts with two zero bits, a 14-bit type, a 16-bit length
//! that counts the attributes (a multiple of 4) and the magic cookie
//! `0x2112A442` at bytes 4..8. Tessel's messages start with a type byte
//! 1..7 and three zero bytes, and bytes 4..8 are random (a session index or
//! a node ID), so the cookie is what separates them: a Tessel message
//! passes this check with probability 2^-32, and the node then falls back to
//! its own parser.

/// The STUN magic cookie (RFC 8489 §5), in network byte order.
pub const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;

/// Whether `datagram` looks like a STUN message: at least a header, the
/// two top bits zero, the magic cookie at bytes 4..8, and a length field
/// that is a multiple of 4 and equals the bytes after the header.
pub fn looks_like_stun(datagram: &[u8]) -> bool {
    if datagram.len() < HEADER_LEN || datagram[0] & 0xc0 != 0 {
        return false;
    }
    if datagram[4..8] != MAGIC_COOKIE {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    len % 4 == 0 && len == datagram.len() - HEADER_LEN
}
