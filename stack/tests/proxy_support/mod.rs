//! Shared by the proxy tests: a "loopback overlay" (the proxies' [`Overlay`]
//! over plain tokio sockets on 127.0.0.1 and ::1), echo servers, and bounded
//! waits.
//!
//! The loopback overlay's `connect` treats two documentation ranges
//! specially, to stand for peers that cannot be reached: addresses in
//! 192.0.2.0/24 never answer (the connection attempt never completes) and
//! addresses in 198.51.100.0/24 are "host unreachable". Its `listen` binds
//! 127.0.0.1; its UDP sockets have an IPv4 side on 127.0.0.1 and an IPv6 side
//! on ::1, so they reach both.

#![allow(dead_code, unreachable_pub)]

use std::{
    future::{poll_fn, Future},
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    task::Poll,
    time::Duration,
};

use tessel_stack::proxy::{Overlay, OverlayDatagram};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream, UdpSocket},
};

/// The overlay, made of plain sockets on the loopback interface.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loopback;

/// A peer that never answers.
pub fn blackhole(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), port)
}

/// A peer that is "host unreachable".
pub fn host_unreachable(port: u16) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::new(198, 51, 100, 1).into(), port)
}

impl Overlay for Loopback {
    type Stream = TcpStream;
    type Listener = TcpListener;
    type Datagram = LoopDatagram;

    async fn connect(&self, to: SocketAddr) -> io::Result<TcpStream> {
        match to.ip() {
            IpAddr::V4(ip) if ip.octets()[..3] == [192, 0, 2] => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            IpAddr::V4(ip) if ip.octets()[..3] == [198, 51, 100] => {
                Err(io::ErrorKind::HostUnreachable.into())
            }
            _ => TcpStream::connect(to).await,
        }
    }

    async fn listen(&self, port: u16) -> io::Result<TcpListener> {
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await
    }

    async fn bind_udp(&self, port: u16) -> io::Result<LoopDatagram> {
        Ok(LoopDatagram {
            v4: UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).await?,
            v6: UdpSocket::bind((Ipv6Addr::LOCALHOST, port)).await?,
        })
    }
}

/// A UDP socket of the loopback overlay: one socket per address family.
#[derive(Debug)]
pub struct LoopDatagram {
    v4: UdpSocket,
    v6: UdpSocket,
}

impl OverlayDatagram for LoopDatagram {
    async fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        match to {
            SocketAddr::V4(_) => self.v4.send_to(buf, to).await,
            SocketAddr::V6(_) => self.v6.send_to(buf, to).await,
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            for socket in [&self.v4, &self.v6] {
                let mut rb = ReadBuf::new(buf);
                if let Poll::Ready(r) = socket.poll_recv_from(cx, &mut rb) {
                    return Poll::Ready(r.map(|from| (rb.filled().len(), from)));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// The IPv4 side's port (with port 0, the IPv6 side's may differ).
    fn local_port(&self) -> u16 {
        self.v4.local_addr().unwrap().port()
    }
}

/// How long any single step of a test may take before it fails.
pub const STEP: Duration = Duration::from_secs(5);

/// Awaits `f`, failing the test if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// A TCP server on `addr` that echoes each connection until its end of
/// stream, then closes. Returns its address.
pub async fn echo_tcp(addr: &str) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    local
}

/// A UDP server on `addr` that sends each datagram back, prefixed with the
/// sender's address and `|` (so a test sees which source the server saw).
/// Returns its address.
pub async fn echo_udp(addr: &str) -> SocketAddr {
    let socket = UdpSocket::bind(addr).await.unwrap();
    let local = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let mut reply = format!("{from}|").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from).await;
        }
    });
    local
}

/// Splits an [`echo_udp`] reply into the source the server saw and the data.
pub fn split_echo(reply: &[u8]) -> (SocketAddr, &[u8]) {
    let bar = reply.iter().position(|&b| b == b'|').expect("echo reply");
    let from = std::str::from_utf8(&reply[..bar]).unwrap().parse().unwrap();
    (from, &reply[bar + 1..])
}

/// A TCP port on 127.0.0.1 with nothing listening.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// Reads until end of stream (a reset counts as the end) and returns what
/// came; fails the test if the stream stays open longer than `limit`.
pub async fn read_to_close<R: AsyncRead + Unpin>(r: &mut R, limit: Duration) -> Vec<u8> {
    within(limit, "waiting for the connection to close", async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf).await {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return got
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    })
    .await
}

/// Spawns `f` and returns a guard that aborts it when dropped.
pub fn spawn_guarded<F>(f: F) -> AbortOnDrop
where
    F: Future<Output = ()> + Send + 'static,
{
    AbortOnDrop(tokio::spawn(f))
}

/// Aborts its task when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
