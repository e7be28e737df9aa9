//! The local engine socket, `engines.sock`: programs on this machine run
//! engines through it.
//!
//! Framing, both ways: `len u32 big-endian ‖ body of len bytes`, bodies
//! JSON objects or, after the client's hello, binary frames (see
//! `docs/actors.md`, "The local engine socket", and
//! [`tessel_actors::local`]). Each connection is a client; a reader task
//! cuts what it sends into frames and parses them into
//! [`ClientInput::Request`]; the event loop writes to it directly
//! ([`Outbox`]). The engines a client starts stop when it disconnects.
//!
//! The socket is watched for reading only: a Unix socket signals room to
//! write each time its peer reads, and watching for that would wake the
//! daemon after every frame a client takes in. Writability is watched
//! only while a flusher waits for a client that is not reading. tokio's
//! pipe ends are its one safe way to watch a descriptor for one direction
//! only; they only `read(2)` and `write(2)` it, which a stream socket
//! answers as a pipe does, so each direction of the connection is held
//! as one.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};

use tessel_actors::local::frame::{Deframer, Encoding};
use tessel_actors::local::{json, Request};
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outbox::{DirectWrite, Outbox, Returned};
use super::requests::RequestId;
use super::Input;

/// The socket's file name.
pub(crate) const SOCKET: &str = "engines.sock";
/// Batches queued for a client that is not reading before it counts as stuck.
const CLIENT_QUEUE: usize = 1024;

/// The engine socket's path in the runtime dir `runtime_dir`
/// ([`crate::driver::runtime_dir`]).
pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET)
}

/// What a client's tasks report.
pub(crate) enum ClientInput {
    /// A client connected; the event loop writes to it through `out`.
    Opened {
        /// The client.
        client: u64,
        /// Its write side.
        out: ClientOut,
        /// The connection, to hang up on the client.
        hangup: StdUnixStream,
    },
    /// A request frame.
    Request {
        /// The client.
        client: u64,
        /// What the answer repeats.
        id: RequestId,
        /// The request, or why it cannot be read.
        request: Result<Request, String>,
    },
    /// A flusher wrote everything queued for the client and hands its
    /// socket back.
    Flushed {
        /// The client.
        client: u64,
        /// The socket and what queued since.
        out: Returned<ClientWriter>,
    },
    /// The client went away.
    Closed {
        /// The client.
        client: u64,
    },
}

/// The write side of a client's connection.
pub(crate) type ClientOut = Outbox<ClientWriter>;

/// A client's socket for writing (a second descriptor of the connection),
/// registered with the runtime only while a flusher waits on it.
pub(crate) struct ClientWriter {
    idle: Option<StdUnixStream>,
    watched: Option<pipe::Sender>,
}

impl ClientWriter {
    fn new(stream: StdUnixStream) -> Self {
        Self {
            idle: Some(stream),
            watched: None,
        }
    }
}

impl DirectWrite for ClientWriter {
    fn try_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match (&self.idle, &self.watched) {
            (Some(s), _) => {
                let mut s: &StdUnixStream = s;
                s.write(buf)
            }
            (None, Some(w)) => w.try_write(buf),
            (None, None) => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    async fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(s) = self.idle.take() {
            self.watched = Some(pipe::Sender::from_owned_fd_unchecked(OwnedFd::from(s))?);
        }
        let w = self.watched.as_ref().ok_or(io::ErrorKind::NotConnected)?;
        loop {
            w.writable().await?;
            match w.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r,
            }
        }
    }

    fn settle(&mut self) {
        if let Some(w) = self.watched.take() {
            match w.into_nonblocking_fd() {
                Ok(fd) => self.idle = Some(StdUnixStream::from(fd)),
                Err(e) => tracing::debug!(error = %e, "releasing an engine client's socket"),
            }
        }
    }

    /// Nothing: the host hangs up on a client through its own descriptor
    /// of the connection ([`ClientInput::Opened`]).
    async fn shutdown(&mut self) {}
}

/// The client's output after a flusher, as an input of the event loop.
fn flushed(client: u64, out: Returned<ClientWriter>) -> Input {
    Input::Client(ClientInput::Flushed { client, out })
}

/// Reads a frame body in `encoding`: the id its answer repeats, and the
/// request or why it cannot be read.
fn parse(encoding: Encoding, body: &[u8]) -> (RequestId, Result<Request, String>) {
    match encoding {
        Encoding::Json => {
            let (id, request) = json::parse(body);
            (RequestId::Json(id), request)
        }
        Encoding::Binary => match Request::parse(body) {
            Ok((id, request)) => (RequestId::Binary(id), Ok(request)),
            Err(e) => (
                RequestId::Binary(Request::id_of(body).unwrap_or(0)),
                Err(format!("bad frame: {e}")),
            ),
        },
    }
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
            let halves = stream.into_std().and_then(|s| {
                let w = s.try_clone()?;
                let hangup = s.try_clone()?;
                let r = pipe::Receiver::from_owned_fd_unchecked(OwnedFd::from(s))?;
                Ok((r, w, hangup))
            });
            let (read, write, hangup) = match halves {
                Ok(h) => h,
                Err(e) => {
                    tracing::debug!(error = %e, "setting up an engine client");
                    continue;
                }
            };
            let out = Outbox::new(
                ClientWriter::new(write),
                CLIENT_QUEUE,
                tx.clone(),
                flushed,
                client,
            );
            let opened = ClientInput::Opened {
                client,
                out,
                hangup,
            };
            if tx.send(Input::Client(opened)).await.is_err() {
                return;
            }
            tokio::spawn(read_requests(client, read, tx.clone()));
        }
    })
}

/// Reads a client's frames until it closes or sends a bad one.
async fn read_requests(client: u64, mut read: pipe::Receiver, tx: mpsc::Sender<Input>) {
    let mut frames = Deframer::new();
    'read: loop {
        loop {
            let encoding = frames.encoding().unwrap_or(Encoding::Json);
            let (id, request) = match frames.next_frame() {
                Ok(Some(body)) => parse(encoding, body),
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(client, error = %e, "engine client frame");
                    break 'read;
                }
            };
            let input = Input::Client(ClientInput::Request {
                client,
                id,
                request,
            });
            if tx.send(input).await.is_err() {
                break 'read;
            }
        }
        match read.read(frames.space()).await {
            Ok(0) | Err(_) => break,
            Ok(n) => frames.filled(n),
        }
    }
    let _ = tx.send(Input::Client(ClientInput::Closed { client })).await;
}
