//! The node's UDP socket: bound with socket2 (dual-stack when it listens on
//! `[::]`), with IPv4-mapped IPv6 addresses normalised so that the node only
//! ever sees plain IPv4 endpoints.
//!
//! Where the kernel offers them, it sends with UDP GSO (`UDP_SEGMENT`: one
//! call for a run of equal-sized datagrams to one address, see
//! [`super::send_batch`]) and receives with UDP GRO (`UDP_GRO`: one call
//! for a run of datagrams of one flow, see [`Received`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::socket::{
    self as nix_socket, sockopt, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;

use super::DriverError;

/// Socket buffer size asked of the kernel (it may cap it).
const SOCKET_BUFFER: usize = 4 << 20;

/// Turns UDP GSO and GRO off when set to `1` (for measuring what they
/// bring, or for a path that mishandles them).
pub(crate) const NO_OFFLOAD_ENV: &str = "TESSEL_UDP_NO_OFFLOAD";

/// A bound UDP socket.
pub(crate) struct Udp {
    socket: tokio::net::UdpSocket,
    dual_stack: bool,
    /// Whether sends may carry `UDP_SEGMENT` (cleared if the kernel refuses
    /// one, as it does where the outgoing device cannot checksum).
    gso: AtomicBool,
    /// Control-message room for a receive's `UDP_GRO` (empty: GRO is off,
    /// see [`Self::with_gro`]).
    gro_cmsg: Vec<u8>,
}

/// What one receive brought: `len` bytes from `from`, in datagrams of
/// `segment` bytes each (the last may be shorter), which GRO coalesced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) from: SocketAddr,
    pub(crate) segment: usize,
}

impl Received {
    /// How many datagrams this receive brought.
    pub(crate) fn count(&self) -> usize {
        self.len.div_ceil(self.segment.max(1)).max(1)
    }

    /// The datagrams of this receive within the buffer it was made into.
    pub(crate) fn datagrams<'a>(&self, buf: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        buf[..self.len].chunks(self.segment.max(1))
    }
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
        // Only where the kernel has it (Linux 4.18).
        let gso = offload() && nix_socket::getsockopt(&socket, sockopt::UdpGsoSegment).is_ok();
        let socket = tokio::net::UdpSocket::from_std(socket.into()).map_err(map)?;
        Ok(Self {
            socket,
            dual_stack,
            gso: AtomicBool::new(gso),
            gro_cmsg: Vec::new(),
        })
    }

    /// Turns UDP GRO on where the kernel has it (Linux 5.0): [`Self::recv`]
    /// may then bring several datagrams at once. (Not for sockets read
    /// otherwise.)
    pub(crate) fn with_gro(mut self) -> Self {
        if offload() && nix_socket::setsockopt(&self.socket, sockopt::UdpGroSegment, &true).is_ok()
        {
            self.gro_cmsg = nix::cmsg_space!(libc::c_int);
        }
        self
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

    /// Waits for datagrams (several from one sender when GRO coalesced
    /// them; `buf` should hold 64 KiB).
    pub(crate) async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let Self {
            socket, gro_cmsg, ..
        } = self;
        socket
            .async_io(Interest::READABLE, || recv_gro(socket, buf, gro_cmsg))
            .await
    }

    /// Takes datagrams if some are waiting.
    pub(crate) fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let Self {
            socket, gro_cmsg, ..
        } = self;
        socket.try_io(Interest::READABLE, || recv_gro(socket, buf, gro_cmsg))
    }

    /// Takes datagrams waiting now, past the runtime's readiness (which
    /// only an epoll wait updates): for polling a while before sleeping.
    pub(crate) fn recv_now(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let Self {
            socket, gro_cmsg, ..
        } = self;
        recv_gro(socket, buf, gro_cmsg)
    }

    /// Whether [`Self::send_segments`] may send more than one datagram per
    /// call.
    pub(crate) fn gso(&self) -> bool {
        self.gso.load(Ordering::Relaxed)
    }

    /// Sends the datagrams of `segment` bytes each (the last may be
    /// shorter) that `buf` holds to `to`: in one call with GSO, else one by
    /// one. Waits for buffer space if needed.
    pub(crate) async fn send_segments(
        &self,
        buf: &[u8],
        to: SocketAddr,
        segment: usize,
    ) -> io::Result<()> {
        if buf.len() <= segment {
            return self.send_to(buf, to).await.map(drop);
        }
        if self.gso() {
            let dest = SockaddrStorage::from(self.outgoing(to));
            let seg = segment as u16;
            let send = || {
                nix_socket::sendmsg(
                    self.socket.as_raw_fd(),
                    &[IoSlice::new(buf)],
                    &[ControlMessage::UdpGsoSegments(&seg)],
                    MsgFlags::empty(),
                    Some(&dest),
                )
                .map_err(io::Error::from)
            };
            let sent = match self.socket.try_io(Interest::WRITABLE, send) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket.async_io(Interest::WRITABLE, send).await
                }
                r => r,
            };
            match sent {
                Ok(_) => return Ok(()),
                // EIO: the route's device cannot take GSO; send one by one
                // from now on.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    tracing::info!("UDP GSO refused on this path; sending datagrams one by one");
                    self.gso.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        for datagram in buf.chunks(segment.max(1)) {
            self.send_to(datagram, to).await?;
        }
        Ok(())
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

/// Whether offloads may be used ([`NO_OFFLOAD_ENV`]).
fn offload() -> bool {
    !std::env::var(NO_OFFLOAD_ENV).is_ok_and(|v| v == "1")
}

/// One `recvmsg`, with room for a `UDP_GRO` control message when GRO is on
/// (`cmsg` is empty when it is off).
fn recv_gro(
    socket: &tokio::net::UdpSocket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nix_socket::recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let len = msg.bytes;
    let mut segment = len;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::UdpGroSegments(size) = c {
                segment = usize::try_from(size).unwrap_or(len).max(1);
            }
        }
    }
    let from = msg
        .address
        .as_ref()
        .and_then(socket_addr)
        .ok_or_else(|| io::Error::other("a datagram without a source address"))?;
    Ok(Received {
        len,
        from: normalise(from),
        segment,
    })
}

fn socket_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddrV4::from(*v4).into());
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddrV6::from(*v6).into())
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
