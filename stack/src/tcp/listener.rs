//! Listening: [`TcpListener`] for the application, [`Listener`] for the task.
//!
//! A smoltcp socket in LISTEN takes one connection and has no backlog. A
//! [`Listener`] therefore holds a set of sockets on its port: a few idle in
//! LISTEN, plus those handshaking or established and waiting for a place in
//! the accept queue. The run loop shows it every SYN for its port before
//! smoltcp sees it ([`Listener::admit_syn`]), so that a LISTEN socket is
//! ready for each SYN of a burst, up to the backlog; a SYN beyond the backlog
//! is dropped, and the client retries as it would with a kernel's full SYN
//! queue. So is a SYN from a peer that holds its share of the memory budget,
//! or one that finds the budget full ([`SocketMemory`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::config::{StackConfig, TcpBuffers};
use crate::error::Error;
use crate::limits;
use crate::stats::DropReason;
use crate::tcp::{add_socket, remove_socket, Connection, SocketMemory, TcpStream};

/// A connection accepted by the task, queued for [`TcpListener::accept`].
type Accepted = (TcpStream, SocketAddr);

/// Accepts TCP connections on one port of both overlay addresses. Made by
/// [`crate::StackHandle::tcp_listen`]; dropping it stops listening and
/// resets connections not yet accepted.
pub struct TcpListener {
    port: u16,
    accepted: Mutex<mpsc::Receiver<Accepted>>,
    wake: Arc<Notify>,
}

impl TcpListener {
    /// Waits for the next connection; returns it with the peer's address.
    ///
    /// # Errors
    ///
    /// [`Error::StackStopped`] if the stack task ended.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let next = self.accepted.lock().await.recv().await;
        // A place in the accept queue is free: established connections may
        // be waiting for it.
        self.wake.notify_one();
        next.ok_or_else(|| Error::StackStopped.into())
    }

    /// The port listened on.
    pub fn local_port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        // Closed before the task is told, so that it sees the listener gone.
        self.accepted.get_mut().close();
        self.wake.notify_one();
    }
}

/// SYNs admitted during the current turn of the run loop.
#[derive(Debug, Clone, Copy)]
struct Turn {
    idle: usize,
    pending: usize,
    admitted: usize,
}

/// The task's side of a listener.
pub(crate) struct Listener {
    port: u16,
    /// Sockets in LISTEN, handshaking, or established and not yet queued.
    sockets: Vec<SocketHandle>,
    accepted: mpsc::Sender<Accepted>,
    backlog: usize,
    turn: Option<Turn>,
    /// Buffer sizes of its sockets, if not the stack's.
    buffers: Option<TcpBuffers>,
}

/// What [`Listener::service`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Listening.
    Open,
    /// The application dropped the [`TcpListener`]: call [`Listener::close`].
    Dropped,
}

impl Listener {
    /// Starts listening on `port` and makes the application's listener.
    pub(crate) fn open(
        port: u16,
        buffers: Option<TcpBuffers>,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
        config: &StackConfig,
        wake: &Arc<Notify>,
    ) -> (Listener, TcpListener) {
        let (tx, rx) = mpsc::channel(config.listen_backlog);
        let mut listener = Listener {
            port,
            sockets: Vec::new(),
            accepted: tx,
            backlog: config.listen_backlog,
            turn: None,
            buffers,
        };
        listener.keep_idle(sockets, memory, &config.with_buffers(buffers));
        let user = TcpListener {
            port,
            accepted: Mutex::new(rx),
            wake: wake.clone(),
        };
        (listener, user)
    }

    /// Sockets held, in any state.
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// Decides whether a SYN from `source` for our port may reach smoltcp,
    /// making sure a LISTEN socket is there for it; if not, says why.
    pub(crate) fn admit_syn(
        &mut self,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
        config: &StackConfig,
        source: IpAddr,
    ) -> Result<(), DropReason> {
        let config = &config.with_buffers(self.buffers);
        if !memory.admits(source) {
            return Err(DropReason::Memory);
        }
        // What the socket this SYN reaches will cost its peer.
        let cost = memory.buffers(config).map_or(0, |b| b.cost());
        let turn = match self.turn {
            Some(turn) => turn,
            None => Turn {
                idle: self.idle(sockets),
                pending: self.pending(sockets),
                admitted: 0,
            },
        };
        let mut turn = turn;
        if turn.pending + turn.admitted >= self.backlog {
            self.turn = Some(turn);
            return Err(DropReason::Backlog);
        }
        if turn.admitted >= turn.idle {
            if !self.add_socket(sockets, memory, config) {
                self.turn = Some(turn);
                return Err(DropReason::Memory);
            }
            turn.idle += 1;
        }
        turn.admitted += 1;
        self.turn = Some(turn);
        memory.reserve(source, cost);
        Ok(())
    }

    /// Forgets the SYNs counted since the last poll of the interface.
    pub(crate) fn end_turn(&mut self) {
        self.turn = None;
    }

    /// Queues established connections for `accept`, drops dead sockets and
    /// keeps idle ones listening.
    pub(crate) fn service(
        &mut self,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
        config: &StackConfig,
        wake: &Arc<Notify>,
        connections: &mut Vec<Connection>,
    ) -> Status {
        let config = &config.with_buffers(self.buffers);
        if self.accepted.is_closed() {
            return Status::Dropped;
        }
        let mut index = 0;
        while index < self.sockets.len() {
            let handle = self.sockets[index];
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if let Some(remote) = socket.remote_endpoint() {
                memory.assign(handle, remote.addr.into());
            }
            match socket.state() {
                State::Established | State::CloseWait => match self.accepted.try_reserve() {
                    Ok(permit) => {
                        socket.set_timeout(None);
                        let stream_buffer = memory.stream_buffer(handle);
                        let stream_buffer = stream_buffer.unwrap_or(config.stream_buffer);
                        let (connection, stream) =
                            Connection::open(handle, socket, None, stream_buffer, wake);
                        let peer = stream.peer_addr();
                        permit.send((stream, peer));
                        connections.push(connection);
                        self.sockets.swap_remove(index);
                        continue;
                    }
                    Err(TrySendError::Full(())) => {}
                    Err(TrySendError::Closed(())) => return Status::Dropped,
                },
                State::Closed if socket.remote_endpoint().is_none() => {
                    remove_socket(sockets, memory, handle);
                    self.sockets.swap_remove(index);
                    continue;
                }
                _ => {}
            }
            index += 1;
        }
        self.keep_idle(sockets, memory, config);
        Status::Open
    }

    /// Stops listening: removes LISTEN sockets and aborts the others, whose
    /// handles are returned so that they are removed once their RST is out.
    pub(crate) fn close(
        self,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
    ) -> Vec<SocketHandle> {
        let mut aborted = Vec::new();
        for handle in self.sockets {
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            if socket.is_listening() || !socket.is_open() {
                remove_socket(sockets, memory, handle);
            } else {
                socket.abort();
                aborted.push(handle);
            }
        }
        aborted
    }

    fn keep_idle(
        &mut self,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
        config: &StackConfig,
    ) {
        let want = limits::IDLE_LISTEN_SOCKETS.min(self.backlog);
        for _ in self.idle(sockets)..want {
            if !self.add_socket(sockets, memory, config) {
                break;
            }
        }
    }

    /// Adds a LISTEN socket; false if the memory budget has no room.
    fn add_socket(
        &mut self,
        sockets: &mut SocketSet<'static>,
        memory: &mut SocketMemory,
        config: &StackConfig,
    ) -> bool {
        let port = self.port;
        let added = add_socket(sockets, memory, config, |socket| {
            // A handshake that stalls gives its socket back.
            socket.set_timeout(Some(config.connect_timeout.into()));
            socket.listen(port).is_ok()
        });
        match added {
            Some(handle) => {
                self.sockets.push(handle);
                true
            }
            None => false,
        }
    }

    fn idle(&self, sockets: &SocketSet<'static>) -> usize {
        self.sockets
            .iter()
            .filter(|&&handle| sockets.get::<tcp::Socket>(handle).is_listening())
            .count()
    }

    /// Connections held that the application has not accepted yet.
    fn pending(&self, sockets: &SocketSet<'static>) -> usize {
        let queued = self.accepted.max_capacity() - self.accepted.capacity();
        self.sockets.len() - self.idle(sockets) + queued
    }
}
