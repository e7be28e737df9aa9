//! Proxies that let applications on this machine use the overlay when the node
//! runs without a TUN device (`tessel up --userspace`): a SOCKS5 server
//! ([`socks5`], `--socks5 127.0.0.1:1080`) and TCP/UDP port forwards
//! ([`forward`], `--forward tcp:127.0.0.1:8080=PEER:80` for a local port to a
//! peer's service, `--expose tcp:80=127.0.0.1:8080` for the node's overlay
//! port to a local service).
//!
//! The proxies do not know how the overlay is reached: they use it through
//! [`Overlay`], which hands out overlay TCP streams ([`OverlayStream`]),
//! listeners ([`OverlayListener`]) and UDP sockets ([`OverlayDatagram`]).
//! [`StackHandle`](crate::StackHandle) implements it, so
//! `Socks5Server::bind(config, handle)` serves the userspace stack. The three
//! socket traits are also implemented for tokio's sockets, so that a test can
//! make an overlay of plain sockets and run the proxies without a stack.
//!
//! Addresses are IP addresses: the overlay has no name service yet.

use std::{future::Future, io, net::SocketAddr};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream, UdpSocket},
};

pub mod forward;
pub mod socks5;
mod stack;

pub use forward::{
    Expose, ExposeSpec, Forward, ForwardOptions, ForwardSpec, Protocol, SpecError, SpecProblem,
};
pub use socks5::{Credentials, CredentialsError, Socks5Config, Socks5Error, Socks5Server};

/// How the proxies reach the overlay: implemented by the userspace stack's
/// handle, and by plain tokio sockets in tests.
///
/// Cloning is expected to be cheap (a handle to shared state): the proxies
/// clone it into every connection they serve. Addresses given to and
/// returned by the methods are overlay addresses; implementations should
/// return IPv4 peers as IPv4 addresses, not IPv4-mapped IPv6 ones (the
/// proxies normalise them anyway).
pub trait Overlay: Clone + Send + Sync + 'static {
    /// A TCP connection over the overlay.
    type Stream: OverlayStream;
    /// A listening TCP socket on the overlay.
    type Listener: OverlayListener;
    /// A UDP socket on the overlay.
    type Datagram: OverlayDatagram;

    /// Opens a TCP connection to `to`.
    ///
    /// The error's kind tells the SOCKS5 client why it failed:
    /// `ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable` and
    /// `TimedOut` map to their own reply codes, anything else to "general
    /// failure". The proxies bound the time this may take; it need not.
    fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Listens for TCP connections to `port` on this node's overlay addresses.
    fn listen(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// Binds a UDP socket to `port` (0: any free port) on this node's overlay
    /// addresses.
    fn bind_udp(&self, port: u16) -> impl Future<Output = io::Result<Self::Datagram>> + Send;
}

/// A TCP connection over the overlay.
pub trait OverlayStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The local end's address (a SOCKS5 CONNECT reply carries it).
    fn local_addr(&self) -> SocketAddr;
}

/// A listening TCP socket.
pub trait OverlayListener: Send + 'static {
    /// The connections it accepts.
    type Stream: OverlayStream;

    /// Waits for the next connection; returns it and the peer's address.
    ///
    /// Must be cancel-safe: if the future is dropped before it completes, no
    /// connection is lost (tokio's `TcpListener::accept` is).
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;

    /// The port it listens on.
    fn local_port(&self) -> u16;
}

/// A UDP socket. Methods take `&self` so that one task can send while
/// another receives.
pub trait OverlayDatagram: Send + Sync + 'static {
    /// Sends one datagram to `to`.
    fn send_to(&self, buf: &[u8], to: SocketAddr)
        -> impl Future<Output = io::Result<usize>> + Send;

    /// Receives one datagram into `buf`; returns its length and sender.
    ///
    /// Must be cancel-safe: if the future is dropped before it completes, no
    /// datagram is lost (tokio's `UdpSocket::recv_from` is).
    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;

    /// The port it is bound to.
    fn local_port(&self) -> u16;
}

// A connected or bound tokio socket always has a local address; should
// reading it fail anyway, these report 0.0.0.0:0 and port 0.

impl OverlayStream for TcpStream {
    fn local_addr(&self) -> SocketAddr {
        TcpStream::local_addr(self).unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl OverlayListener for TcpListener {
    type Stream = TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }

    fn local_port(&self) -> u16 {
        TcpListener::local_addr(self).map_or(0, |a| a.port())
    }
}

impl OverlayDatagram for UdpSocket {
    fn send_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        UdpSocket::send_to(self, buf, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        UdpSocket::recv_from(self, buf)
    }

    fn local_port(&self) -> u16 {
        UdpSocket::local_addr(self).map_or(0, |a| a.port())
    }
}
