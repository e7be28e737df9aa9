//! Streams between members for the engines: kernel TCP connections on the
//! overlay IPv6 addresses, port [`ENGINE_PORT`].
//!
//! - The listener accepts on `[::]:ENGINE_PORT`; the event loop keeps only
//!   connections made to this node's overlay address from a member's
//!   overlay address (the overlay authenticates inner source addresses, so
//!   the address names the member).
//! - Each connection has a reader task (bytes → [`Input::Bytes`], end →
//!   [`Input::Closed`]) and a writer task fed by a bounded channel; a peer
//!   that stops reading until the channel fills is disconnected rather than
//!   buffered without limit.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use tessel_actors::{ConnId, NodeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Input;

/// The TCP port engines' streams use on overlay addresses.
pub const ENGINE_PORT: u16 = 9743;

/// Writes queued for one connection before it counts as stuck.
const WRITE_QUEUE: usize = 4096;
/// How long dialing a member may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time before TCP keepalive probes (a member that vanished without
/// closing its streams is noticed).
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Read buffer per connection.
const READ_BUF: usize = 64 * 1024;

/// One open stream.
struct Conn {
    writer: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
}

/// The engine streams of this node.
pub(crate) struct Streams {
    conns: HashMap<ConnId, Conn>,
    next: u64,
    listener: Option<JoinHandle<()>>,
    tx: mpsc::Sender<Input>,
    /// Bytes read from engine streams.
    pub(crate) bytes_in: u64,
    /// Bytes handed to engine streams.
    pub(crate) bytes_out: u64,
}

impl Streams {
    /// Streams that accept on [`ENGINE_PORT`] (when `listen`) and report to `tx`.
    pub(crate) fn start(listen: bool, tx: mpsc::Sender<Input>) -> io::Result<Self> {
        let listener = if listen {
            let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, ENGINE_PORT));
            let socket = socket2::Socket::new(
                socket2::Domain::IPV6,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            socket.set_only_v6(true)?;
            socket.set_reuse_address(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            socket.listen(128)?;
            let listener = TcpListener::from_std(socket.into())?;
            let tx = tx.clone();
            Some(tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((stream, from)) => {
                            if tx.send(Input::Accepted(stream, from)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "accepting an engine stream"),
                    }
                }
            }))
        } else {
            None
        };
        Ok(Self {
            conns: HashMap::new(),
            next: 1,
            listener,
            tx,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// Whether streams are carried at all (TUN mode).
    pub(crate) fn enabled(&self) -> bool {
        self.listener.is_some()
    }

    /// Dials `peer` at its overlay address; the result comes as [`Input::Dialed`].
    pub(crate) fn dial(&self, peer: NodeId, addr: Ipv6Addr) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let to = SocketAddrV6::new(addr, ENGINE_PORT, 0, 0);
            let stream = match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(to)).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "dial timed out")),
            };
            let _ = tx.send(Input::Dialed { peer, stream }).await;
        });
    }

    /// Starts the reader and writer of a connected stream.
    pub(crate) fn adopt(&mut self, stream: TcpStream) -> ConnId {
        let conn = ConnId(self.next);
        self.next += 1;
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE)
            .with_interval(KEEPALIVE);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let (mut read, mut write) = stream.into_split();
        let (writer, mut queue) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
        tokio::spawn(async move {
            while let Some(bytes) = queue.recv().await {
                if let Err(e) = write.write_all(&bytes).await {
                    tracing::debug!(error = %e, "writing an engine stream");
                    return;
                }
            }
            let _ = write.shutdown().await;
        });
        let tx = self.tx.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; READ_BUF];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let data = buf[..n].to_vec();
                        if tx.send(Input::Bytes { conn, data }).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(Input::Closed(conn)).await;
        });
        self.conns.insert(conn, Conn { writer, reader });
        conn
    }

    /// Queues bytes on `conn`; false if the stream is gone or stuck (the
    /// caller then closes it).
    pub(crate) fn write(&mut self, conn: ConnId, bytes: Vec<u8>) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        let len = bytes.len() as u64;
        match c.writer.try_send(bytes) {
            Ok(()) => {
                self.bytes_out += len;
                true
            }
            Err(_) => false,
        }
    }

    /// Closes `conn` (its writer flushes what is queued, then shuts down).
    pub(crate) fn close(&mut self, conn: ConnId) -> bool {
        match self.conns.remove(&conn) {
            Some(c) => {
                c.reader.abort();
                true
            }
            None => false,
        }
    }

    /// Open streams.
    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        if let Some(l) = &self.listener {
            l.abort();
        }
        for c in self.conns.values() {
            c.reader.abort();
        }
    }
}
