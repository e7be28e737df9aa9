//! The task's TCP bookkeeping: connections, attempts, listeners, sockets
//! being aborted, and TCP ports.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use crate::config::{StackConfig, TcpBuffers};
use crate::error::Error;
use crate::ports::Ports;
use crate::stats::DropReason;
use crate::tcp::connect::{Connect, Outcome};
use crate::tcp::listener::Status;
use crate::tcp::{
    add_socket, remove_socket, ConnectReply, Connection, Listener, SocketMemory, TcpListener,
};
use crate::unreachable::{Quoted, Unreachable};

/// The reply channel of a listen command.
pub(crate) type ListenReply = oneshot::Sender<io::Result<TcpListener>>;

/// Every TCP socket the task holds, by role.
pub(crate) struct Table {
    connections: Vec<Connection>,
    connects: Vec<Connect>,
    listeners: HashMap<u16, Listener>,
    /// Aborted sockets, removed once their RST is out, with the ephemeral
    /// port to release then.
    dying: Vec<(SocketHandle, Option<u16>)>,
    ports: Ports,
    memory: SocketMemory,
}

impl Table {
    /// No sockets; ephemeral ports start at a point picked from `seed`;
    /// socket buffers within `memory_limit` bytes.
    pub(crate) fn new(seed: u64, memory_limit: usize) -> Self {
        Self {
            connections: Vec::new(),
            connects: Vec::new(),
            listeners: HashMap::new(),
            dying: Vec::new(),
            ports: Ports::new(seed),
            memory: SocketMemory::new(memory_limit),
        }
    }

    /// Bytes of socket buffers held now.
    pub(crate) fn memory_used(&self) -> usize {
        self.memory.used()
    }

    /// Sockets connecting, connected or closing.
    pub(crate) fn connection_count(&self) -> usize {
        self.connections.len() + self.connects.len() + self.dying.len()
    }

    /// Sockets held by listeners.
    pub(crate) fn listening_count(&self) -> usize {
        self.listeners.values().map(Listener::socket_count).sum()
    }

    /// Starts a connection attempt; the reply comes from [`Self::service`].
    pub(crate) fn connect(
        &mut self,
        iface: &mut Interface,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        now: Instant,
        remote: SocketAddr,
        reply: ConnectReply,
    ) {
        if self.memory.buffers(config).is_none() {
            let limit = config.memory_limit;
            let _ = reply.send(Err(Error::OutOfSocketMemory { limit }.into()));
            return;
        }
        let Some(port) = self.ports.claim_ephemeral() else {
            let _ = reply.send(Err(Error::NoFreePort.into()));
            return;
        };
        let added = add_socket(sockets, &mut self.memory, config, |socket| {
            socket.connect(iface.context(), remote, port).is_ok()
        });
        let Some(handle) = added else {
            self.ports.release(port);
            let _ = reply.send(Err(Error::InvalidDestination { addr: remote.ip() }.into()));
            return;
        };
        self.connects.push(Connect::new(
            handle,
            remote,
            port,
            now,
            config.connect_timeout,
            reply,
        ));
    }

    /// Starts listening on `port`.
    pub(crate) fn listen(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        wake: &Arc<Notify>,
        port: u16,
        buffers: Option<TcpBuffers>,
        reply: ListenReply,
    ) {
        if port == 0 {
            let _ = reply.send(Err(Error::ZeroPort.into()));
            return;
        }
        if !self.ports.claim(port) {
            let _ = reply.send(Err(Error::PortInUse { port }.into()));
            return;
        }
        let (listener, user) =
            Listener::open(port, buffers, sockets, &mut self.memory, config, wake);
        self.listeners.insert(port, listener);
        // If the caller is gone, the listener is dropped here and closed on
        // the next service.
        let _ = reply.send(Ok(user));
    }

    /// Whether a SYN from `source` for `port` may reach smoltcp; see
    /// [`Listener::admit_syn`]. SYNs for ports nobody listens on pass, and
    /// smoltcp answers them RST.
    pub(crate) fn admit_syn(
        &mut self,
        port: u16,
        source: IpAddr,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
    ) -> Result<(), DropReason> {
        match self.listeners.get_mut(&port) {
            Some(listener) => listener.admit_syn(sockets, &mut self.memory, config, source),
            None => Ok(()),
        }
    }

    /// Acts on a valid Destination Unreachable: fails the attempt whose
    /// socket is still in SYN-SENT between the quoted endpoints and frees
    /// its socket and port; returns whether one failed. Anything else (an
    /// established connection, an attempt already answered, a quoted UDP
    /// datagram or ping, "fragmentation needed") is left alone.
    pub(crate) fn unreachable(
        &mut self,
        sockets: &mut SocketSet<'static>,
        report: &Unreachable,
    ) -> bool {
        let Quoted::Tcp { local, remote } = report.quoted else {
            return false;
        };
        let connecting = self.connects.iter().position(|attempt| {
            let socket = sockets.get::<tcp::Socket>(attempt.handle());
            socket.state() == State::SynSent
                && socket.local_endpoint().map(SocketAddr::from) == Some(local)
                && socket.remote_endpoint().map(SocketAddr::from) == Some(remote)
        });
        let Some(index) = connecting else {
            return false;
        };
        if !self.connects[index].fail(report.effect, report.reporter) {
            return false;
        }
        let attempt = self.connects.swap_remove(index);
        remove_socket(sockets, &mut self.memory, attempt.handle());
        self.ports.release(attempt.local_port());
        true
    }

    /// Call after each poll of the interface: SYN counting starts afresh.
    pub(crate) fn end_turn(&mut self) {
        for listener in self.listeners.values_mut() {
            listener.end_turn();
        }
        self.memory.end_turn();
    }

    /// When a connection attempt times out or a dropped stream must be
    /// aborted, whichever is first.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let attempts = self.connects.iter().map(Connect::deadline);
        let lingers = self.connections.iter().filter_map(Connection::deadline);
        attempts.chain(lingers).min()
    }

    /// Services every socket. Returns whether the interface should be polled
    /// again because bytes, FINs or RSTs were queued or buffers drained.
    pub(crate) fn service(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        wake: &Arc<Notify>,
        now: Instant,
    ) -> bool {
        let mut moved = self.service_connects(sockets, config, wake, now);
        self.service_listeners(sockets, config, wake);

        let mut index = 0;
        while index < self.connections.len() {
            let connection = &mut self.connections[index];
            let handle = connection.handle();
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            let serviced = connection.service(socket, now, config);
            moved |= serviced.moved;
            if serviced.done {
                remove_socket(sockets, &mut self.memory, handle);
                if let Some(port) = connection.ephemeral_port() {
                    self.ports.release(port);
                }
                self.connections.swap_remove(index);
            } else {
                index += 1;
            }
        }

        let (ports, memory) = (&mut self.ports, &mut self.memory);
        self.dying.retain(|&(handle, port)| {
            let socket = sockets.get::<tcp::Socket>(handle);
            let reset_sent = !socket.is_open() && socket.remote_endpoint().is_none();
            if reset_sent {
                remove_socket(sockets, memory, handle);
                if let Some(port) = port {
                    ports.release(port);
                }
            }
            !reset_sent
        });
        moved || !self.dying.is_empty()
    }

    fn service_connects(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        wake: &Arc<Notify>,
        now: Instant,
    ) -> bool {
        let mut moved = false;
        let mut index = 0;
        while index < self.connects.len() {
            let attempt = &mut self.connects[index];
            let handle = attempt.handle();
            let port = attempt.local_port();
            let socket = sockets.get_mut::<tcp::Socket>(handle);
            let stream_buffer = self.memory.stream_buffer(handle);
            let stream_buffer = stream_buffer.unwrap_or(config.stream_buffer);
            match attempt.service(socket, now, stream_buffer, wake) {
                Outcome::Pending => {
                    index += 1;
                    continue;
                }
                Outcome::Established(connection) => self.connections.push(connection),
                Outcome::Refused => {
                    remove_socket(sockets, &mut self.memory, handle);
                    self.ports.release(port);
                }
                Outcome::Aborted => self.dying.push((handle, Some(port))),
            }
            moved = true;
            self.connects.swap_remove(index);
        }
        moved
    }

    fn service_listeners(
        &mut self,
        sockets: &mut SocketSet<'static>,
        config: &StackConfig,
        wake: &Arc<Notify>,
    ) {
        let mut dropped = Vec::new();
        for (&port, listener) in &mut self.listeners {
            let status = listener.service(
                sockets,
                &mut self.memory,
                config,
                wake,
                &mut self.connections,
            );
            if status == Status::Dropped {
                dropped.push(port);
            }
        }
        for port in dropped {
            if let Some(listener) = self.listeners.remove(&port) {
                let aborted = listener.close(sockets, &mut self.memory);
                self.dying
                    .extend(aborted.into_iter().map(|handle| (handle, None)));
                self.ports.release(port);
            }
        }
    }
}
