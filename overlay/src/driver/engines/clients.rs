//! The local engine socket, `engines.sock`: programs on this machine run
//! engines through it.
//!
//! Framing, both ways: `len u32 big-endian ‖ JSON object of len bytes`
//! (see `docs/actors.md`, "The local engine socket"). Each connection is a
//! client; a reader task parses frames into [`ClientInput::Request`], a
//! writer task sends what the event loop queues. The engines a client
//! starts stop when it disconnects.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Input;

/// The socket's file name.
pub(crate) const SOCKET: &str = "engines.sock";
/// Longest frame accepted from a client.
pub(crate) const MAX_FRAME: usize = 2 << 20;
/// Batches queued for a client before it counts as stuck.
const CLIENT_QUEUE: usize = 1024;

/// The engine socket's path in the runtime dir `runtime_dir`
/// ([`crate::driver::runtime_dir`]).
pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET)
}

/// What a client's tasks report.
pub(crate) enum ClientInput {
    /// A client connected; frames for it go to `tx`.
    Opened {
        /// The client.
        client: u64,
        /// Its writer's queue.
        tx: mpsc::Sender<Vec<u8>>,
    },
    /// A request frame.
    Request {
        /// The client.
        client: u64,
        /// The parsed JSON, or why it did not parse.
        request: Result<Value, String>,
    },
    /// The client went away.
    Closed {
        /// The client.
        client: u64,
    },
}

/// Appends one frame holding `value` to `out`.
pub(crate) fn frame(out: &mut Vec<u8>, value: &Value) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    serde_json::to_writer(&mut *out, value).expect("serialisable");
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Serves the bound engine socket until the task is aborted.
pub(crate) fn serve(listener: UnixListener, tx: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = 1u64;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let client = next;
            next += 1;
            let (out_tx, out_rx) = mpsc::channel(CLIENT_QUEUE);
            let opened = ClientInput::Opened { client, tx: out_tx };
            if tx.send(Input::Client(opened)).await.is_err() {
                return;
            }
            tokio::spawn(run_client(client, stream, tx.clone(), out_rx));
        }
    })
}

async fn run_client(
    client: u64,
    stream: UnixStream,
    tx: mpsc::Sender<Input>,
    mut out: mpsc::Receiver<Vec<u8>>,
) {
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = out.recv().await {
            if write.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    loop {
        let mut len = [0u8; 4];
        if read.read_exact(&mut len).await.is_err() {
            break;
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            tracing::debug!(client, len, "engine client frame too long");
            break;
        }
        let mut body = vec![0u8; len];
        if read.read_exact(&mut body).await.is_err() {
            break;
        }
        let request = serde_json::from_slice(&body).map_err(|e| e.to_string());
        if tx
            .send(Input::Client(ClientInput::Request { client, request }))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = tx.send(Input::Client(ClientInput::Closed { client })).await;
    // The writer ends once the event loop drops the client's queue.
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_a_big_endian_length_then_json() {
        let mut out = Vec::new();
        frame(&mut out, &serde_json::json!({ "ok": true }));
        frame(&mut out, &serde_json::json!({ "id": 7 }));
        assert_eq!(out[..4], [0, 0, 0, 11]);
        assert_eq!(&out[4..15], br#"{"ok":true}"#);
        assert_eq!(out[15..19], [0, 0, 0, 8]);
        assert_eq!(&out[19..], br#"{"id":7}"#);
    }
}
