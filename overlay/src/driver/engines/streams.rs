//! Streams between members for the engines, on port [`ENGINE_PORT`] of
//! the overlay IPv6 addresses: kernel TCP connections in TUN mode, or the
//! userspace stack's TCP sockets without a TUN device ([`StreamMode`]).
//!
//! - The listener accepts on `[overlay address]:ENGINE_PORT` (kernel) or
//!   on the stack's port. The kernel listener is bound to the address
//!   before it is usable on the interface (`IPV6_FREEBIND`: members dialing
//!   as soon as their session is up are not refused) and to the TUN device
//!   (`SO_BINDTODEVICE`, where allowed: a packet for the overlay address
//!   that comes in on another interface is not accepted), so the port is
//!   not reachable from outside the overlay; the bind is retried until the
//!   device exists. The event loop keeps only connections from a member's
//!   overlay address (the overlay authenticates inner source addresses, so
//!   the address names the member).
//! - Each connection has a reader task (bytes → [`Input::Bytes`], end →
//!   [`Input::Closed`]); a kernel stream is also read by the event loop
//!   right after the overlay handed the TUN device a packet of it
//!   ([`direct`](super::direct)). The event loop writes to it directly
//!   ([`Outbox`]), so a frame is on the TUN device before the loop turns.
//!   A peer that stops reading until the queue of a waiting write fills is
//!   disconnected rather than buffered without limit.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tessel_actors::{ConnId, NodeId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::direct::{DirectRead, StreamKey};
use super::outbox::{Outbox, Returned, Sent};
use super::Input;

/// The TCP port engines' streams use on overlay addresses.
pub const ENGINE_PORT: u16 = 9743;

/// Buffers of an engine stream on the userspace stack: every session brings
/// one, mostly idle, so they are a fraction of a bulk connection's (the
/// stack's 4 MiB), yet a 256 KiB window still moves gigabits on a LAN.
const STACK_BUFFERS: tessel_stack::TcpBuffers = tessel_stack::TcpBuffers {
    tcp: 256 << 10,
    stream: 64 << 10,
};

/// A byte stream to a member (kernel or userspace TCP).
pub(crate) trait EngineStream: AsyncRead + AsyncWrite + Send + Sync + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> EngineStream for T {}

/// A stream, boxed so kernel and userspace ones go the same way.
pub(crate) type BoxedStream = Box<dyn EngineStream>;

/// A stream as a dial or the listener brings it.
pub(crate) struct NewStream {
    stream: BoxedStream,
    /// For a kernel stream, reads from the event loop.
    direct: Option<DirectRead>,
}

impl NewStream {
    /// A kernel stream, tuned.
    fn kernel(stream: TcpStream) -> Self {
        tune(&stream);
        let direct = DirectRead::of(&stream)
            .map_err(|e| tracing::debug!(error = %e, "no direct reads of an engine stream"))
            .ok();
        Self {
            stream: Box::new(stream),
            direct,
        }
    }

    /// A stream of the userspace stack.
    fn stack(stream: BoxedStream) -> Self {
        Self {
            stream,
            direct: None,
        }
    }
}

/// Which sockets carry the streams.
#[derive(Debug, Clone)]
pub enum StreamMode {
    /// Kernel TCP on the TUN device's overlay address.
    Kernel {
        /// The node's overlay address.
        own: Ipv6Addr,
        /// The TUN device's name.
        device: String,
    },
    /// The userspace stack's TCP sockets.
    Stack(tessel_stack::StackHandle),
    /// No streams: engines stay local to this node.
    Off,
}

/// Writes queued for one connection that is not taking bytes before it
/// counts as stuck.
const WRITE_QUEUE: usize = 4096;
/// How long dialing a member may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle time before TCP keepalive probes (a member that vanished without
/// closing its streams is noticed). Probes go out on the overlay: each wakes
/// both members, so with a hundred idle streams a short idle time is most of
/// what wakes a node. (Linux restarts the idle time on any segment
/// received, so of two idle ends only one probes.)
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
/// Time between unanswered probes.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Unanswered probes before the stream counts as dead: a vanished member is
/// noticed 2 minutes after it was last heard.
const KEEPALIVE_PROBES: u32 = 4;
/// Largest read buffer of a connection.
const READ_BUF: usize = 64 * 1024;
/// A connection's read buffer to begin with, and again after a short read:
/// most streams carry little, and a hundred of them should not hold 64 KiB
/// each.
const SMALL_READ_BUF: usize = 4 * 1024;
/// The first wait before binding the listener again; it doubles up to
/// [`MAX_BIND_BACKOFF`].
const MIN_BIND_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between binds.
const MAX_BIND_BACKOFF: Duration = Duration::from_secs(2);

/// The write side of a stream.
pub(crate) type StreamWriter = WriteHalf<BoxedStream>;

/// One open stream.
struct Conn {
    out: Outbox<StreamWriter>,
    reader: JoinHandle<()>,
    direct: Option<DirectRead>,
}

/// A stream's write side after a flusher, as an input of the event loop.
fn flushed(conn: u64, out: Returned<StreamWriter>) -> Input {
    Input::Flushed {
        conn: ConnId(conn),
        out,
    }
}

/// The engine streams of this node.
pub(crate) struct Streams {
    conns: HashMap<ConnId, Conn>,
    /// Kernel streams by what their packets name.
    by_key: HashMap<StreamKey, ConnId>,
    next: u64,
    listener: Option<JoinHandle<()>>,
    mode: StreamMode,
    tx: mpsc::Sender<Input>,
    /// Bytes read from engine streams.
    pub(crate) bytes_in: u64,
    /// Bytes handed to engine streams.
    pub(crate) bytes_out: u64,
}

impl Streams {
    /// Streams that accept on [`ENGINE_PORT`] as `mode` says and report to
    /// `tx` (kernel streams once [`Self::listen`] is called).
    pub(crate) fn start(mode: StreamMode, tx: mpsc::Sender<Input>) -> io::Result<Self> {
        let listener = match &mode {
            StreamMode::Off | StreamMode::Kernel { .. } => None,
            StreamMode::Stack(stack) => Some(stack_listener(stack.clone(), tx.clone())),
        };
        Ok(Self {
            conns: HashMap::new(),
            by_key: HashMap::new(),
            next: 1,
            listener,
            mode,
            tx,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// Whether streams are carried at all.
    pub(crate) fn enabled(&self) -> bool {
        !matches!(self.mode, StreamMode::Off)
    }

    /// Starts listening for kernel streams; call once the TUN device
    /// exists, so that the port is bound before any member can dial (a
    /// dial refused is not retried until a message needs the stream).
    pub(crate) fn listen(&mut self) {
        let StreamMode::Kernel { own, device } = &self.mode else {
            return;
        };
        if self.listener.is_some() {
            return;
        }
        let at = SocketAddr::V6(SocketAddrV6::new(*own, ENGINE_PORT, 0, 0));
        let bound = bind(at, device)
            .map_err(|e| tracing::warn!(%at, error = %e, "cannot listen on the engine port yet; retrying"))
            .ok();
        self.listener = Some(kernel_listener(at, device.clone(), bound, self.tx.clone()));
    }

    /// Dials `peer` at its overlay address; the result comes as [`Input::Dialed`].
    pub(crate) fn dial(&self, peer: NodeId, addr: Ipv6Addr) {
        let tx = self.tx.clone();
        let mode = self.mode.clone();
        tokio::spawn(async move {
            let to = SocketAddr::V6(SocketAddrV6::new(addr, ENGINE_PORT, 0, 0));
            let connect = async {
                match mode {
                    StreamMode::Kernel { .. } => {
                        Ok(NewStream::kernel(TcpStream::connect(to).await?))
                    }
                    StreamMode::Stack(stack) => Ok(NewStream::stack(Box::new(
                        stack.tcp_connect_with(to, STACK_BUFFERS).await?,
                    ))),
                    StreamMode::Off => Err(io::Error::other("no engine streams")),
                }
            };
            let stream = match tokio::time::timeout(DIAL_TIMEOUT, connect).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "dial timed out")),
            };
            let _ = tx.send(Input::Dialed { peer, stream }).await;
        });
    }

    /// Starts the reader and writer of a connected stream.
    pub(crate) fn adopt(&mut self, new: NewStream) -> ConnId {
        let conn = ConnId(self.next);
        self.next += 1;
        let NewStream { stream, direct } = new;
        let (mut read, write) = tokio::io::split(stream);
        let out = Outbox::new(write, WRITE_QUEUE, self.tx.clone(), flushed, conn.0);
        let tx = self.tx.clone();
        let holding = direct.as_ref().map(DirectRead::holding);
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; SMALL_READ_BUF];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let data = buf[..n].to_vec();
                        fit_read_buf(&mut buf, n);
                        if !queue(&tx, Input::Bytes { conn, data }, holding.as_deref()).await {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(Input::Closed(conn)).await;
        });
        if let Some(d) = &direct {
            self.by_key.insert(d.key(), conn);
        }
        self.conns.insert(
            conn,
            Conn {
                out,
                reader,
                direct,
            },
        );
        conn
    }

    /// Whether a kernel stream has this key.
    pub(crate) fn knows(&self, key: StreamKey) -> bool {
        self.by_key.contains_key(&key)
    }

    /// Reads into `buf` what the stream `key` holds now, unless its reader
    /// task holds bytes of its own (the caller has handled what the task
    /// queued).
    pub(crate) fn read_now(
        &mut self,
        key: StreamKey,
        buf: &mut Vec<u8>,
    ) -> Option<(ConnId, usize)> {
        let conn = *self.by_key.get(&key)?;
        let direct = self.conns.get(&conn)?.direct.as_ref()?;
        if direct.reader_holds() {
            return None;
        }
        if buf.len() < READ_BUF {
            buf.resize(READ_BUF, 0);
        }
        let n = direct.read_now(buf)?;
        self.bytes_in += n as u64;
        Some((conn, n))
    }

    /// Writes bytes on `conn` (directly, or queued behind bytes the stream
    /// has not taken yet); false if the stream is gone or stuck (the caller
    /// then closes it).
    pub(crate) fn write(&mut self, conn: ConnId, bytes: Vec<u8>) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let len = bytes.len() as u64;
        match c.out.write(bytes) {
            Sent::Done => {
                self.bytes_out += len;
                true
            }
            Sent::Full(_) | Sent::Closed => false,
        }
    }

    /// A flusher of `conn` is done: direct writes again.
    pub(crate) fn flushed(&mut self, conn: ConnId, out: Returned<StreamWriter>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.out.returned(out);
        }
    }

    /// Closes `conn` (what is queued is written first, then its write side
    /// shuts down).
    pub(crate) fn close(&mut self, conn: ConnId) -> bool {
        match self.conns.remove(&conn) {
            Some(c) => {
                c.reader.abort();
                c.out.close();
                if let Some(d) = &c.direct {
                    self.by_key.remove(&d.key());
                }
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

/// Queues an input for the event loop; while the queue is full, `holding`
/// tells the event loop that this reader holds bytes. False once the event
/// loop is gone.
async fn queue(tx: &mpsc::Sender<Input>, input: Input, holding: Option<&AtomicBool>) -> bool {
    match tx.try_send(input) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Closed(_)) => false,
        Err(mpsc::error::TrySendError::Full(input)) => {
            if let Some(h) = holding {
                h.store(true, Ordering::Release);
            }
            let sent = tx.send(input).await.is_ok();
            if let Some(h) = holding {
                h.store(false, Ordering::Release);
            }
            sent
        }
    }
}

/// Sizes a reader's buffer for the next read after one of `n` bytes: twice
/// as large (up to [`READ_BUF`]) after a read that filled it, back to
/// [`SMALL_READ_BUF`] after one that a small buffer would have held.
fn fit_read_buf(buf: &mut Vec<u8>, n: usize) {
    if n == buf.len() && buf.len() < READ_BUF {
        buf.resize((2 * buf.len()).min(READ_BUF), 0);
    } else if n <= SMALL_READ_BUF / 2 && buf.len() > SMALL_READ_BUF {
        buf.truncate(SMALL_READ_BUF);
        buf.shrink_to_fit();
    }
}

/// Kernel streams: no Nagle delay, and keepalive probes.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive);
}

/// A listening socket on `at`, bound to the interface `device` if the
/// process may.
fn bind(at: SocketAddr, device: &str) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_only_v6(true)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.set_freebind_v6(true)?;
    match socket.bind_device(Some(device.as_bytes())) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::debug!(device, "the engine port is bound to the overlay address but not to its device (no CAP_NET_RAW)");
        }
        Err(e) => return Err(e),
    }
    socket.bind(&at.into())?;
    socket.listen(128)?;
    TcpListener::from_std(socket.into())
}

/// Accepts kernel TCP on `at` (the node's overlay address on the TUN
/// device `device`) with `bound`, or binds it first, retrying.
fn kernel_listener(
    at: SocketAddr,
    device: String,
    bound: Option<TcpListener>,
    tx: mpsc::Sender<Input>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BIND_BACKOFF;
        let listener = match bound {
            Some(l) => l,
            None => loop {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BIND_BACKOFF);
                match bind(at, &device) {
                    Ok(l) => break l,
                    Err(e) => tracing::debug!(%at, error = %e, "binding the engine port"),
                }
            },
        };
        tracing::debug!(%at, "accepting engine streams");
        loop {
            match listener.accept().await {
                Ok((stream, from)) => {
                    let local = stream.local_addr().ok();
                    let stream = NewStream::kernel(stream);
                    if tx
                        .send(Input::Accepted {
                            stream,
                            from,
                            local,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "accepting an engine stream"),
            }
        }
    })
}

/// Accepts on the userspace stack's [`ENGINE_PORT`].
fn stack_listener(stack: tessel_stack::StackHandle, tx: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let listener = match stack.tcp_listen_with(ENGINE_PORT, STACK_BUFFERS).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen on the engine port of the userspace stack; engines stay local");
                return;
            }
        };
        loop {
            match listener.accept().await {
                Ok((stream, from)) => {
                    let local = Some(stream.local_addr());
                    let stream = NewStream::stack(Box::new(stream));
                    if tx
                        .send(Input::Accepted {
                            stream,
                            from,
                            local,
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accepting an engine stream");
                    return;
                }
            }
        }
    })
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_reader_waiting_on_a_full_queue_says_it_holds_bytes() {
        let (tx, mut rx) = mpsc::channel(1);
        let holding = Arc::new(AtomicBool::new(false));
        let h = holding.clone();
        let reader = tokio::spawn(async move {
            assert!(queue(&tx, Input::Closed(ConnId(1)), Some(&h)).await);
            assert!(queue(&tx, Input::Closed(ConnId(2)), Some(&h)).await);
        });
        tokio::task::yield_now().await;
        assert!(holding.load(Ordering::Acquire), "the second input waits");
        assert!(matches!(rx.recv().await, Some(Input::Closed(ConnId(1)))));
        assert!(matches!(rx.recv().await, Some(Input::Closed(ConnId(2)))));
        reader.await.unwrap();
        assert!(!holding.load(Ordering::Acquire));
    }

    #[test]
    fn a_read_buffer_grows_while_reads_fill_it_and_shrinks_after_a_short_one() {
        let mut buf = vec![0u8; SMALL_READ_BUF];
        fit_read_buf(&mut buf, SMALL_READ_BUF / 2);
        assert_eq!(
            buf.len(),
            SMALL_READ_BUF,
            "a short read keeps the small buffer"
        );
        let mut sizes = Vec::new();
        for _ in 0..6 {
            let n = buf.len();
            fit_read_buf(&mut buf, n);
            sizes.push(buf.len());
        }
        assert_eq!(sizes, [8, 16, 32, 64, 64, 64].map(|k| k * 1024));
        fit_read_buf(&mut buf, 10_000);
        assert_eq!(
            buf.len(),
            READ_BUF,
            "a read of middling size keeps the buffer"
        );
        fit_read_buf(&mut buf, 100);
        assert_eq!(buf.len(), SMALL_READ_BUF);
        assert!(buf.capacity() < READ_BUF, "the large buffer is given back");
    }
}
