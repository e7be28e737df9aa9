//! ICMP and ICMPv6 Destination Unreachable: the checks on the quoted packet,
//! and what the error's code means for a connection attempt.
//!
//! The node answers a packet for an overlay address that no member owns with
//! a Destination Unreachable (ICMP type 3, ICMPv6 type 1) that quotes it, so
//! that a connect fails at once instead of after
//! [`crate::StackConfig::connect_timeout`]. [`crate::inbound`] verifies the
//! outer packet and the ICMP checksum, then [`parse`] checks the rest:
//!
//! - the quote holds a whole IP header of the error's family and at least
//!   the first 8 bytes of what followed it (RFC 792, RFC 4443 §3.1): enough
//!   for the TCP or UDP ports; anything beyond is ignored;
//! - the quoted packet is one this stack could have sent: from our address,
//!   to a unicast address other than ours, unfragmented, carrying TCP, UDP,
//!   ICMP or ICMPv6 (no extension header), with non-zero ports;
//! - the error comes from our own address (the node speaking for the
//!   overlay) or from the quoted destination (the host, or the node on its
//!   behalf). Any other member could otherwise fail connections it has no
//!   part in: the node lets members send only from their own address.
//!
//! A message that fails these checks is dropped as
//! [`DropReason::BadIcmpError`]. No sequence number is checked, because
//! smoltcp does not expose the one it sent; the (port, address, port) match
//! and the source check above stand in for it.
//!
//! # Codes
//!
//! - ICMP code 2 (protocol unreachable), 3 (port unreachable), ICMPv6 code 4
//!   (port unreachable): "connection refused";
//! - ICMP code 4 (fragmentation needed): nothing;
//! - any other code, among them ICMP 0 (net) and 1 (host unreachable),
//!   ICMPv6 0 (no route) and 3 (address unreachable), and the
//!   "administratively prohibited" ones: "host unreachable".
//!
//! Linux fails a SYN-SENT socket on these messages too, with ECONNREFUSED for
//! port unreachable, but ENETUNREACH for the "network" codes, EACCES for
//! ICMPv6 "administratively prohibited" and ENOPROTOOPT for protocol
//! unreachable. On the overlay every address is one host, and the node's
//! "no route" means that no member owns the address, so those are host
//! unreachable here (a SOCKS5 client gets reply 0x04); a protocol
//! unreachable comes from a host that is there and will not speak TCP, so it
//! is refused. Fragmentation needed is a path MTU signal, not an
//! unreachable destination.
//!
//! An established connection ignores every one of these, as the kernel does
//! for these soft errors: its retransmissions carry on and time out on their
//! own. UDP sockets and pings ignore them too: a datagram socket has no
//! connection to fail, and a ping times out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6Header, Ipv6HeaderSlice};

use crate::stats::DropReason;

/// Bytes of the transport header every quote must hold (RFC 792).
const QUOTED_TRANSPORT: usize = 8;
/// ICMP and ICMPv6 error header: type, code, checksum, four unused bytes.
const ERROR_HEADER: usize = 8;

/// A valid Destination Unreachable about a packet this stack sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unreachable {
    /// Who sent the error.
    pub(crate) reporter: IpAddr,
    /// What the error means for a connection attempt.
    pub(crate) effect: Effect,
    /// The quoted packet.
    pub(crate) quoted: Quoted,
}

/// What a Destination Unreachable does to a connection attempt; see the
/// module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Fails it with "host unreachable".
    HostUnreachable,
    /// Fails it with "connection refused".
    Refused,
    /// Nothing: fragmentation needed.
    None,
}

/// The packet an error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoted {
    /// A TCP segment between these endpoints.
    Tcp {
        /// Our address and port.
        local: SocketAddr,
        /// The address and port it was sent to.
        remote: SocketAddr,
    },
    /// A UDP datagram or an ICMP message.
    Other,
}

/// Checks the body of an ICMP (`ipv6` false) or ICMPv6 Destination
/// Unreachable whose checksum was verified: `message` is the ICMP message
/// from its type on, `reporter` the outer source, `ours` our address of the
/// family.
pub(crate) fn parse(
    message: &[u8],
    reporter: IpAddr,
    ours: IpAddr,
) -> Result<Unreachable, DropReason> {
    let bad = DropReason::BadIcmpError;
    let code = *message.get(1).ok_or(bad)?;
    let quote = message.get(ERROR_HEADER..).ok_or(bad)?;
    let (packet, effect) = match ours {
        IpAddr::V4(ours) => (quoted_v4(quote, ours)?, effect_v4(code)),
        IpAddr::V6(ours) => (quoted_v6(quote, ours)?, effect_v6(code)),
    };
    if reporter != ours && reporter != packet.dst {
        return Err(bad);
    }
    let port = |at: usize| u16::from_be_bytes([packet.transport[at], packet.transport[at + 1]]);
    let quoted = match packet.protocol {
        IpNumber::TCP | IpNumber::UDP => {
            let (local, remote) = (port(0), port(2));
            if local == 0 || remote == 0 {
                return Err(bad);
            }
            if packet.protocol == IpNumber::UDP {
                Quoted::Other
            } else {
                Quoted::Tcp {
                    local: SocketAddr::new(ours, local),
                    remote: SocketAddr::new(packet.dst, remote),
                }
            }
        }
        _ => Quoted::Other,
    };
    Ok(Unreachable {
        reporter,
        effect,
        quoted,
    })
}

/// The fields of a quoted packet that matter.
struct QuotedPacket<'a> {
    dst: IpAddr,
    protocol: IpNumber,
    /// The first [`QUOTED_TRANSPORT`] bytes after the IP header.
    transport: &'a [u8],
}

fn quoted_v4(quote: &[u8], ours: Ipv4Addr) -> Result<QuotedPacket<'_>, DropReason> {
    let bad = DropReason::BadIcmpError;
    let header = Ipv4HeaderSlice::from_slice(quote).map_err(|_| bad)?;
    let header_len = header.slice().len();
    let transport = quote
        .get(header_len..header_len + QUOTED_TRANSPORT)
        .ok_or(bad)?;
    let protocol = header.protocol();
    let (src, dst) = (header.source_addr(), header.destination_addr());
    let unusable = dst.is_unspecified() || dst.is_multicast() || dst.is_broadcast();
    if usize::from(header.total_len()) < header_len + QUOTED_TRANSPORT
        || header.fragments_offset().value() != 0
        || !matches!(protocol, IpNumber::TCP | IpNumber::UDP | IpNumber::ICMP)
        || src != ours
        || dst == ours
        || unusable
    {
        return Err(bad);
    }
    Ok(QuotedPacket {
        dst: dst.into(),
        protocol,
        transport,
    })
}

fn quoted_v6(quote: &[u8], ours: Ipv6Addr) -> Result<QuotedPacket<'_>, DropReason> {
    let bad = DropReason::BadIcmpError;
    let header = Ipv6HeaderSlice::from_slice(quote).map_err(|_| bad)?;
    let transport = quote
        .get(Ipv6Header::LEN..Ipv6Header::LEN + QUOTED_TRANSPORT)
        .ok_or(bad)?;
    // The stack sends no extension headers: the transport header comes
    // first.
    let protocol = header.next_header();
    let (src, dst) = (header.source_addr(), header.destination_addr());
    if usize::from(header.payload_length()) < QUOTED_TRANSPORT
        || !matches!(
            protocol,
            IpNumber::TCP | IpNumber::UDP | IpNumber::IPV6_ICMP
        )
        || src != ours
        || dst == ours
        || dst.is_unspecified()
        || dst.is_multicast()
    {
        return Err(bad);
    }
    Ok(QuotedPacket {
        dst: dst.into(),
        protocol,
        transport,
    })
}

/// ICMP type 3 codes; see the module doc.
fn effect_v4(code: u8) -> Effect {
    match code {
        2 | 3 => Effect::Refused,
        4 => Effect::None,
        _ => Effect::HostUnreachable,
    }
}

/// ICMPv6 type 1 codes; see the module doc.
fn effect_v6(code: u8) -> Effect {
    match code {
        4 => Effect::Refused,
        _ => Effect::HostUnreachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::packets;

    const V4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
    const V4_PEER: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
    const V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const V6_PEER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    /// An ICMP error message (type, code, checksum left zero, unused) quoting
    /// `quote`.
    fn message(code: u8, quote: &[u8]) -> Vec<u8> {
        let mut out = vec![3, code, 0, 0, 0, 0, 0, 0];
        out.extend_from_slice(quote);
        out
    }

    fn tcp(local: IpAddr, remote: IpAddr, port: u16) -> Quoted {
        Quoted::Tcp {
            local: SocketAddr::new(local, 40000),
            remote: SocketAddr::new(remote, port),
        }
    }

    #[test]
    fn a_quoted_syn_gives_its_endpoints_over_both_families() {
        for (ours, peer) in [
            (IpAddr::from(V4), V4_PEER.into()),
            (V6.into(), V6_PEER.into()),
        ] {
            let syn = packets::tcp_syn(ours, peer, 80);
            for reporter in [ours, peer] {
                let parsed = parse(&message(1, &syn), reporter, ours);
                assert_eq!(
                    parsed,
                    Ok(Unreachable {
                        reporter,
                        effect: Effect::HostUnreachable,
                        quoted: tcp(ours, peer, 80),
                    })
                );
            }
            // The minimum quote: IP header and 8 bytes.
            let short = &syn[..syn.len() - 12];
            assert_eq!(
                parse(&message(1, short), peer, ours).map(|u| u.quoted),
                Ok(tcp(ours, peer, 80))
            );
        }
    }

    #[test]
    fn codes_map_like_the_kernel_on_an_overlay() {
        let expected_v4 = |code| match code {
            2 | 3 => Effect::Refused,
            4 => Effect::None,
            _ => Effect::HostUnreachable,
        };
        for code in 0..=255 {
            assert_eq!(effect_v4(code), expected_v4(code), "ICMP code {code}");
        }
        assert_eq!(effect_v6(0), Effect::HostUnreachable);
        assert_eq!(effect_v6(1), Effect::HostUnreachable);
        assert_eq!(effect_v6(3), Effect::HostUnreachable);
        assert_eq!(effect_v6(4), Effect::Refused);
        assert_eq!(effect_v6(200), Effect::HostUnreachable);
    }

    #[test]
    fn udp_and_icmp_quotes_are_valid_but_not_tcp() {
        let udp = packets::udp(V4.into(), V4_PEER.into(), b"x");
        let ping = packets::echo_request(V6.into(), V6_PEER.into());
        assert_eq!(
            parse(&message(3, &udp), V4_PEER.into(), V4.into()).map(|u| u.quoted),
            Ok(Quoted::Other)
        );
        assert_eq!(
            parse(&message(0, &ping), V6_PEER.into(), V6.into()).map(|u| u.quoted),
            Ok(Quoted::Other)
        );
    }

    #[test]
    fn quotes_we_could_not_have_sent_are_bad() {
        let bad = Err(DropReason::BadIcmpError);
        let ours = IpAddr::from(V4);
        let syn = packets::tcp_syn(ours, V4_PEER.into(), 80);
        let check = |quote: &[u8]| parse(&message(1, quote), V4_PEER.into(), ours);

        assert_eq!(parse(&[3], V4_PEER.into(), ours), bad);
        assert_eq!(check(&[]), bad);
        assert_eq!(check(&syn[..27]), bad, "7 bytes of TCP");

        let mut other = syn.clone();
        other[12..16].copy_from_slice(&[100, 64, 0, 3]);
        assert_eq!(check(&other), bad, "not from us");
        let mut other = syn.clone();
        other[16..20].copy_from_slice(&V4.octets());
        assert_eq!(check(&other), bad, "to ourselves");
        let mut other = syn.clone();
        other[16..20].copy_from_slice(&[224, 0, 0, 1]);
        assert_eq!(check(&other), bad, "to multicast");
        let mut other = syn.clone();
        other[0] = 0x65;
        assert_eq!(check(&other), bad, "version 6 in an ICMP error");
        let mut other = syn.clone();
        other[0] = 0x44;
        assert_eq!(check(&other), bad, "header of 16 bytes");
        let mut other = syn.clone();
        other[9] = 47;
        assert_eq!(check(&other), bad, "GRE");
        let mut other = syn.clone();
        other[7] = 1;
        assert_eq!(check(&other), bad, "a later fragment");
        let mut other = syn.clone();
        other[2..4].copy_from_slice(&27u16.to_be_bytes());
        assert_eq!(check(&other), bad, "total length too short");
        let mut other = syn.clone();
        other[20..22].fill(0);
        assert_eq!(check(&other), bad, "port 0");

        // From a third party.
        assert_eq!(
            parse(&message(1, &syn), Ipv4Addr::new(100, 64, 0, 3).into(), ours),
            bad
        );
        // An ICMP error quoting IPv6, and the other way round.
        let syn6 = packets::tcp_syn(V6.into(), V6_PEER.into(), 80);
        assert_eq!(check(&syn6), bad);
        assert_eq!(parse(&message(1, &syn), V6_PEER.into(), V6.into()), bad);
    }

    #[test]
    fn quoted_ipv6_with_an_extension_header_is_bad() {
        let mut syn = packets::tcp_syn(V6.into(), V6_PEER.into(), 80);
        syn[6] = 0; // hop-by-hop options
        assert_eq!(
            parse(&message(1, &syn), V6_PEER.into(), V6.into()),
            Err(DropReason::BadIcmpError)
        );
    }
}
