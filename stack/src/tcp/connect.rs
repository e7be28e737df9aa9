//! Connection attempts: a socket in SYN-SENT and the caller waiting for it.
//!
//! [`Connect::service`] settles an attempt: ESTABLISHED hands a new
//! [`Connection`] and its stream to the caller; CLOSED after an RST is
//! "connection refused"; the deadline passing aborts the socket with "timed
//! out"; a caller that stopped waiting aborts it too.
//!
//! [`Connect::fail`] settles an attempt that a Destination Unreachable
//! ended (see [`crate::unreachable`]): the caller gets "host unreachable" or
//! "connection refused", and the socket is freed at once without an RST,
//! which could not reach the host either.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::error::Error;
use crate::tcp::{Connection, TcpStream};
use crate::unreachable::Effect;

/// The reply channel of a connect command.
pub(crate) type ConnectReply = oneshot::Sender<io::Result<TcpStream>>;

/// What became of an attempt after [`Connect::service`].
pub(crate) enum Outcome {
    /// Still handshaking.
    Pending,
    /// Established: keep the connection (its stream went to the caller).
    Established(Connection),
    /// Refused by the peer: the socket is closed and may be removed.
    Refused,
    /// Given up (timed out or abandoned): the socket was aborted and must be
    /// removed once its RST is out.
    Aborted,
}

/// One connection attempt.
pub(crate) struct Connect {
    handle: SocketHandle,
    remote: SocketAddr,
    local_port: u16,
    deadline: Instant,
    timeout: Duration,
    reply: Option<ConnectReply>,
}

impl Connect {
    /// Tracks a socket on which `connect` was called.
    pub(crate) fn new(
        handle: SocketHandle,
        remote: SocketAddr,
        local_port: u16,
        now: Instant,
        timeout: Duration,
        reply: ConnectReply,
    ) -> Self {
        Self {
            handle,
            remote,
            local_port,
            deadline: now + timeout,
            timeout,
            reply: Some(reply),
        }
    }

    /// The smoltcp socket.
    pub(crate) fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The ephemeral port the attempt holds.
    pub(crate) fn local_port(&self) -> u16 {
        self.local_port
    }

    /// When the attempt times out.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Answers the caller for a Destination Unreachable from `reporter`;
    /// returns whether the attempt failed. The caller removes the socket.
    pub(crate) fn fail(&mut self, effect: Effect, reporter: IpAddr) -> bool {
        let remote = self.remote;
        let error = match effect {
            Effect::HostUnreachable => Error::HostUnreachable { remote, reporter },
            Effect::Refused => Error::ConnectionRefused { remote },
            Effect::None => return false,
        };
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(error.into()));
        }
        true
    }

    /// Settles the attempt if it can be; see the module doc.
    pub(crate) fn service(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        now: Instant,
        stream_buffer: usize,
        wake: &Arc<Notify>,
    ) -> Outcome {
        let reply = match self.reply.take() {
            Some(reply) if !reply.is_closed() => reply,
            _ => {
                socket.abort();
                return Outcome::Aborted;
            }
        };
        match socket.state() {
            State::Established | State::CloseWait => {
                let (connection, stream) = Connection::open(
                    self.handle,
                    socket,
                    Some(self.local_port),
                    stream_buffer,
                    wake,
                );
                // If the caller is gone after all, the stream is dropped
                // here and the connection closes like any dropped stream.
                let _ = reply.send(Ok(stream));
                Outcome::Established(connection)
            }
            State::Closed => {
                let _ = reply.send(Err(Error::ConnectionRefused {
                    remote: self.remote,
                }
                .into()));
                Outcome::Refused
            }
            _ if now >= self.deadline => {
                socket.abort();
                let _ = reply.send(Err(Error::ConnectTimeout {
                    remote: self.remote,
                    timeout: self.timeout,
                }
                .into()));
                Outcome::Aborted
            }
            _ => {
                self.reply = Some(reply);
                Outcome::Pending
            }
        }
    }
}
