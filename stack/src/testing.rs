//! Helpers for the unit tests: well-formed packets to start from.

/// Builders of well-formed IP packets with valid checksums.
pub(crate) mod packets {
    use std::net::IpAddr;

    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpAddress, IpProtocol, Ipv4Packet,
        Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket,
        UdpRepr,
    };

    /// A packet of `protocol` from `src` to `dst` whose payload `fill` writes.
    fn ip(
        src: IpAddr,
        dst: IpAddr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Vec<u8> {
        let caps = ChecksumCapabilities::default();
        match (src, dst) {
            (IpAddr::V4(src_addr), IpAddr::V4(dst_addr)) => {
                let repr = Ipv4Repr {
                    src_addr,
                    dst_addr,
                    next_header: protocol,
                    payload_len,
                    hop_limit: 64,
                };
                let mut buf = vec![0xa5; repr.buffer_len() + payload_len];
                repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf), &caps);
                fill(&mut buf[repr.buffer_len()..]);
                buf
            }
            (IpAddr::V6(src_addr), IpAddr::V6(dst_addr)) => {
                let repr = Ipv6Repr {
                    src_addr,
                    dst_addr,
                    next_header: protocol,
                    payload_len,
                    hop_limit: 64,
                };
                let mut buf = vec![0xa5; repr.buffer_len() + payload_len];
                repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf));
                fill(&mut buf[repr.buffer_len()..]);
                buf
            }
            _ => panic!("mixed address families"),
        }
    }

    /// A UDP datagram from port 1000 to port 2000.
    pub(crate) fn udp(src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
        let repr = UdpRepr {
            src_port: 1000,
            dst_port: 2000,
        };
        let len = repr.header_len() + payload.len();
        ip(src, dst, IpProtocol::Udp, len, |buf| {
            repr.emit(
                &mut UdpPacket::new_unchecked(buf),
                &IpAddress::from(src),
                &IpAddress::from(dst),
                payload.len(),
                |out| out.copy_from_slice(payload),
                &ChecksumCapabilities::default(),
            );
        })
    }

    /// A SYN from port 40000 to `port`.
    pub(crate) fn tcp_syn(src: IpAddr, dst: IpAddr, port: u16) -> Vec<u8> {
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: port,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(1),
            ack_number: None,
            window_len: 1024,
            window_scale: None,
            max_seg_size: Some(1380),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        ip(src, dst, IpProtocol::Tcp, repr.buffer_len(), |buf| {
            repr.emit(
                &mut TcpPacket::new_unchecked(buf),
                &IpAddress::from(src),
                &IpAddress::from(dst),
                &ChecksumCapabilities::default(),
            );
        })
    }

    /// An ICMP or ICMPv6 echo request carrying 16 bytes.
    pub(crate) fn echo_request(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let data = [7u8; 16];
        let caps = ChecksumCapabilities::default();
        match (src, dst) {
            (IpAddr::V4(_), _) => {
                let repr = Icmpv4Repr::EchoRequest {
                    ident: 1,
                    seq_no: 1,
                    data: &data,
                };
                ip(src, dst, IpProtocol::Icmp, repr.buffer_len(), |buf| {
                    repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps);
                })
            }
            (IpAddr::V6(src6), IpAddr::V6(dst6)) => {
                let repr = Icmpv6Repr::EchoRequest {
                    ident: 1,
                    seq_no: 1,
                    data: &data,
                };
                ip(src, dst, IpProtocol::Icmpv6, repr.buffer_len(), |buf| {
                    repr.emit(&src6, &dst6, &mut Icmpv6Packet::new_unchecked(buf), &caps);
                })
            }
            _ => panic!("mixed address families"),
        }
    }

    /// An ICMP (type 3) or ICMPv6 (type 1) Destination Unreachable of `code`
    /// quoting `quote`, with a valid checksum.
    pub(crate) fn unreachable(src: IpAddr, dst: IpAddr, code: u8, quote: &[u8]) -> Vec<u8> {
        let len = 8 + quote.len();
        let fill = |buf: &mut [u8], msg_type: u8| {
            buf[..8].copy_from_slice(&[msg_type, code, 0, 0, 0, 0, 0, 0]);
            buf[8..].copy_from_slice(quote);
        };
        match (src, dst) {
            (IpAddr::V4(_), _) => ip(src, dst, IpProtocol::Icmp, len, |buf| {
                fill(buf, 3);
                Icmpv4Packet::new_unchecked(buf).fill_checksum();
            }),
            (IpAddr::V6(src6), IpAddr::V6(dst6)) => ip(src, dst, IpProtocol::Icmpv6, len, |buf| {
                fill(buf, 1);
                Icmpv6Packet::new_unchecked(buf).fill_checksum(&src6, &dst6);
            }),
            _ => panic!("mixed address families"),
        }
    }

    /// The IPv4 packet with its "more fragments" flag set.
    pub(crate) fn with_ipv4_more_fragments(packet: &[u8]) -> Vec<u8> {
        let mut out = packet.to_vec();
        let mut ip = Ipv4Packet::new_unchecked(&mut out);
        ip.set_more_frags(true);
        ip.fill_checksum();
        out
    }
}
