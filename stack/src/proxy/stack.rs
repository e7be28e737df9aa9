//! The userspace stack as the proxies' [`Overlay`]: a [`StackHandle`] hands
//! out overlay TCP streams, listeners and UDP sockets on both overlay
//! addresses.

use std::{future::Future, io, net::SocketAddr};

use super::{Overlay, OverlayDatagram, OverlayListener, OverlayStream};
use crate::{StackHandle, TcpListener, TcpStream, UdpSocket};

impl Overlay for StackHandle {
    type Stream = TcpStream;
    type Listener = TcpListener;
    type Datagram = UdpSocket;

    fn connect(&self, to: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> + Send {
        self.tcp_connect(to)
    }

    fn listen(&self, port: u16) -> impl Future<Output = io::Result<TcpListener>> + Send {
        self.tcp_listen(port)
    }

    fn bind_udp(&self, port: u16) -> impl Future<Output = io::Result<UdpSocket>> + Send {
        self.udp_bind(port)
    }
}

impl OverlayStream for TcpStream {
    fn local_addr(&self) -> SocketAddr {
        TcpStream::local_addr(self)
    }
}

impl OverlayListener for TcpListener {
    type Stream = TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }

    fn local_port(&self) -> u16 {
        TcpListener::local_port(self)
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
        UdpSocket::local_port(self)
    }
}
