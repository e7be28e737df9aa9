//! The task's side of an established TCP connection: moves bytes between
//! the smoltcp socket and the stream's pipes, and closes the socket.
//!
//! Each turn of the run loop calls [`Connection::service`], which
//! - moves received bytes into the inbound pipe (or discards them once the
//!   application dropped its reading half), then passes on EOF or reset;
//! - moves bytes to send from the outbound pipe into the socket, and queues
//!   FIN once the application shut down or dropped its writing half and all
//!   its bytes are in the socket;
//! - aborts the connection when the application dropped the stream and it
//!   has not closed within the linger time;
//! - reports when the socket can be freed: closed (RST sent or received) or
//!   in TIME-WAIT, with nothing left for the application. TIME-WAIT lasts
//!   only until the ACK of the peer's FIN has gone out (the ACK delay, plus a
//!   millisecond); a later duplicate FIN meets an RST, which is harmless.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, RecvError, State};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::StackConfig;
use crate::pipe::{self, TaskReader, TaskWriter};
use crate::tcp::TcpStream;

/// How long TIME-WAIT lasts beyond the ACK delay.
const TIME_WAIT_MARGIN: std::time::Duration = std::time::Duration::from_millis(1);

/// The outcome of one [`Connection::service`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Serviced {
    /// Bytes or a FIN went into the socket, or bytes came out of it: the
    /// interface should be polled again to send segments or window updates.
    pub(crate) moved: bool,
    /// The socket is closed and drained: remove it.
    pub(crate) done: bool,
}

/// One connection handed to the application.
pub(crate) struct Connection {
    handle: SocketHandle,
    /// The ephemeral port to give back when the connection ends, if we
    /// connected (accepted connections use the listener's port).
    ephemeral_port: Option<u16>,
    inbound: TaskWriter,
    outbound: TaskReader,
    fin_queued: bool,
    linger_until: Option<Instant>,
    time_wait_until: Option<Instant>,
}

impl Connection {
    /// Wraps an established socket and makes the application's stream.
    ///
    /// The socket must be synchronised (ESTABLISHED or CLOSE-WAIT), so that
    /// both its endpoints are known.
    pub(crate) fn open(
        handle: SocketHandle,
        socket: &tcp::Socket<'_>,
        ephemeral_port: Option<u16>,
        stream_buffer: usize,
        wake: &Arc<Notify>,
    ) -> (Connection, TcpStream) {
        let local = socket
            .local_endpoint()
            .expect("a synchronised socket has a local endpoint");
        let peer = socket
            .remote_endpoint()
            .expect("a synchronised socket has a remote endpoint");
        let (inbound, reader) = pipe::inbound(stream_buffer, wake.clone());
        let (writer, outbound) = pipe::outbound(stream_buffer, wake.clone());
        let stream = TcpStream::new(
            reader,
            writer,
            SocketAddr::from(local),
            SocketAddr::from(peer),
        );
        let connection = Connection {
            handle,
            ephemeral_port,
            inbound,
            outbound,
            fin_queued: false,
            linger_until: None,
            time_wait_until: None,
        };
        (connection, stream)
    }

    /// The smoltcp socket.
    pub(crate) fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The ephemeral port to release when the connection is removed.
    pub(crate) fn ephemeral_port(&self) -> Option<u16> {
        self.ephemeral_port
    }

    /// When the connection must next be serviced even if nothing happens.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match (self.linger_until, self.time_wait_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Moves bytes both ways and advances the close; see the module doc.
    pub(crate) fn service(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        now: Instant,
        config: &StackConfig,
    ) -> Serviced {
        let mut moved = self.receive(socket);
        moved |= self.send(socket);

        let user_gone = self.inbound.reader_dropped() && self.outbound.writer_dropped();
        if user_gone && self.linger_until.is_none() {
            self.linger_until = Some(now + config.close_linger);
        }
        if let Some(until) = self.linger_until {
            if now >= until && socket.is_open() {
                socket.abort();
                moved = true;
            }
        }

        // An aborted socket is CLOSED with its endpoints kept until the RST
        // has been sent; a reset one has them cleared already.
        let closed = match socket.state() {
            State::TimeWait => {
                let grace = config.ack_delay.unwrap_or_default() + TIME_WAIT_MARGIN;
                now >= *self.time_wait_until.get_or_insert(now + grace)
            }
            State::Closed => socket.remote_endpoint().is_none(),
            _ => false,
        };
        let drained = !socket.can_recv() || self.inbound.reader_dropped();
        Serviced {
            moved,
            done: closed && drained,
        }
    }

    /// Received bytes into the inbound pipe, then EOF or reset.
    fn receive(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        let mut moved = false;
        if self.inbound.reader_dropped() {
            while let Ok(n) = socket.recv(|data| (data.len(), data.len())) {
                if n == 0 {
                    break;
                }
                moved = true;
            }
        } else {
            let filled = self.inbound.fill_with(|buf| {
                socket
                    .recv(|data| {
                        let n = buf.enqueue_slice(data);
                        (n, n)
                    })
                    .unwrap_or(0)
            });
            moved = filled > 0;
        }
        if !socket.can_recv() {
            // With the buffer empty, `recv` tells how the receiving half
            // ended: FIN (`Finished`), or not at all while the socket is
            // still open, or a reset (`InvalidState` once closed).
            match socket.recv(|_| (0, ())) {
                Err(RecvError::Finished) => self.inbound.finish(),
                Err(RecvError::InvalidState) if !socket.is_open() => {
                    self.inbound.fail(io::ErrorKind::ConnectionReset);
                }
                _ => {}
            }
        }
        moved
    }

    /// Bytes to send from the outbound pipe into the socket, then FIN.
    fn send(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        let mut moved = false;
        if socket.may_send() {
            let drained = self.outbound.drain_with(|buf| {
                socket
                    .send(|space| {
                        let n = buf.dequeue_slice(space);
                        (n, n)
                    })
                    .unwrap_or(0)
            });
            moved = drained > 0;
        }
        if !self.fin_queued {
            if self.outbound.finished() {
                socket.close();
                self.fin_queued = true;
                moved = true;
            } else if !socket.is_open() {
                // Reset or timed out while the application could still write.
                self.outbound.fail(io::ErrorKind::ConnectionReset);
            }
        }
        moved
    }
}
