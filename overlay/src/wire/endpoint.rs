//! A UDP endpoint (IP address and port) as carried in gossip.
//!
//! ```text
//! | family u8 (4 or 6) | address (4 or 16 bytes) | port u16 big-endian |
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{need, WireError};

/// Bytes that `addr` takes on the wire.
pub fn encoded_len(addr: &SocketAddr) -> usize {
    match addr {
        SocketAddr::V4(_) => 1 + 4 + 2,
        SocketAddr::V6(_) => 1 + 16 + 2,
    }
}

/// Parses an endpoint at the start of `b`; returns it and the bytes used.
///
/// # Errors
/// Returns an error if `b` is too short or the family is unknown.
pub fn parse(b: &[u8]) -> Result<(SocketAddr, usize), WireError> {
    need(b, 1)?;
    let (ip, n): (IpAddr, usize) = match b[0] {
        4 => {
            need(b, 7)?;
            let mut o = [0u8; 4];
            o.copy_from_slice(&b[1..5]);
            (Ipv4Addr::from(o).into(), 5)
        }
        6 => {
            need(b, 19)?;
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[1..17]);
            (Ipv6Addr::from(o).into(), 17)
        }
        _ => return Err(WireError::InvalidField("endpoint family")),
    };
    let port = u16::from_be_bytes([b[n], b[n + 1]]);
    Ok((SocketAddr::new(ip, port), n + 2))
}

/// Appends `addr` to `out`.
pub fn emit(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_families() {
        for a in ["192.0.2.1:9740", "[2001:db8::1]:1"] {
            let a: SocketAddr = a.parse().unwrap();
            let mut v = Vec::new();
            emit(&a, &mut v);
            assert_eq!(v.len(), encoded_len(&a));
            assert_eq!(parse(&v), Ok((a, v.len())));
            assert!(parse(&v[..v.len() - 1]).is_err());
        }
        assert!(parse(&[5, 0, 0]).is_err());
    }
}
