//! Checks on every packet the node delivers, before smoltcp sees it.
//!
//! smoltcp drops bad packets silently; this module drops them first, for a
//! counted [`DropReason`]: a packet that is not a well-formed IPv4 or IPv6
//! packet for one of our addresses, carrying TCP, UDP or ICMP with a valid
//! checksum, never reaches the interface. Because of this the interface is
//! configured not to verify checksums again on receive.
//!
//! An ICMP or ICMPv6 Destination Unreachable is checked further
//! ([`crate::unreachable`]): its quote must be of a packet this stack sent,
//! or it is dropped as [`DropReason::BadIcmpError`]. A valid one still goes
//! to smoltcp, which ignores it, and is returned for the run loop to act on.
//!
//! Nothing here panics, whatever the bytes: every length is checked by the
//! `new_checked` constructors of `smoltcp::wire` before a field is read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    Icmpv4Message, Icmpv4Packet, Icmpv6Message, Icmpv6Packet, IpAddress, IpProtocol, Ipv4Packet,
    Ipv6Packet, TcpPacket, TcpRepr, UdpPacket, UdpRepr,
};

use crate::stats::DropReason;
use crate::unreachable::{self, Unreachable};

/// What the run loop needs to know about a packet that passed the checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// The SYN's destination port and source address, if the packet is a SYN
    /// opening a connection.
    pub(crate) syn: Option<(u16, IpAddr)>,
    /// The error, if the packet is a Destination Unreachable about a packet
    /// we sent.
    pub(crate) unreachable: Option<Unreachable>,
}

/// Checks a packet from the node against our addresses.
pub(crate) fn check(packet: &[u8], ipv4: Ipv4Addr, ipv6: Ipv6Addr) -> Result<Accepted, DropReason> {
    match packet.first().map(|byte| byte >> 4) {
        Some(4) => check_ipv4(packet, ipv4),
        Some(6) => check_ipv6(packet, ipv6),
        _ => Err(DropReason::Malformed),
    }
}

fn check_ipv4(packet: &[u8], ours: Ipv4Addr) -> Result<Accepted, DropReason> {
    let ip = Ipv4Packet::new_checked(packet).map_err(|_| DropReason::Malformed)?;
    if !ip.verify_checksum() {
        return Err(DropReason::BadChecksum);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(DropReason::Unsupported);
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if dst != ours {
        return Err(DropReason::NotLocal);
    }
    if src.is_unspecified() || src.is_multicast() || src.is_broadcast() {
        return Err(DropReason::Malformed);
    }
    let payload = ip.payload();
    match ip.next_header() {
        IpProtocol::Icmp => {
            let icmp = Icmpv4Packet::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            if !icmp.verify_checksum() {
                return Err(DropReason::BadChecksum);
            }
            let unreachable = match icmp.msg_type() {
                Icmpv4Message::DstUnreachable => {
                    Some(unreachable::parse(payload, src.into(), ours.into())?)
                }
                _ => None,
            };
            Ok(Accepted {
                syn: None,
                unreachable,
            })
        }
        protocol => check_transport(protocol, payload, src.into(), dst.into()),
    }
}

fn check_ipv6(packet: &[u8], ours: Ipv6Addr) -> Result<Accepted, DropReason> {
    let ip = Ipv6Packet::new_checked(packet).map_err(|_| DropReason::Malformed)?;
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if dst != ours {
        return Err(DropReason::NotLocal);
    }
    if src.is_unspecified() || src.is_multicast() {
        return Err(DropReason::Malformed);
    }
    let payload = ip.payload();
    match ip.next_header() {
        IpProtocol::Icmpv6 => {
            let icmp = Icmpv6Packet::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            if !icmp.verify_checksum(&src, &dst) {
                return Err(DropReason::BadChecksum);
            }
            let unreachable = match icmp.msg_type() {
                Icmpv6Message::DstUnreachable => {
                    Some(unreachable::parse(payload, src.into(), ours.into())?)
                }
                _ => None,
            };
            Ok(Accepted {
                syn: None,
                unreachable,
            })
        }
        protocol => check_transport(protocol, payload, src.into(), dst.into()),
    }
}

/// Checks a TCP or UDP header and checksum; anything else is unsupported.
fn check_transport(
    protocol: IpProtocol,
    payload: &[u8],
    src: IpAddress,
    dst: IpAddress,
) -> Result<Accepted, DropReason> {
    // Checksums are verified here, once, so that a mismatch gets its own
    // reason; the parse after it only checks structure.
    let structure_only = ChecksumCapabilities::ignored();
    match protocol {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            if !tcp.verify_checksum(&src, &dst) {
                return Err(DropReason::BadChecksum);
            }
            TcpRepr::parse(&tcp, &src, &dst, &structure_only).map_err(|_| DropReason::Malformed)?;
            let opens = tcp.syn() && !tcp.ack();
            Ok(Accepted {
                syn: opens.then(|| (tcp.dst_port(), src.into())),
                unreachable: None,
            })
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            // A zero checksum means "none" over IPv4 only (RFC 8200 §8.1).
            let omitted = udp.checksum() == 0 && matches!(src, IpAddress::Ipv4(_));
            if !omitted && (udp.checksum() == 0 || !udp.verify_checksum(&src, &dst)) {
                return Err(DropReason::BadChecksum);
            }
            UdpRepr::parse(&udp, &src, &dst, &structure_only).map_err(|_| DropReason::Malformed)?;
            Ok(Accepted::default())
        }
        _ => Err(DropReason::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::packets;
    use crate::unreachable::{Effect, Quoted};
    use proptest::prelude::*;
    use std::net::{IpAddr, SocketAddr};

    const V4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
    const V4_PEER: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
    const V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    const V6_PEER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

    fn check_ours(packet: &[u8]) -> Result<Accepted, DropReason> {
        check(packet, V4, V6)
    }

    #[test]
    fn well_formed_packets_pass() {
        let not_syn = Ok(Accepted::default());
        assert_eq!(
            check_ours(&packets::udp(V4_PEER.into(), V4.into(), b"hi")),
            not_syn
        );
        assert_eq!(
            check_ours(&packets::udp(V6_PEER.into(), V6.into(), b"hi")),
            not_syn
        );
        assert_eq!(
            check_ours(&packets::echo_request(V4_PEER.into(), V4.into())),
            not_syn
        );
        assert_eq!(
            check_ours(&packets::echo_request(V6_PEER.into(), V6.into())),
            not_syn
        );
    }

    #[test]
    fn syns_are_recognised() {
        let syn = packets::tcp_syn(V6_PEER.into(), V6.into(), 8080);
        assert_eq!(
            check_ours(&syn),
            Ok(Accepted {
                syn: Some((8080, V6_PEER.into())),
                unreachable: None,
            })
        );
        let syn = packets::tcp_syn(V4_PEER.into(), V4.into(), 22);
        assert_eq!(
            check_ours(&syn),
            Ok(Accepted {
                syn: Some((22, V4_PEER.into())),
                unreachable: None,
            })
        );
    }

    #[test]
    fn destination_unreachable_is_decoded() {
        for (ours, peer) in [
            (IpAddr::from(V4), IpAddr::from(V4_PEER)),
            (V6.into(), V6_PEER.into()),
        ] {
            let syn = packets::tcp_syn(ours, peer, 443);
            let error = packets::unreachable(peer, ours, 1, &syn);
            let unreachable = check_ours(&error)
                .expect("valid")
                .unreachable
                .expect("decoded");
            assert_eq!(unreachable.reporter, peer);
            assert_eq!(unreachable.effect, Effect::HostUnreachable);
            assert_eq!(
                unreachable.quoted,
                Quoted::Tcp {
                    local: SocketAddr::new(ours, 40000),
                    remote: SocketAddr::new(peer, 443),
                }
            );
        }
    }

    #[test]
    fn bad_destination_unreachable_is_dropped() {
        let syn = packets::tcp_syn(V4.into(), V4_PEER.into(), 443);
        let truncated = packets::unreachable(V4_PEER.into(), V4.into(), 1, &syn[..24]);
        assert_eq!(check_ours(&truncated), Err(DropReason::BadIcmpError));
        let not_ours = packets::tcp_syn(V4_PEER.into(), V4_PEER.into(), 443);
        let foreign = packets::unreachable(V4_PEER.into(), V4.into(), 1, &not_ours);
        assert_eq!(check_ours(&foreign), Err(DropReason::BadIcmpError));
        let mut flipped = packets::unreachable(V4_PEER.into(), V4.into(), 1, &syn);
        *flipped.last_mut().expect("quote") ^= 1;
        assert_eq!(check_ours(&flipped), Err(DropReason::BadChecksum));

        let syn6 = packets::tcp_syn(V6.into(), V6_PEER.into(), 443);
        let truncated = packets::unreachable(V6_PEER.into(), V6.into(), 3, &syn6[..47]);
        assert_eq!(check_ours(&truncated), Err(DropReason::BadIcmpError));
        let mut flipped = packets::unreachable(V6_PEER.into(), V6.into(), 3, &syn6);
        *flipped.last_mut().expect("quote") ^= 1;
        assert_eq!(check_ours(&flipped), Err(DropReason::BadChecksum));
        // Only the type's own header: 4 bytes is not an ICMPv6 error.
        let mut short = packets::unreachable(V6_PEER.into(), V6.into(), 3, &[]);
        short.truncate(44);
        short[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(check_ours(&short), Err(DropReason::Malformed));
    }

    #[test]
    fn each_fault_has_its_reason() {
        let good = packets::udp(V4_PEER.into(), V4.into(), b"payload");
        assert_eq!(check_ours(&[]), Err(DropReason::Malformed));
        assert_eq!(
            check_ours(&good[..good.len() - 1]),
            Err(DropReason::Malformed)
        );
        assert_eq!(check_ours(&[0x50; 40]), Err(DropReason::Malformed));

        let mut flipped = good.clone();
        *flipped.last_mut().expect("payload") ^= 1;
        assert_eq!(check_ours(&flipped), Err(DropReason::BadChecksum));

        let mut bad_header = good.clone();
        bad_header[8] ^= 1; // TTL, covered by the header checksum
        assert_eq!(check_ours(&bad_header), Err(DropReason::BadChecksum));

        let elsewhere = packets::udp(V4_PEER.into(), V4_PEER.into(), b"x");
        assert_eq!(check_ours(&elsewhere), Err(DropReason::NotLocal));

        let from_nowhere = packets::udp(Ipv4Addr::UNSPECIFIED.into(), V4.into(), b"x");
        assert_eq!(check_ours(&from_nowhere), Err(DropReason::Malformed));

        let fragment = packets::with_ipv4_more_fragments(&good);
        assert_eq!(check_ours(&fragment), Err(DropReason::Unsupported));

        let mut zero_checksum_v6 = packets::udp(V6_PEER.into(), V6.into(), b"x");
        zero_checksum_v6[46] = 0;
        zero_checksum_v6[47] = 0;
        assert_eq!(check_ours(&zero_checksum_v6), Err(DropReason::BadChecksum));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let _ = check_ours(&bytes);
        }

        #[test]
        fn corrupted_packets_never_panic(
            index in 0usize..64,
            value in any::<u8>(),
            cut in 0usize..64,
        ) {
            for mut packet in [
                packets::tcp_syn(V6_PEER.into(), V6.into(), 80),
                packets::tcp_syn(V4_PEER.into(), V4.into(), 80),
                packets::udp(V4_PEER.into(), V4.into(), b"0123456789"),
                packets::unreachable(
                    V4_PEER.into(),
                    V4.into(),
                    1,
                    &packets::tcp_syn(V4.into(), V4_PEER.into(), 80),
                ),
                packets::unreachable(
                    V6_PEER.into(),
                    V6.into(),
                    3,
                    &packets::tcp_syn(V6.into(), V6_PEER.into(), 80),
                ),
            ] {
                let index = index % packet.len();
                packet[index] = value;
                let _ = check_ours(&packet);
                packet.truncate(packet.len().saturating_sub(cut));
                let _ = check_ours(&packet);
            }
        }
    }
}
