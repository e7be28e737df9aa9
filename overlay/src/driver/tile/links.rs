//! The intertile links: one kernel TCP connection per configured direction,
//! between the two nodes' overlay IPv6 addresses on [`TILE_PORT`].
//!
//! The node with the lower node ID dials ([`dial`]); the other accepts
//! ([`accept`]) and tells which neighbour connected by the connection's
//! overlay source address (the overlay authenticates source addresses, so
//! only that neighbour can use it). Each connection gets a reader and a
//! writer task ([`Conn`]); they report to the host task, which owns all
//! state. A direction is present while its connection is up.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use tessel_tile_link::Dir;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::stream::{self, KEEPALIVE, KEEPALIVE_FRAME, LINK_TIMEOUT};

/// The TCP port of intertile links, on overlay IPv6 addresses only.
pub const TILE_PORT: u16 = 9742;

/// Packets a link's writer holds: the free space the tile sees.
pub(super) const LINK_QUEUE: usize = 32;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The first wait before dialling again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What the link tasks tell the host task.
#[derive(Debug)]
pub(super) enum LinkEvent {
    /// A connection to the neighbour in `dir` is up. `closed` (dialled
    /// connections) is dropped when the host lets go of the connection, so
    /// the dialler knows to dial again.
    Up {
        /// The direction.
        dir: Dir,
        /// The connection.
        stream: TcpStream,
        /// The dialler's wake-up.
        closed: Option<oneshot::Sender<()>>,
    },
    /// A packet arrived on connection `gen` of `dir`.
    Packet {
        /// The direction.
        dir: Dir,
        /// Which connection.
        gen: u64,
        /// The packet.
        packet: Vec<u8>,
    },
    /// A writer emptied its queue: there is link credit again.
    Room,
    /// Connection `gen` of `dir` ended.
    Down {
        /// The direction.
        dir: Dir,
        /// Which connection.
        gen: u64,
        /// Why.
        reason: String,
    },
}

/// Aborts a task when dropped, unless detached first.
#[derive(Debug)]
pub(super) struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    /// Spawns `task`, to be aborted when this is dropped.
    pub(super) fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self(Some(tokio::spawn(task)))
    }

    /// Lets the task run to its end.
    pub(super) fn detach(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

/// One live connection, as the host task holds it. Dropping it closes the
/// connection.
#[derive(Debug)]
pub(super) struct Conn {
    /// Which connection of its direction this is.
    pub(super) gen: u64,
    /// Packets for the writer; its free capacity is the link's credit.
    pub(super) tx: mpsc::Sender<Vec<u8>>,
    _reader: AbortOnDrop,
    _writer: AbortOnDrop,
    _closed: Option<oneshot::Sender<()>>,
}

impl Conn {
    /// Starts the reader and writer of `stream`.
    pub(super) fn start(
        dir: Dir,
        gen: u64,
        stream: TcpStream,
        closed: Option<oneshot::Sender<()>>,
        events: &mpsc::Sender<LinkEvent>,
    ) -> Self {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let (tx, rx) = mpsc::channel(LINK_QUEUE);
        Self {
            gen,
            tx,
            _reader: AbortOnDrop::spawn(read_loop(dir, gen, r, events.clone())),
            _writer: AbortOnDrop::spawn(write_loop(dir, gen, w, rx, events.clone())),
            _closed: closed,
        }
    }
}

async fn read_loop(dir: Dir, gen: u64, r: OwnedReadHalf, events: mpsc::Sender<LinkEvent>) {
    let mut r = BufReader::new(r);
    let reason = loop {
        match tokio::time::timeout(LINK_TIMEOUT, stream::read_frame(&mut r)).await {
            Err(_) => break format!("nothing heard for {LINK_TIMEOUT:?}"),
            Ok(Err(e)) => break e.to_string(),
            Ok(Ok(None)) => {}
            Ok(Ok(Some(packet))) => {
                if events
                    .send(LinkEvent::Packet { dir, gen, packet })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    };
    let _ = events.send(LinkEvent::Down { dir, gen, reason }).await;
}

async fn write_loop(
    dir: Dir,
    gen: u64,
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<LinkEvent>,
) {
    let mut buf = Vec::with_capacity(4096);
    let reason = loop {
        buf.clear();
        let packets = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
            Err(_) => {
                buf.extend_from_slice(&KEEPALIVE_FRAME);
                false
            }
            // The host let go of the connection.
            Ok(None) => return,
            Ok(Some(p)) => {
                stream::encode(&p, &mut buf);
                while let Ok(p) = rx.try_recv() {
                    stream::encode(&p, &mut buf);
                }
                true
            }
        };
        if let Err(e) = w.write_all(&buf).await {
            break e.to_string();
        }
        // A full event queue means the host is busy and flushes after each
        // event anyway.
        if packets {
            let _ = events.try_send(LinkEvent::Room);
        }
    };
    let _ = events.send(LinkEvent::Down { dir, gen, reason }).await;
}

/// Dials the neighbour in `dir` at `addr` until the host task goes away:
/// with backoff while it fails, and again after the host drops a
/// connection.
pub(super) async fn dial(dir: Dir, addr: Ipv6Addr, events: mpsc::Sender<LinkEvent>) {
    let to = SocketAddr::V6(SocketAddrV6::new(addr, TILE_PORT, 0, 0));
    let mut backoff = MIN_BACKOFF;
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
            Ok(Ok(stream)) => {
                tracing::debug!(%dir, %to, "intertile link dialled");
                let (closed, gone) = oneshot::channel();
                let up = LinkEvent::Up {
                    dir,
                    stream,
                    closed: Some(closed),
                };
                if events.send(up).await.is_err() {
                    return;
                }
                let _ = gone.await;
                backoff = MIN_BACKOFF;
            }
            Ok(Err(e)) => tracing::trace!(%dir, %to, error = %e, "dialling the neighbour"),
            Err(_) => tracing::trace!(%dir, %to, "dialling the neighbour timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Accepts links on `[own]:TILE_PORT` from the neighbours in `from` (the
/// ones with lower node IDs, which dial), refusing any other source.
pub(super) async fn accept(
    own: Ipv6Addr,
    from: Vec<(Dir, Ipv6Addr)>,
    events: mpsc::Sender<LinkEvent>,
) {
    let at = SocketAddr::V6(SocketAddrV6::new(own, TILE_PORT, 0, 0));
    let mut backoff = MIN_BACKOFF;
    // The overlay address may still be settling on the interface.
    let listener = loop {
        match TcpListener::bind(at).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::debug!(%at, error = %e, "binding the intertile port; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    tracing::debug!(%at, "accepting intertile links");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "accepting an intertile link");
                tokio::time::sleep(MIN_BACKOFF).await;
                continue;
            }
        };
        let ip = match peer.ip() {
            std::net::IpAddr::V6(ip) => ip,
            std::net::IpAddr::V4(_) => continue,
        };
        let Some(&(dir, _)) = from.iter().find(|(_, a)| *a == ip) else {
            tracing::debug!(%peer, "refused an intertile link from a node that is not a dialling neighbour");
            continue;
        };
        tracing::debug!(%dir, %peer, "intertile link accepted");
        let up = LinkEvent::Up {
            dir,
            stream,
            closed: None,
        };
        if events.send(up).await.is_err() {
            return;
        }
    }
}
