//! The local control socket `tessel.sock` (in the runtime dir, mode 0660,
//! see [`super::runtime_dir`]) and the control API it speaks
//! (`docs/control-api.md`).
//!
//! - [`api`]: version 1: one JSON request per line, one JSON answer per
//!   line; the commands, who may send each, the error codes.
//! - [`answers`]: the typed answer bodies.
//! - [`client`]: the blocking client the CLI and the embedded node use.
//! - here: the server. Each connection's first line is read (at most
//!   [`MAX_REQUEST`] bytes), admitted ([`api::admit`]: version, command,
//!   arguments, and who the caller is, from `SO_PEERCRED`), and handed to
//!   the event loop as a [`Call`]; the answer goes back as one line and the
//!   connection is closed. Refusals are answered here, without the event
//!   loop.

pub mod answers;
pub mod api;
pub mod client;

use std::io;
use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

pub use api::{ApiError, ErrorCode, Reply, Request};

/// Longest request line accepted, in bytes: a revocation list of the
/// largest size ([`crate::wire::revocations::MAX_LEN`] bytes, about 262 KiB
/// as text) fits, and so does a scope send with a credential and a payload
/// of a few KiB.
pub const MAX_REQUEST: usize = 320 * 1024;

const _: () = assert!(crate::wire::revocations::MAX_LEN * 8 / 5 + 1024 <= MAX_REQUEST);

/// An admitted request and where its answer goes.
pub(crate) struct Call {
    /// The command (the caller may send it).
    pub(crate) request: Request,
    /// Where the answer goes.
    pub(crate) reply: Replier,
}

/// The sending half for one answer.
pub(crate) struct Replier(oneshot::Sender<Reply>);

impl Replier {
    /// A replier and the receiver its answer arrives on.
    pub(crate) fn new() -> (Self, oneshot::Receiver<Reply>) {
        let (tx, rx) = oneshot::channel();
        (Self(tx), rx)
    }

    /// Answers (a client that went away is no error).
    pub(crate) fn send(self, reply: Reply) {
        let _ = self.0.send(reply);
    }

    /// Answers with `ok` and the typed `body`.
    pub(crate) fn ok<T: serde::Serialize>(self, body: &T) {
        self.send(api::reply(body));
    }

    /// Answers with an error.
    pub(crate) fn err(self, error: ApiError) {
        self.send(Err(error));
    }
}

/// Serves the bound control socket `listener` until the returned task is
/// aborted; admitted requests go to `calls`.
pub(crate) fn serve(
    listener: UnixListener,
    calls: mpsc::Sender<Call>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let calls = calls.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(stream, calls).await {
                    tracing::debug!(error = %e, "control client");
                }
            });
        }
    })
}

async fn answer(stream: UnixStream, calls: mpsc::Sender<Call>) -> io::Result<()> {
    let own = nix::unistd::geteuid().as_raw();
    let privileged = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == 0 || c.uid() == own);
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let limit = MAX_REQUEST as u64 + 1;
    let read_result = BufReader::new(read).take(limit).read_line(&mut line).await;
    let (id, reply) = match read_result {
        Ok(n) if n as u64 >= limit => (
            None,
            Some(Err(ApiError::bad_request(format!(
                "a request line is at most {MAX_REQUEST} bytes"
            )))),
        ),
        Ok(_) => match api::admit(line.trim(), privileged) {
            Ok(incoming) => (incoming.id, call(&calls, incoming.request).await),
            Err(refused) => (refused.id, Some(Err(refused.error))),
        },
        Err(e) if e.kind() == io::ErrorKind::InvalidData => (
            None,
            Some(Err(ApiError::bad_request("a request line is UTF-8 JSON"))),
        ),
        Err(e) => return Err(e),
    };
    let Some(reply) = reply else {
        // The node is stopping: close without an answer.
        return Ok(());
    };
    let mut text = api::answer_line(id.as_ref(), &reply);
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    write.shutdown().await
}

/// Hands `request` to the event loop and waits for its answer; `None` if
/// the event loop is gone.
async fn call(calls: &mpsc::Sender<Call>, request: Request) -> Option<Reply> {
    let (reply, answer) = Replier::new();
    calls.send(Call { request, reply }).await.ok()?;
    answer.await.ok()
}

/// Removes the socket file on drop.
pub(crate) struct SocketFile(pub(crate) PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
