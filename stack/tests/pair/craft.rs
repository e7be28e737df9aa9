//! ICMP and ICMPv6 Destination Unreachable messages, and the TCP segments
//! they quote, written from RFC 791, 792, 8200 and 4443 rather than with
//! smoltcp, as the node would send them.

use std::net::{IpAddr, SocketAddr};

/// An ICMP error stays within 576 bytes (RFC 1812 §4.3.2.3).
const MAX_ICMPV4: usize = 576;
/// An ICMPv6 error stays within the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
const MAX_ICMPV6: usize = 1280;

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.concat();
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A Destination Unreachable from `from` to `to` (ICMP type 3 or ICMPv6
/// type 1) of `code`, quoting as much of `original` as fits, with valid
/// checksums.
pub fn unreachable(from: IpAddr, to: IpAddr, code: u8, original: &[u8]) -> Vec<u8> {
    match (from, to) {
        (IpAddr::V4(from), IpAddr::V4(to)) => {
            let quoted = original.len().min(MAX_ICMPV4 - 28);
            let mut icmp = vec![3, code, 0, 0, 0, 0, 0, 0];
            icmp.extend_from_slice(&original[..quoted]);
            let sum = checksum(&[&icmp]);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            let mut packet = ipv4_header(from.octets(), to.octets(), 1, icmp.len());
            packet.extend_from_slice(&icmp);
            packet
        }
        (IpAddr::V6(from), IpAddr::V6(to)) => {
            let quoted = original.len().min(MAX_ICMPV6 - 48);
            let mut icmp = vec![1, code, 0, 0, 0, 0, 0, 0];
            icmp.extend_from_slice(&original[..quoted]);
            let sum = icmpv6_checksum(from.octets(), to.octets(), &icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            let mut packet = ipv6_header(from.octets(), to.octets(), 58, icmp.len());
            packet.extend_from_slice(&icmp);
            packet
        }
        _ => panic!("mixed address families"),
    }
}

/// The ICMPv6 checksum of `icmp` (its checksum field zero) between `src`
/// and `dst`: the pseudo-header of RFC 8200 §8.1, then the message.
pub fn icmpv6_checksum(src: [u8; 16], dst: [u8; 16], icmp: &[u8]) -> u16 {
    let len = (icmp.len() as u32).to_be_bytes();
    checksum(&[&src, &dst, &len, &[0, 0, 0, 58], icmp])
}

/// The first bytes of a TCP segment with `flags` from `local` to `remote`
/// in its IP header, as a stack would have sent it: what an error about it
/// quotes. The TCP checksum is left zero: nobody checks a quote's.
pub fn tcp_segment(local: SocketAddr, remote: SocketAddr, flags: u8) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&local.port().to_be_bytes());
    tcp[2..4].copy_from_slice(&remote.port().to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
    let mut packet = match (local.ip(), remote.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ipv4_header(src.octets(), dst.octets(), 6, 20),
        (IpAddr::V6(src), IpAddr::V6(dst)) => ipv6_header(src.octets(), dst.octets(), 6, 20),
        _ => panic!("mixed address families"),
    };
    packet.extend_from_slice(&tcp);
    packet
}

/// TCP flags.
pub const SYN: u8 = 0x02;
/// TCP flags.
pub const ACK: u8 = 0x10;

/// The TCP endpoints and flags of an IPv4 or IPv6 packet without options or
/// extension headers, if it is TCP.
pub fn tcp_of(packet: &[u8]) -> Option<(SocketAddr, SocketAddr, u8)> {
    let (src, dst, tcp): (IpAddr, IpAddr, &[u8]) = match packet.first()? >> 4 {
        4 if packet.get(9) == Some(&6) => {
            let header_len = usize::from(packet[0] & 0x0f) * 4;
            let src: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            (src.into(), dst.into(), packet.get(header_len..)?)
        }
        6 if packet.get(6) == Some(&6) => {
            let src: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            (src.into(), dst.into(), packet.get(40..)?)
        }
        _ => return None,
    };
    let port = |at: usize| Some(u16::from_be_bytes([*tcp.get(at)?, *tcp.get(at + 1)?]));
    Some((
        SocketAddr::new(src, port(0)?),
        SocketAddr::new(dst, port(2)?),
        *tcp.get(13)?,
    ))
}

/// The source and destination of an IPv4 or IPv6 packet, and whether it
/// carries ICMP or ICMPv6.
pub fn addresses_of(packet: &[u8]) -> Option<(IpAddr, IpAddr, bool)> {
    match packet.first()? >> 4 {
        4 => {
            let src: [u8; 4] = packet.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = packet.get(16..20)?.try_into().ok()?;
            Some((src.into(), dst.into(), packet[9] == 1))
        }
        6 => {
            let src: [u8; 16] = packet.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = packet.get(24..40)?.try_into().ok()?;
            Some((src.into(), dst.into(), packet[6] == 58))
        }
        _ => None,
    }
}

fn ipv4_header(src: [u8; 4], dst: [u8; 4], protocol: u8, payload_len: usize) -> Vec<u8> {
    let mut header = vec![0u8; 20];
    header[0] = 0x45;
    header[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    header[8] = 64;
    header[9] = protocol;
    header[12..16].copy_from_slice(&src);
    header[16..20].copy_from_slice(&dst);
    let sum = checksum(&[&header]);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    header
}

fn ipv6_header(src: [u8; 16], dst: [u8; 16], next: u8, payload_len: usize) -> Vec<u8> {
    let mut header = vec![0u8; 40];
    header[0] = 0x60;
    header[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    header[6] = next;
    header[7] = 64;
    header[8..24].copy_from_slice(&src);
    header[24..40].copy_from_slice(&dst);
    header
}
