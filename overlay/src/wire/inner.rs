//! The plaintext inside a data message: empty (a keepalive), an IP packet
//! (first nibble 4 or 6), or a control message (first byte below 0x40).
//!
//! For IP packets this module reads only what the node checks: the version,
//! the total length, and the source and destination addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    gossip, key_update, lookup, name_claim, need, owner_handover, ping, record, relay,
    revocation_part, revocations, signal, WireError,
};

/// What a decrypted plaintext holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An empty plaintext.
    Keepalive,
    /// An IP packet, trimmed to the length its header gives.
    Ip(IpPacket<'a>),
    /// A gossip message (see [`gossip`]).
    Gossip(&'a [u8]),
    /// A signal to forward or consume (see [`signal`]).
    Signal(&'a [u8]),
    /// A relay frame to forward or consume (see [`relay`]).
    Relay(&'a [u8]),
    /// An overlay ping or pong (see [`ping`]).
    Echo(ping::Echo),
    /// A lookup request or answer to forward or consume (see [`lookup`]).
    Lookup(&'a [u8]),
    /// A record store, fetch or answer to forward or consume (see [`record`]).
    Record(&'a [u8]),
    /// The network's new key (see [`key_update`]).
    KeyUpdate(key_update::Packet<&'a [u8]>),
    /// The network owner's revocation list (see [`revocations`]).
    Revocations(&'a [u8]),
    /// A member's name claim (see [`name_claim`]).
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
    match b.first() {
        None => Ok(Inner::Keepalive),
        Some(&first) if first >> 4 == 4 || first >> 4 == 6 => Ok(Inner::Ip(parse_ip(b)?)),
        Some(&gossip::KIND) => Ok(Inner::Gossip(b)),
        Some(&signal::KIND) => Ok(Inner::Signal(b)),
        Some(&relay::KIND) => Ok(Inner::Relay(b)),
        Some(&ping::PING | &ping::PONG) => Ok(Inner::Echo(ping::parse(b)?)),
        Some(&lookup::KIND) => Ok(Inner::Lookup(b)),
        Some(&record::KIND) => Ok(Inner::Record(b)),
        Some(&key_update::KIND) => Ok(Inner::KeyUpdate(key_update::Packet::new_checked(b)?)),
        Some(&revocations::KIND) => Ok(Inner::Revocations(b)),
        Some(&name_claim::KIND) => Ok(Inner::NameClaim(b)),
        Some(&revocation_part::KIND) => Ok(Inner::RevocationPart(b)),
        Some(&owner_handover::KIND) => Ok(Inner::OwnerHandover(b)),
        Some(&other) => Err(WireError::UnknownType(other)),
    }
}

/// Parses the addresses of an IPv4 or IPv6 packet.
///
/// # Errors
/// Returns an error if the packet is truncated or its length field is inconsistent.
pub fn parse_ip(b: &[u8]) -> Result<IpPacket<'_>, WireError> {
    need(b, 1)?;
    match b[0] >> 4 {
        4 => {
            need(b, 20)?;
            let ihl = usize::from(b[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
            if ihl < 20 || total < ihl {
                return Err(WireError::InvalidField("ipv4 header length"));
            }
            need(b, total)?;
            let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
            let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
            Ok(IpPacket {
                bytes: &b[..total],
                src: src.into(),
                dst: dst.into(),
            })
        }
        6 => {
            need(b, 40)?;
            let total = 40 + usize::from(u16::from_be_bytes([b[4], b[5]]));
            need(b, total)?;
            let mut s = [0u8; 16];
            s.copy_from_slice(&b[8..24]);
            let mut d = [0u8; 16];
            d.copy_from_slice(&b[24..40]);
            Ok(IpPacket {
                bytes: &b[..total],
                src: Ipv6Addr::from(s).into(),
                dst: Ipv6Addr::from(d).into(),
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
