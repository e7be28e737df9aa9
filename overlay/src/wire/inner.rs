//! The plaintext inside a data message: empty (a keepalive), an IP packet
//! (first nibble 4 or 6), or a control message (first byte an
//! [`InnerKind`], below 0x40).
//!
//! For IP packets this module reads only what the node checks: the version,
//! the total length, and the source and destination addresses.

use std::net::IpAddr;

use etherparse::err::ipv4::HeaderSliceError;
use etherparse::{Ipv4Header, Ipv4HeaderSlice, Ipv6Header, Ipv6HeaderSlice};

use super::{key_update, need, ping, InnerKind, WireError};

/// What a decrypted plaintext holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An empty plaintext.
    Keepalive,
    /// An IP packet, trimmed to the length its header gives.
    Ip(IpPacket<'a>),
    /// A gossip message (see [`super::gossip`]).
    Gossip(&'a [u8]),
    /// A signal to forward or consume (see [`super::signal`]).
    Signal(&'a [u8]),
    /// A relay frame to forward or consume (see [`super::relay`]).
    Relay(&'a [u8]),
    /// An overlay ping or pong (see [`ping`]).
    Echo(ping::Echo),
    /// A lookup request or answer to forward or consume (see [`super::lookup`]).
    Lookup(&'a [u8]),
    /// A record store, fetch or answer to forward or consume (see [`super::record`]).
    Record(&'a [u8]),
    /// The network's new key (see [`key_update`]).
    KeyUpdate(key_update::Packet<&'a [u8]>),
    /// The network owner's revocation list (see [`super::revocations`]).
    Revocations(&'a [u8]),
    /// A member's name claim (see [`super::name_claim`]).
    NameClaim(&'a [u8]),
    /// A part of a long revocation list, or a want of parts (see
    /// [`revocation_part`]).
    RevocationPart(&'a [u8]),
    /// The network owner's handover to a new owner key (see
    /// [`owner_handover`]).
    OwnerHandover(&'a [u8]),
}

/// A checked view of an IP packet's addresses.
#[derive(Debug, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// The packet, exactly as long as its header says.
    pub bytes: &'a [u8],
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
}

/// Classifies a plaintext.
///
/// # Errors
/// Returns an error for a truncated IP header, an IP length beyond the
/// plaintext, or an unknown control kind.
pub fn parse(b: &[u8]) -> Result<Inner<'_>, WireError> {
    let Some(&first) = b.first() else {
        return Ok(Inner::Keepalive);
    };
    if first >> 4 == 4 || first >> 4 == 6 {
        return Ok(Inner::Ip(parse_ip(b)?));
    }
    Ok(match InnerKind::from_byte(first)? {
        InnerKind::Gossip => Inner::Gossip(b),
        InnerKind::Signal => Inner::Signal(b),
        InnerKind::Relay => Inner::Relay(b),
        InnerKind::Ping | InnerKind::Pong => Inner::Echo(ping::parse(b)?),
        InnerKind::Lookup => Inner::Lookup(b),
        InnerKind::Record => Inner::Record(b),
        InnerKind::KeyUpdate => Inner::KeyUpdate(key_update::Packet::new_checked(b)?),
        InnerKind::Revocations => Inner::Revocations(b),
        InnerKind::NameClaim => Inner::NameClaim(b),
        InnerKind::RevocationPart => Inner::RevocationPart(b),
        InnerKind::OwnerHandover => Inner::OwnerHandover(b),
    })
}

/// Parses the addresses of an IPv4 or IPv6 packet.
///
/// # Errors
/// Returns an error if the packet is truncated or its length field is inconsistent.
pub fn parse_ip(b: &[u8]) -> Result<IpPacket<'_>, WireError> {
    need(b, 1)?;
    match b[0] >> 4 {
        4 => {
            need(b, Ipv4Header::MIN_LEN)?;
            let header = Ipv4HeaderSlice::from_slice(b).map_err(|e| match e {
                HeaderSliceError::Len(e) => WireError::Truncated {
                    len: b.len(),
                    need: e.required_len,
                },
                HeaderSliceError::Content(_) => WireError::InvalidField("ipv4 header length"),
            })?;
            let total = usize::from(header.total_len());
            if total < header.slice().len() {
                return Err(WireError::InvalidField("ipv4 header length"));
            }
            need(b, total)?;
            Ok(IpPacket {
                bytes: &b[..total],
                src: header.source_addr().into(),
                dst: header.destination_addr().into(),
            })
        }
        6 => {
            let header = Ipv6HeaderSlice::from_slice(b).map_err(|_| WireError::Truncated {
                len: b.len(),
                need: Ipv6Header::LEN,
            })?;
            let total = Ipv6Header::LEN + usize::from(header.payload_length());
            need(b, total)?;
            Ok(IpPacket {
                bytes: &b[..total],
                src: header.source_addr().into(),
                dst: header.destination_addr().into(),
            })
        }
        _ => Err(WireError::InvalidField("ip version")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(total: u16) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(total)];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[12..16].copy_from_slice(&[100, 64, 0, 1]);
        p[16..20].copy_from_slice(&[100, 64, 0, 2]);
        p
    }

    #[test]
    fn classifies_and_trims() {
        assert_eq!(parse(&[]), Ok(Inner::Keepalive));
        let mut p = ipv4(28);
        p.extend_from_slice(&[0; 4]); // padding beyond the IP length
        match parse(&p).unwrap() {
            Inner::Ip(ip) => {
                assert_eq!(ip.bytes.len(), 28);
                assert_eq!(ip.src, IpAddr::from([100, 64, 0, 1]));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&ipv4(28)[..27]).is_err());
        assert!(parse(&[0x3f]).is_err());
        let mut v6 = vec![0u8; 48];
        v6[0] = 0x60;
        v6[5] = 8;
        assert!(matches!(parse(&v6), Ok(Inner::Ip(_))));
        v6[5] = 9;
        assert!(parse(&v6).is_err());
    }
}
