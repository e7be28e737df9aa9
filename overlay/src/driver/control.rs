//! The local control socket (`tessel.sock` in the runtime dir, mode 0660,
//! see [`super::runtime_dir`]): one request line in, one JSON line out. Requests: `status`, `ping
//! TARGET`, `record-publish KEY TTL_S VALUE`, `record-fetch KEY`, and for a node that
//! hosts a tile `tile-status`, `tile-files`, `tile-publish PATH` (a signed
//! file the daemon reads) and `tile-announce HEX` (a service 9
//! announcement); `network-rotate GRACE_S` from root or the daemon's own
//! user only (its answer holds the new network key), and `down` (stop the
//! node) from them only too.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// Longest request line accepted (a scope send with a credential and a
/// payload of a few KiB fits).
const MAX_REQUEST: usize = 16 * 1024;

/// A request from a client, with the channel for its answer.
pub(crate) struct Request {
    /// The request line, trimmed.
    pub(crate) command: String,
    /// Where the event loop sends the answer line.
    pub(crate) reply: oneshot::Sender<String>,
    /// Whether the client is root or the daemon's own user.
    pub(crate) privileged: bool,
}

/// Serves the bound control socket `listener` until the returned task is
/// aborted; requests go to `requests`.
pub(crate) fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<Request>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, requests).await {
                    tracing::debug!(error = %e, "control client");
                }
            });
        }
    })
}

async fn answer(stream: UnixStream, requests: mpsc::Sender<Request>) -> io::Result<()> {
    let own = nix::unistd::geteuid().as_raw();
    let privileged = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == 0 || c.uid() == own);
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read)
        .take(MAX_REQUEST as u64)
        .read_line(&mut line)
        .await?;
    let (reply, answer) = oneshot::channel();
    let command = line.trim().to_string();
    let request = Request {
        command,
        reply,
        privileged,
    };
    if requests.send(request).await.is_err() {
        return Ok(());
    }
    if let Ok(mut text) = answer.await {
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
    write.shutdown().await
}

/// Sends `command` to the node whose socket is at `path`; returns its answer.
///
/// # Errors
/// Returns an error if no node is listening there.
pub fn request(path: &Path, command: &str) -> io::Result<String> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut answer = String::new();
    io::BufReader::new(stream).read_line(&mut answer)?;
    Ok(answer)
}

/// Removes the socket file on drop.
pub(crate) struct SocketFile(pub(crate) PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
