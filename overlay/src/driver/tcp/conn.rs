//! One TCP connection's tasks: a reader that cuts frames out of the stream
//! and hands the datagrams to the daemon's task, and a writer that frames
//! what the daemon's task queues for it.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Input;
use crate::wire::stream::{emit_header, Decoder};

/// Datagrams queued for one connection before new ones are dropped.
const SEND_QUEUE: usize = 512;
/// Bytes read from the stream at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes of frames gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// The tasks of an open connection; dropping it closes the connection.
#[derive(Debug)]
pub(super) struct ConnIo {
    /// Tells this connection from an earlier one with the same socket ID.
    pub(super) serial: u64,
    queue: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl ConnIo {
    /// Starts the tasks of `stream`, known as socket `id`.
    pub(super) fn spawn(
        id: u16,
        serial: u64,
        stream: TcpStream,
        inputs: mpsc::Sender<Input>,
    ) -> Self {
        let (rd, wr) = stream.into_split();
        let (queue, rx) = mpsc::channel(SEND_QUEUE);
        let reader = tokio::spawn(read_loop(id, serial, rd, inputs.clone()));
        let writer = tokio::spawn(write_loop(id, serial, wr, rx, inputs));
        Self {
            serial,
            queue,
            reader,
            writer,
        }
    }

    /// Queues a datagram; `false` if the queue is full (the datagram is
    /// lost, as a full socket buffer would lose it).
    pub(super) fn send(&self, datagram: &[u8]) -> bool {
        self.queue.try_send(datagram.to_vec()).is_ok()
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

async fn read_loop(id: u16, serial: u64, mut rd: OwnedReadHalf, inputs: mpsc::Sender<Input>) {
    let mut decoder = Decoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let bad_frame = 'read: loop {
        match rd.read(&mut buf).await {
            Ok(0) => break false,
            Ok(n) => decoder.push(&buf[..n]),
            Err(e) => {
                tracing::debug!(id, error = %e, "reading a TCP connection");
                break false;
            }
        }
        loop {
            let data = match decoder.next_frame() {
                Ok(Some(frame)) => frame.to_vec(),
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(id, error = %e, "bad frame on a TCP connection");
                    break 'read true;
                }
            };
            if inputs
                .send(Input::Datagram { id, serial, data })
                .await
                .is_err()
            {
                return;
            }
        }
    };
    let _ = inputs
        .send(Input::Closed {
            id,
            serial,
            bad_frame,
        })
        .await;
}

async fn write_loop(
    id: u16,
    serial: u64,
    mut wr: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
    inputs: mpsc::Sender<Input>,
) {
    let mut buf = Vec::with_capacity(WRITE_BATCH + 2 + crate::limits::MAX_DATAGRAM);
    while let Some(first) = queue.recv().await {
        buf.clear();
        frame(&mut buf, &first);
        while buf.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(d) => frame(&mut buf, &d),
                Err(_) => break,
            }
        }
        if let Err(e) = wr.write_all(&buf).await {
            tracing::debug!(id, error = %e, "writing a TCP connection");
            let _ = inputs
                .send(Input::Closed {
                    id,
                    serial,
                    bad_frame: false,
                })
                .await;
            return;
        }
    }
}

/// Appends `datagram` as a frame; a datagram no frame can carry (empty, or
/// longer than 65,535 bytes) is left out.
fn frame(buf: &mut Vec<u8>, datagram: &[u8]) {
    if emit_header(datagram.len(), buf).is_ok() {
        buf.extend_from_slice(datagram);
    }
}
