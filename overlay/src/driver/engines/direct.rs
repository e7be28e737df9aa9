//! Reading a kernel engine stream at once, when the overlay has just handed
//! the TUN device a packet of it.
//!
//! A stream's reader task learns that bytes arrived only at the runtime's
//! next poll of its readiness: one more turn of the event loop, and one
//! more `epoll_wait`, on every message's way in. The event loop knows
//! sooner: it wrote the packet to the device itself, and the kernel queued
//! its payload on the stream's socket within that write. So after a packet
//! whose TCP payload belongs to one of our streams ([`StreamKey::inbound`]),
//! the host reads that stream through a second descriptor ([`DirectRead`])
//! and hands the bytes to the transport in the same turn.
//!
//! Order is kept because the event loop is the only reader of a stream
//! but for its reader task, whose reads reach the event loop through the
//! host's input channel: the host handles everything waiting there first,
//! and reads directly only while the reader task holds no bytes of its own
//! (it holds some only while the channel is full; [`DirectRead::reader_holds`]).

use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use etherparse::{IpNumber, Ipv6Header, Ipv6HeaderSlice, TcpHeaderSlice};
use tokio::net::TcpStream;

/// A kernel stream as its packets name it: the member's address and port,
/// and our port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    peer: Ipv6Addr,
    peer_port: u16,
    local_port: u16,
}

impl StreamKey {
    /// The stream an inbound IPv6 packet (from the member to us) carries
    /// bytes of: `None` for anything but TCP with a payload (a bare
    /// acknowledgement brings nothing to read).
    pub(crate) fn inbound(packet: &[u8]) -> Option<Self> {
        let ip = Ipv6HeaderSlice::from_slice(packet).ok()?;
        if ip.next_header() != IpNumber::TCP {
            return None;
        }
        let tcp = TcpHeaderSlice::from_slice(&packet[Ipv6Header::LEN..]).ok()?;
        if usize::from(ip.payload_length()) <= tcp.slice().len() {
            return None;
        }
        Some(Self {
            peer: ip.source_addr(),
            peer_port: tcp.source_port(),
            local_port: tcp.destination_port(),
        })
    }

    /// The key of a connected kernel stream.
    fn of(stream: &TcpStream) -> io::Result<Self> {
        let (SocketAddr::V6(peer), local) = (stream.peer_addr()?, stream.local_addr()?) else {
            return Err(io::ErrorKind::Unsupported.into());
        };
        Ok(Self {
            peer: *peer.ip(),
            peer_port: peer.port(),
            local_port: local.port(),
        })
    }
}

/// A second descriptor of a kernel stream, for reads from the event loop.
#[derive(Debug)]
pub(crate) struct DirectRead {
    fd: OwnedFd,
    key: StreamKey,
    /// Set by the reader task while it holds bytes it could not queue yet.
    holding: Arc<AtomicBool>,
}

impl DirectRead {
    /// A direct reader of `stream`.
    pub(crate) fn of(stream: &TcpStream) -> io::Result<Self> {
        Ok(Self {
            fd: stream.as_fd().try_clone_to_owned()?,
            key: StreamKey::of(stream)?,
            holding: Arc::default(),
        })
    }

    /// The stream's key.
    pub(crate) fn key(&self) -> StreamKey {
        self.key
    }

    /// The flag the reader task raises while it holds bytes.
    pub(crate) fn holding(&self) -> Arc<AtomicBool> {
        self.holding.clone()
    }

    /// Whether the reader task holds bytes it read but could not queue
    /// (then reading here would put newer bytes before them).
    pub(crate) fn reader_holds(&self) -> bool {
        self.holding.load(Ordering::Acquire)
    }

    /// Reads what the stream holds now, without waiting: `None` when it
    /// holds nothing, or at its end or on an error (which its reader task
    /// then meets and reports).
    pub(crate) fn read_now(&self, buf: &mut [u8]) -> Option<usize> {
        match nix::unistd::read(&self.fd, buf) {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 packet from `peer`:`sport` to port `dport` with a TCP header
    /// of `header` bytes and `payload` bytes after it.
    fn packet(peer: Ipv6Addr, sport: u16, dport: u16, header: usize, payload: usize) -> Vec<u8> {
        let mut p = vec![0xa5; Ipv6Header::LEN + header + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&u16::try_from(header + payload).unwrap().to_be_bytes());
        p[6] = IpNumber::TCP.0;
        p[8..24].copy_from_slice(&peer.octets());
        p[40..42].copy_from_slice(&sport.to_be_bytes());
        p[42..44].copy_from_slice(&dport.to_be_bytes());
        p[52] = u8::try_from(header / 4).unwrap() << 4;
        p
    }

    #[test]
    fn keys_of_packets_with_payload() {
        let peer: Ipv6Addr = "fd00::1".parse().unwrap();
        let key = StreamKey {
            peer,
            peer_port: 41000,
            local_port: 9743,
        };
        assert_eq!(
            StreamKey::inbound(&packet(peer, 41000, 9743, 32, 10)),
            Some(key)
        );
        // A bare acknowledgement, UDP, IPv4 and a cut header say nothing.
        assert_eq!(StreamKey::inbound(&packet(peer, 41000, 9743, 32, 0)), None);
        let mut udp = packet(peer, 41000, 9743, 20, 10);
        udp[6] = 17;
        assert_eq!(StreamKey::inbound(&udp), None);
        let mut v4 = packet(peer, 41000, 9743, 20, 10);
        v4[0] = 0x45;
        assert_eq!(StreamKey::inbound(&v4), None);
        assert_eq!(StreamKey::inbound(&packet(peer, 1, 2, 20, 10)[..50]), None);
    }
}
