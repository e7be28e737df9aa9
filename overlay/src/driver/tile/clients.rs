//! The local tile socket (`tile.sock` in the runtime dir, mode 0660, bound
//! by [`crate::driver::runtime_dir::RuntimeDir::bind`]): programs connect and
//! speak the channel framing of [`tessel_tile_link::channel`]. This module
//! only moves whole frames between each connection and the host task; the
//! host applies them to the tile through [`tessel_tile_link::tile::Program`].

use tessel_tile_link::channel::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

use super::links::AbortOnDrop;

/// Frames that may wait for one program before it counts as not reading.
pub(super) const CLIENT_QUEUE: usize = 1024;

/// What the socket tasks tell the host task.
#[derive(Debug)]
pub(super) enum ClientEvent {
    /// A program connected; frames for it go to `tx`.
    Opened {
        /// Its number.
        id: u64,
        /// Encoded frames for it.
        tx: mpsc::Sender<Vec<u8>>,
        /// Its reader; dropping it stops reading.
        reader: AbortOnDrop,
        /// Its writer; dropping it closes the connection at once, detaching
        /// it lets it send what is queued first.
        writer: AbortOnDrop,
    },
    /// One whole frame from program `id`, length prefix included.
    Frame {
        /// The program.
        id: u64,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// Program `id` closed its connection or broke the framing.
    Closed {
        /// The program.
        id: u64,
    },
}

/// Accepts programs until the host task goes away.
pub(super) async fn serve(listener: UnixListener, events: mpsc::Sender<ClientEvent>) {
    let mut next_id = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(error = %e, "accepting a tile socket client");
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let (r, w) = stream.into_split();
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        let (go, wait) = oneshot::channel();
        let reader = AbortOnDrop::spawn(read_loop(id, r, wait, events.clone()));
        let writer = AbortOnDrop::spawn(write_loop(w, rx));
        if events
            .send(ClientEvent::Opened {
                id,
                tx,
                reader,
                writer,
            })
            .await
            .is_err()
        {
            return;
        }
        // Frames only after the host knows the program.
        let _ = go.send(());
    }
}

async fn read_loop(
    id: u64,
    mut r: OwnedReadHalf,
    go: oneshot::Receiver<()>,
    events: mpsc::Sender<ClientEvent>,
) {
    if go.await.is_err() {
        return;
    }
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    'read: loop {
        let n = match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut used = 0;
        loop {
            match Frame::decode(&buf[used..]) {
                Ok(Some((_, len))) => {
                    let bytes = buf[used..used + len].to_vec();
                    used += len;
                    if events.send(ClientEvent::Frame { id, bytes }).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(client = id, error = %e, "closing a tile socket client");
                    break 'read;
                }
            }
        }
        buf.drain(..used);
    }
    let _ = events.send(ClientEvent::Closed { id }).await;
}

async fn write_loop(mut w: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut buf = Vec::with_capacity(4096);
    while let Some(first) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&first);
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        if w.write_all(&buf).await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}
