//! ICMP and ICMPv6 errors for the host: Destination Unreachable for packets
//! to an overlay address that no member owns, so that a connect fails at
//! once instead of timing out (RFC 792, RFC 4443 §3.1); Packet Too Big
//! (Fragmentation Needed) for packets to a member reached through a relay
//! that are larger than a relayed path carries, so that the host lowers its
//! path MTU toward that member (RFC 4443 §3.2, RFC 1191).
//!
//! The error's source is the address that could not be reached (the
//! overlay has no router address of its own, and a host drops errors that
//! claim to come from one of its own addresses). Errors are rate-limited by a
//! token bucket, and never sent about an ICMP error or to or from a
//! multicast or unspecified address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use etherparse::icmpv4::{self, DestUnreachableHeader};
use etherparse::icmpv6::DestUnreachableCode;
use etherparse::{
    Icmpv4Header, Icmpv4Type, Icmpv6Header, Icmpv6Type, IpNumber, Ipv4Header, Ipv4HeaderSlice,
    Ipv6Header, Ipv6HeaderSlice,
};

use crate::wire::inner::IpPacket;

/// ICMPv6 errors stay within the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
const MAX_ICMPV6: usize = 1280;
/// ICMPv4 errors stay within 576 bytes (RFC 1812 §4.3.2.3).
const MAX_ICMPV4: usize = 576;
/// Errors allowed per second, and the burst.
const RATE_PER_SEC: u32 = 100;

/// A token bucket for ICMP errors.
#[derive(Clone, Debug)]
pub(crate) struct ErrorRateLimit {
    tokens: u32,
    last: Option<Instant>,
}

impl ErrorRateLimit {
    pub(crate) fn new() -> Self {
        Self {
            tokens: RATE_PER_SEC,
            last: None,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let earned = now.saturating_duration_since(last).as_millis() as u64
                * u64::from(RATE_PER_SEC)
                / 1000;
            if earned > 0 {
                self.tokens = (u64::from(self.tokens) + earned).min(u64::from(RATE_PER_SEC)) as u32;
                self.last = Some(now);
            }
        } else {
            self.last = Some(now);
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    #[cfg(test)]
    pub(crate) fn window() -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
}

/// Which error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpError {
    /// Destination (address) unreachable.
    Unreachable,
    /// The packet is larger than this MTU toward its destination.
    TooBig(u16),
}

/// Writes into `out` a Destination Unreachable about `packet`; returns its
/// length, or `None` if none may be sent.
pub(crate) fn emit(
    packet: &IpPacket<'_>,
    limit: &mut ErrorRateLimit,
    now: Instant,
    out: &mut [u8],
) -> Option<usize> {
    emit_error(packet, IcmpError::Unreachable, limit, now, out)
}

/// Writes into `out` the error `kind` about `packet`; returns its length,
/// or `None` if none may be sent.
pub(crate) fn emit_error(
    packet: &IpPacket<'_>,
    kind: IcmpError,
    limit: &mut ErrorRateLimit,
    now: Instant,
    out: &mut [u8],
) -> Option<usize> {
    if is_error_or_multicast(packet) || !limit.take(now) {
        return None;
    }
    match (packet.src, packet.dst) {
        (IpAddr::V6(src), IpAddr::V6(dst)) => emit_v6(packet.bytes, dst, src, kind, out),
        (IpAddr::V4(src), IpAddr::V4(dst)) => emit_v4(packet.bytes, dst, src, kind, out),
        _ => None,
    }
}

fn is_error_or_multicast(p: &IpPacket<'_>) -> bool {
    let bad_addr = |a: IpAddr| a.is_multicast() || a.is_unspecified();
    if bad_addr(p.src) || bad_addr(p.dst) {
        return true;
    }
    match p.src {
        // ICMPv6 errors have types below 128.
        IpAddr::V6(_) => Ipv6HeaderSlice::from_slice(p.bytes).is_ok_and(|h| {
            h.next_header() == IpNumber::IPV6_ICMP
                && p.bytes.get(Ipv6Header::LEN).is_some_and(|t| *t < 128)
        }),
        // ICMP: only an echo request gets an error about it.
        IpAddr::V4(_) => Ipv4HeaderSlice::from_slice(p.bytes).is_ok_and(|h| {
            h.protocol() == IpNumber::ICMP
                && p.bytes
                    .get(h.slice().len())
                    .is_some_and(|t| *t != icmpv4::TYPE_ECHO_REQUEST)
        }),
    }
}

fn emit_v6(
    original: &[u8],
    from: Ipv6Addr,
    to: Ipv6Addr,
    kind: IcmpError,
    out: &mut [u8],
) -> Option<usize> {
    let quoted = &original[..original.len().min(MAX_ICMPV6 - Ipv6Header::LEN - 8)];
    let icmp_type = match kind {
        IcmpError::Unreachable => Icmpv6Type::DestinationUnreachable(DestUnreachableCode::Address),
        IcmpError::TooBig(mtu) => Icmpv6Type::PacketTooBig {
            mtu: u32::from(mtu),
        },
    };
    let icmp = Icmpv6Header::with_checksum(icmp_type, from.octets(), to.octets(), quoted).ok()?;
    let icmp_len = icmp.header_len() + quoted.len();
    let ip = Ipv6Header {
        payload_length: u16::try_from(icmp_len).ok()?,
        next_header: IpNumber::IPV6_ICMP,
        hop_limit: 64,
        source: from.octets(),
        destination: to.octets(),
        ..Default::default()
    };
    write_packet(&ip.to_bytes(), &icmp.to_bytes(), quoted, out)
}

fn emit_v4(
    original: &[u8],
    from: Ipv4Addr,
    to: Ipv4Addr,
    kind: IcmpError,
    out: &mut [u8],
) -> Option<usize> {
    let quoted = &original[..original.len().min(MAX_ICMPV4 - Ipv4Header::MIN_LEN - 8)];
    let unreachable = match kind {
        IcmpError::Unreachable => DestUnreachableHeader::Host,
        IcmpError::TooBig(next_hop_mtu) => {
            DestUnreachableHeader::FragmentationNeeded { next_hop_mtu }
        }
    };
    let icmp = Icmpv4Header::with_checksum(Icmpv4Type::DestinationUnreachable(unreachable), quoted);
    let icmp_len = u16::try_from(icmp.header_len() + quoted.len()).ok()?;
    let mut ip = Ipv4Header::new(icmp_len, 64, IpNumber::ICMP, from.octets(), to.octets()).ok()?;
    ip.dont_fragment = false;
    ip.header_checksum = ip.calc_header_checksum();
    write_packet(&ip.to_bytes(), &icmp.to_bytes(), quoted, out)
}

/// Writes an IP header, an ICMP header and the quoted packet into `out`;
/// returns the length, or `None` if `out` is too short.
fn write_packet(ip: &[u8], icmp: &[u8], quoted: &[u8], out: &mut [u8]) -> Option<usize> {
    let total = ip.len() + icmp.len() + quoted.len();
    let out = out.get_mut(..total)?;
    let (ip_out, rest) = out.split_at_mut(ip.len());
    let (icmp_out, quoted_out) = rest.split_at_mut(icmp.len());
    ip_out.copy_from_slice(ip);
    icmp_out.copy_from_slice(icmp);
    quoted_out.copy_from_slice(quoted);
    Some(total)
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::wire::inner::parse_ip;
    use etherparse::checksum::Sum16BitWords;

    /// Verifies an Internet checksum over `parts` (with the checksum field
    /// filled in).
    fn verifies(parts: &[&[u8]]) -> bool {
        let sum = parts
            .iter()
            .fold(Sum16BitWords::new(), |s, p| s.add_slice(p));
        sum.ones_complement() == 0
    }

    fn tcp_syn_v6(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[5] = 20;
        p[6] = 6;
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        p[40..42].copy_from_slice(&40000u16.to_be_bytes());
        p[42..44].copy_from_slice(&80u16.to_be_bytes());
        p[53] = 0x02;
        p
    }

    #[test]
    fn icmpv6_error_quotes_the_packet_and_checks_out() {
        let (src, dst): (Ipv6Addr, Ipv6Addr) =
            ("fd00::1".parse().unwrap(), "fd00::99".parse().unwrap());
        let syn = tcp_syn_v6(src, dst);
        let ip = parse_ip(&syn).unwrap();
        let mut out = [0xa5u8; 2000];
        let n = emit(&ip, &mut ErrorRateLimit::new(), Instant::now(), &mut out).unwrap();
        let e = parse_ip(&out[..n]).unwrap();
        assert_eq!((e.src, e.dst), (IpAddr::V6(dst), IpAddr::V6(src)));
        assert_eq!(&out[..4], &[0x60, 0, 0, 0]);
        assert_eq!(&out[6..8], &[58, 64]);
        assert_eq!(&out[40..42], &[1, 3]);
        assert_eq!(&out[44..48], &[0; 4]);
        assert_eq!(&out[48..n], &syn[..]);
        let len = ((n - 40) as u32).to_be_bytes();
        assert!(verifies(&[
            &out[8..24],
            &out[24..40],
            &len,
            &[0, 0, 0, 58],
            &out[40..n]
        ]));
    }

    #[test]
    fn icmpv4_error_has_valid_checksums() {
        let mut syn = vec![0u8; 40];
        syn[0] = 0x45;
        syn[2..4].copy_from_slice(&40u16.to_be_bytes());
        syn[9] = 6;
        syn[12..16].copy_from_slice(&[100, 64, 0, 1]);
        syn[16..20].copy_from_slice(&[100, 64, 0, 9]);
        let ip = parse_ip(&syn).unwrap();
        let mut out = [0u8; 1000];
        let n = emit(&ip, &mut ErrorRateLimit::new(), Instant::now(), &mut out).unwrap();
        assert!(verifies(&[&out[..20]]));
        assert!(verifies(&[&out[20..n]]));
        // Version and header length, no TOS, no fragment flags, TTL 64, ICMP.
        assert_eq!(&out[..2], &[0x45, 0]);
        assert_eq!(&out[2..4], &(n as u16).to_be_bytes());
        assert_eq!(&out[4..10], &[0, 0, 0, 0, 64, 1]);
        assert_eq!(&out[20..22], &[3, 1]);
        assert_eq!(&out[24..28], &[0; 4]);
        assert_eq!(&out[28..n], &syn[..]);
    }

    #[test]
    fn no_error_about_an_error_and_rate_limited() {
        let (src, dst): (Ipv6Addr, Ipv6Addr) =
            ("fd00::1".parse().unwrap(), "fd00::99".parse().unwrap());
        let mut out = [0u8; 2000];
        let mut limit = ErrorRateLimit::new();
        let now = Instant::now();
        // An ICMPv6 error from the host gets nothing back.
        let mut err = tcp_syn_v6(src, dst);
        err[6] = 58;
        err[40] = 1;
        assert!(emit(&parse_ip(&err).unwrap(), &mut limit, now, &mut out).is_none());
        let syn = tcp_syn_v6(src, dst);
        let ip = parse_ip(&syn).unwrap();
        let sent = (0..1000)
            .filter(|_| emit(&ip, &mut limit, now, &mut out).is_some())
            .count();
        assert_eq!(sent, RATE_PER_SEC as usize);
        assert!(emit(&ip, &mut limit, now + ErrorRateLimit::window(), &mut out).is_some());
    }
}
