//! The node's UDP socket: bound with socket2 (dual-stack when it listens on
//! `[::]`), with IPv4-mapped IPv6 addresses normalised so that the node only
//! ever sees plain IPv4 endpoints.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Protocol, Socket, Type};

use super::DriverError;

/// Socket buffer size asked of the kernel (it may cap it).
const SOCKET_BUFFER: usize = 4 << 20;

/// A bound UDP socket.
pub(crate) struct Udp {
    socket: tokio::net::UdpSocket,
    dual_stack: bool,
}

impl Udp {
    /// Binds `addr`.
    pub(crate) fn bind(addr: SocketAddr) -> Result<Self, DriverError> {
        let map = |source: io::Error| {
            if source.kind() == io::ErrorKind::AddrInUse {
                DriverError::PortInUse { addr }
            } else {
                DriverError::Bind { addr, source }
            }
        };
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(map)?;
        let dual_stack = addr.ip() == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
        if addr.is_ipv6() {
            socket.set_only_v6(!dual_stack).map_err(map)?;
        }
        // Larger buffers absorb bursts; failure only costs performance.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.set_nonblocking(true).map_err(map)?;
        socket.bind(&addr.into()).map_err(map)?;
        let socket = tokio::net::UdpSocket::from_std(socket.into()).map_err(map)?;
        Ok(Self { socket, dual_stack })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Waits for a datagram.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.socket.recv_from(buf).await?;
        Ok((n, normalise(from)))
    }

    /// Takes a datagram if one is waiting.
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self.socket.try_recv_from(buf)?;
        Ok((n, normalise(from)))
    }

    /// Sends a datagram, waiting for buffer space if needed.
    pub(crate) async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = self.outgoing(to);
        match self.socket.try_send_to(buf, to) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.socket.send_to(buf, to).await,
            r => r,
        }
    }

    /// Sends a datagram with IP TTL (IPv6 hop limit) `ttl` instead of the
    /// socket's default, which it restores after: a hole-punching opener.
    /// An opener is worth nothing late, so one that would block is dropped;
    /// and one whose TTL cannot be set is not sent (at full TTL it would do
    /// the harm it exists to avoid).
    pub(crate) fn try_send_with_ttl(
        &self,
        buf: &[u8],
        to: SocketAddr,
        ttl: u8,
    ) -> io::Result<usize> {
        let sock = socket2::SockRef::from(&self.socket);
        let v4 = to.is_ipv4();
        let old = if v4 {
            sock.ttl_v4()?
        } else {
            sock.unicast_hops_v6()?
        };
        let set = |t: u32| {
            if v4 {
                sock.set_ttl_v4(t)
            } else {
                sock.set_unicast_hops_v6(t)
            }
        };
        set(u32::from(ttl))?;
        let sent = self.socket.try_send_to(buf, self.outgoing(to));
        set(old)?;
        sent
    }

    fn outgoing(&self, to: SocketAddr) -> SocketAddr {
        match to {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            other => other,
        }
    }
}

/// `[::ffff:a.b.c.d]:p` → `a.b.c.d:p`.
pub(crate) fn normalise(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}
