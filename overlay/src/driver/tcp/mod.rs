//! The TCP transport: datagrams over TCP connections, for members behind
//! firewalls that drop UDP. Each datagram travels as one frame (a 2-byte
//! length, then the bytes: [`crate::wire::stream`]); the node sees each
//! connection as one more socket, with an ID from
//! [`crate::node::STREAM_IDS_FROM`] (`Node::attach_stream`,
//! `Node::handle_extra_datagram`, `Node::detach_stream`).
//!
//! Message flow:
//! - the listener task accepts connections on the node's address and port
//!   → `Input::Accepted` → `Node::attach_stream`;
//! - each connection's reader task → `Input::Datagram` →
//!   `Node::handle_extra_datagram`; its writer task frames what
//!   `TcpTransport::send` queues (the node's `Action::SendExtra` and extra
//!   transmits for stream IDs);
//! - once a second, `Input::Tick`: the policy (the sans-IO machine in
//!   [`crate::node::tcp_policy`]) looks at the node (any session? any
//!   member answering over UDP?) and dials, closes or detaches; dial tasks
//!   report with `Input::Dialed`.

mod conn;
mod listen;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::clock;
pub use crate::node::tcp_policy::status::{
    TcpConnectionStatus, TcpCounters, TcpLinkStatus, TcpStatus,
};
use crate::node::tcp_policy::{Command, NodeView, Policy, TICK};
use crate::node::{Action, Node};
use conn::ConnIo;

/// Inputs waiting between the transport's tasks and the daemon's task.
const QUEUE: usize = 1024;

/// What the transport's tasks report to the daemon's task.
#[derive(Debug)]
pub(crate) enum Input {
    /// A connection arrived.
    Accepted(TcpStream, SocketAddr),
    /// A dial ended.
    Dialed {
        /// The link's socket ID.
        id: u16,
        /// The connection, or why there is none.
        stream: io::Result<TcpStream>,
    },
    /// A datagram arrived on a connection.
    Datagram {
        /// The socket ID.
        id: u16,
        /// Which connection of that ID.
        serial: u64,
        /// The datagram.
        data: Vec<u8>,
    },
    /// A connection ended by itself.
    Closed {
        /// The socket ID.
        id: u16,
        /// Which connection of that ID.
        serial: u64,
        /// Whether it sent a frame that is not one.
        bad_frame: bool,
    },
    /// Time to run the policy.
    Tick,
}

/// The daemon's TCP side: listener, connections and the policy.
pub(crate) struct TcpTransport {
    enabled: bool,
    listen: Option<SocketAddr>,
    policy: Policy,
    conns: HashMap<u16, ConnIo>,
    dials: HashMap<u16, JoinHandle<()>>,
    accept: Option<JoinHandle<()>>,
    next_serial: u64,
    tx: mpsc::Sender<Input>,
    rx: mpsc::Receiver<Input>,
    tick: tokio::time::Interval,
}

impl TcpTransport {
    /// Starts the transport if `enabled`: listens on `listen` (the UDP
    /// socket's address and port) and will dial `peers` when UDP gets the
    /// node nowhere. A port that cannot be bound leaves the node without a
    /// listener (it still dials), with a warning.
    pub(crate) fn start(enabled: bool, listen: SocketAddr, peers: &[SocketAddr]) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut t = Self {
            enabled,
            listen: None,
            policy: Policy::new(if enabled { peers } else { &[] }, clock::now()),
            conns: HashMap::new(),
            dials: HashMap::new(),
            accept: None,
            next_serial: 0,
            tx,
            rx,
            tick,
        };
        if enabled {
            match listen::bind(listen) {
                Ok(l) => {
                    t.listen = l.local_addr().ok();
                    t.accept = Some(listen::spawn_accept(l, t.tx.clone()));
                }
                Err(e) => tracing::warn!(
                    addr = %listen, error = %e,
                    "cannot listen for TCP: members whose UDP is blocked cannot connect to this node"
                ),
            }
        }
        t
    }

    /// Adds `--peer` addresses to dial when UDP gets the node nowhere (a
    /// reload; addresses dropped from the list keep their link until the
    /// next start).
    pub(crate) fn add_peers(&mut self, peers: &[SocketAddr]) {
        if self.enabled {
            self.policy.add_links(peers);
        }
    }

    /// The next input; never resolves when the transport is off.
    pub(crate) async fn next(&mut self) -> Input {
        if !self.enabled {
            return std::future::pending().await;
        }
        tokio::select! {
            Some(input) = self.rx.recv() => input,
            _ = self.tick.tick() => Input::Tick,
        }
    }

    /// Handles `input`; a datagram may leave the node's answer in `out`,
    /// described by the returned action.
    pub(crate) fn handle(&mut self, node: &mut Node, input: Input, out: &mut [u8]) -> Action {
        let now = clock::now();
        match input {
            Input::Accepted(stream, remote) => {
                if let Some(id) = self.policy.accepted(now, remote) {
                    tracing::debug!(id, %remote, "accepted a TCP connection");
                    self.open(node, id, stream);
                    node.attach_stream(now, id, remote);
                }
            }
            Input::Dialed { id, stream } => {
                self.dials.remove(&id);
                match stream {
                    Ok(stream) => {
                        if self.policy.dial_succeeded(now, id) {
                            if let Some(remote) = self.policy.remote(id) {
                                tracing::info!(id, %remote, "connected over TCP");
                                self.open(node, id, stream);
                                node.attach_stream(now, id, remote);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(id, error = %e, "dialing TCP");
                        let cmds = self.policy.dial_failed(now, id);
                        self.run(node, cmds);
                    }
                }
            }
            Input::Datagram { id, serial, data } => {
                if !self.is_current(id, serial) {
                    return Action::None;
                }
                let Some(remote) = self.policy.remote(id) else {
                    return Action::None;
                };
                let drops = node.drops().total();
                let action = node.handle_extra_datagram(now, id, remote, &data, out);
                let taken = node.drops().total() == drops;
                if node.take_stream_handshake(id) {
                    self.policy.handshake_completed(id);
                }
                let cmds = self.policy.datagram(now, id, taken, data.len());
                self.run(node, cmds);
                return action;
            }
            Input::Closed {
                id,
                serial,
                bad_frame,
            } => {
                if self.is_current(id, serial) {
                    let cmds = self.policy.closed(now, id, bad_frame);
                    self.run(node, cmds);
                }
            }
            Input::Tick => {
                let view = NodeView {
                    connected: node
                        .known_members()
                        .iter()
                        .any(|(id, _)| node.is_connected(id, now)),
                    udp_answers: node
                        .stun_samples()
                        .iter()
                        .map(|s| (s.reflector, s.at))
                        .collect(),
                };
                let cmds = self.policy.tick(now, &view);
                self.run(node, cmds);
            }
        }
        Action::None
    }

    /// Sends a datagram on the connection `id`; lost if it is not open or
    /// its queue is full.
    pub(crate) fn send(&mut self, id: u16, datagram: &[u8]) {
        match self.conns.get(&id) {
            Some(c) if c.send(datagram) => self.policy.sent(clock::now(), id, datagram.len()),
            _ => self.policy.send_dropped(),
        }
    }

    /// The transport as `tessel status` shows it.
    pub(crate) fn status(&self) -> TcpStatus {
        if !self.enabled {
            return TcpStatus::default();
        }
        TcpStatus {
            listen: self.listen.map(|a| a.to_string()),
            ..self.policy.status(clock::now())
        }
    }

    fn open(&mut self, node: &mut Node, id: u16, stream: TcpStream) {
        // A socket ID is reused: forget what its last connection did.
        node.take_stream_handshake(id);
        self.next_serial += 1;
        let io = ConnIo::spawn(id, self.next_serial, stream, self.tx.clone());
        self.conns.insert(id, io);
    }

    fn is_current(&self, id: u16, serial: u64) -> bool {
        self.conns.get(&id).is_some_and(|c| c.serial == serial)
    }

    fn run(&mut self, node: &mut Node, cmds: Vec<Command>) {
        for cmd in cmds {
            match cmd {
                Command::Dial { id, remote } => {
                    tracing::info!(id, %remote, "dialing over TCP");
                    let task = listen::spawn_dial(id, remote, self.tx.clone());
                    if let Some(old) = self.dials.insert(id, task) {
                        old.abort();
                    }
                }
                Command::Close { id } => drop(self.conns.remove(&id)),
                Command::Detach { id } => node.detach_stream(id),
            }
        }
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        if let Some(a) = &self.accept {
            a.abort();
        }
        for d in self.dials.values() {
            d.abort();
        }
    }
}
