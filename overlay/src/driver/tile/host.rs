//! The host task: the one owner of the tile's state. It drives the
//! sans-IO [`Node`] with link events, program frames, control requests and
//! its timer, and after each input carries the node's output to the links
//! ([`links::Conn`] queues, through [`tessel_tile_link::link::flush`]) and
//! to the programs on the tile socket.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tessel_tile_link::channel::Frame;
use tessel_tile_link::file::{DirStore, FileEvent};
use tessel_tile_link::link::{flush, Links};
use tessel_tile_link::physics::Message as PhysicsMessage;
use tessel_tile_link::tile::{Event, Program};
use tessel_tile_link::wire::tep;
use tessel_tile_link::{Dir, Node, NodeEvent};
use tokio::sync::mpsc;

use super::clients::ClientEvent;
use super::config::Neighbour;
use super::links::{AbortOnDrop, Conn, LinkEvent};
use super::runner::Runner;
use super::status::{self, StatusExtra};
use crate::driver::clock;
use crate::driver::control::answers::{TileAnnounceAnswer, TilePublishAnswer};
use crate::driver::control::api::{reply, Reply};
use crate::driver::control::{ApiError, Call, ErrorCode, Request, SocketFile};
use crate::driver::metrics::http::TileReply;
use crate::identity::NodeId;

/// A program on the tile socket.
#[derive(Debug)]
struct Client {
    program: Program,
    tx: mpsc::Sender<Vec<u8>>,
    _reader: AbortOnDrop,
    writer: AbortOnDrop,
}

/// The links as the node's [`Links`]: each connection's free queue space.
struct Wires<'a>(&'a mut [Option<Conn>; 8]);

impl Links for Wires<'_> {
    fn free(&self, dir: Dir) -> u32 {
        self.0[dir.index()]
            .as_ref()
            .map_or(0, |c| c.tx.capacity() as u32)
    }

    fn send(&mut self, dir: Dir, packet: Vec<u8>) {
        if let Some(c) = &self.0[dir.index()] {
            // Called within the free space; a closed writer reports Down.
            let _ = c.tx.try_send(packet);
        }
    }
}

/// Everything the host task owns.
pub(super) struct Host {
    node: Node<DirStore>,
    own: NodeId,
    neighbours: Vec<Neighbour>,
    conns: [Option<Conn>; 8],
    next_gen: u64,
    link_tx: mpsc::Sender<LinkEvent>,
    runner: Runner,
    socket: SocketFile,
    _background: Vec<AbortOnDrop>,
    clients: BTreeMap<u64, Client>,
}

/// The receiving ends the host task waits on.
pub(super) struct Inputs {
    pub(super) links: mpsc::Receiver<LinkEvent>,
    pub(super) clients: mpsc::Receiver<ClientEvent>,
    pub(super) requests: mpsc::Receiver<Call>,
    /// Scrapes of the metrics endpoint.
    pub(super) metrics: mpsc::Receiver<TileReply>,
}

impl Host {
    /// A host with no link up and no program connected.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        node: Node<DirStore>,
        own: NodeId,
        neighbours: Vec<Neighbour>,
        link_tx: mpsc::Sender<LinkEvent>,
        runner: Runner,
        socket: SocketFile,
        background: Vec<AbortOnDrop>,
    ) -> Self {
        Self {
            node,
            own,
            neighbours,
            conns: Default::default(),
            next_gen: 0,
            link_tx,
            runner,
            socket,
            _background: background,
            clients: BTreeMap::new(),
        }
    }

    /// Runs until the task is aborted (or every input closes).
    pub(super) async fn run(mut self, mut inputs: Inputs) {
        let far = crate::driver::clock::tokio_now() + std::time::Duration::from_secs(86_400);
        loop {
            let deadline = self
                .node
                .poll_timeout()
                .map_or(far, tokio::time::Instant::from_std);
            tokio::select! {
                Some(e) = inputs.links.recv() => {
                    self.on_link(e);
                    // Take what else arrived before moving output.
                    for _ in 0..64 {
                        let Ok(e) = inputs.links.try_recv() else { break };
                        self.on_link(e);
                    }
                }
                Some(e) = inputs.clients.recv() => self.on_client(e),
                Some(r) = inputs.requests.recv() => self.on_request(r),
                Some(reply) = inputs.metrics.recv() => {
                    let _ = reply.send(super::status::metrics(&self.node, &self.neighbours));
                }
                _ = tokio::time::sleep_until(deadline) => self.node.handle_timeout(clock::now()),
                else => return,
            }
            self.move_output();
        }
    }

    fn on_link(&mut self, e: LinkEvent) {
        let now = clock::now();
        match e {
            LinkEvent::Up {
                dir,
                stream,
                closed,
            } => {
                if self.conns[dir.index()].take().is_some() {
                    // The neighbour came back on a new connection: the old
                    // one is stale.
                    self.node.handle_link_down(now, dir);
                }
                self.next_gen += 1;
                let conn = Conn::start(dir, self.next_gen, stream, closed, &self.link_tx);
                self.conns[dir.index()] = Some(conn);
                tracing::info!(%dir, "tile neighbour connected");
                self.node.handle_link_up(now, dir);
            }
            LinkEvent::Packet { dir, gen, packet } => {
                if self.is_current(dir, gen) {
                    self.node.handle_packet(now, dir, &packet);
                }
            }
            LinkEvent::Room => {}
            LinkEvent::Down { dir, gen, reason } => {
                if self.is_current(dir, gen) {
                    self.conns[dir.index()] = None;
                    tracing::info!(%dir, %reason, "tile neighbour disconnected");
                    self.node.handle_link_down(now, dir);
                }
            }
        }
    }

    fn is_current(&self, dir: Dir, gen: u64) -> bool {
        self.conns[dir.index()]
            .as_ref()
            .is_some_and(|c| c.gen == gen)
    }

    fn on_client(&mut self, e: ClientEvent) {
        match e {
            ClientEvent::Opened {
                id,
                tx,
                reader,
                writer,
            } => {
                self.clients.insert(
                    id,
                    Client {
                        program: Program::new(),
                        tx,
                        _reader: reader,
                        writer,
                    },
                );
            }
            ClientEvent::Frame { id, bytes } => {
                let Some(client) = self.clients.get_mut(&id) else {
                    return;
                };
                let Ok(Some((frame, _))) = Frame::decode(&bytes) else {
                    return;
                };
                let replies = client.program.handle_frame(self.node.tile_mut(), &frame);
                let mut broken = false;
                for r in replies {
                    if let Ok(v) = r.to_vec() {
                        broken |= client.tx.try_send(v).is_err();
                    }
                }
                if broken {
                    self.drop_client(id, "its queue is full");
                }
            }
            ClientEvent::Closed { id } => {
                // Still send it what is queued (answers to its last frames).
                if let Some(c) = self.clients.remove(&id) {
                    tracing::debug!(client = id, "tile socket client closed");
                    c.writer.detach();
                    c.program.close(self.node.tile_mut());
                }
            }
        }
    }

    /// Cuts a program off at once.
    fn drop_client(&mut self, id: u64, why: &str) {
        if let Some(c) = self.clients.remove(&id) {
            tracing::debug!(client = id, why, "tile socket client cut off");
            c.program.close(self.node.tile_mut());
        }
    }

    /// Sends what the node has for the links and for the programs.
    fn move_output(&mut self) {
        flush(&mut self.node, &mut Wires(&mut self.conns));
        while let Some(e) = self.node.poll_event() {
            match e {
                NodeEvent::Tile(e) => self.deliver(&e),
                NodeEvent::File(e) => log_file_event(&e),
                NodeEvent::Restart(r) => {
                    let path = self.node.files().store().live_dir().join(r.name.as_str());
                    self.runner.restart(&path);
                }
            }
            // Credit for the programs may have freed queue space.
            flush(&mut self.node, &mut Wires(&mut self.conns));
        }
    }

    /// Hands a tile event to the programs that want it.
    fn deliver(&mut self, e: &Event) {
        let Ok(bytes) = e.frame().to_vec() else {
            return;
        };
        let mut stuck = Vec::new();
        for (id, c) in &self.clients {
            if !c.program.wants(e) {
                continue;
            }
            if c.tx.try_send(bytes.clone()).is_err() {
                match e {
                    // An MFM packet the program cannot take now: dropped,
                    // and the next one from there carries OVRN.
                    Event::Mfm { dir, packet } if packet.first() != Some(&tep::TEP_PKT_TYPE) => {
                        self.node.tile_mut().handle_rx_overrun(*dir);
                    }
                    // Credit, presence and service packets must not be
                    // lost: a program that does not read is cut off.
                    _ => stuck.push(*id),
                }
            }
        }
        for id in stuck {
            self.drop_client(id, "it does not read its frames");
        }
    }

    fn on_request(&mut self, call: Call) {
        let Call { request, reply } = call;
        match request {
            Request::TileStatus => {
                let own = self.own;
                let program_pid = self.runner.pid();
                let dials = |d: Dir| self.neighbours.iter().any(|n| n.dir == d && own < n.node);
                let extra = StatusExtra {
                    neighbours: &self.neighbours,
                    dials: &dials,
                    socket: &self.socket.0,
                    clients: self.clients.len(),
                    program_pid,
                };
                reply.ok(&status::status(&self.node, &extra));
            }
            Request::TileFiles => reply.ok(&status::files(&self.node)),
            Request::TilePublish { path } => reply.send(self.publish(PathBuf::from(path))),
            Request::TileAnnounce { announcement } => reply.send(self.announce(&announcement)),
            other => reply.err(ApiError::new(
                ErrorCode::UnknownCommand,
                format!("the tile host does not answer `{}`", other.name()),
            )),
        }
    }

    fn publish(&mut self, path: PathBuf) -> Reply {
        let bytes = std::fs::read(&path).map_err(|e| {
            ApiError::new(
                ErrorCode::Failed,
                format!("reading {}: {e}", path.display()),
            )
        })?;
        self.node
            .publish(&bytes)
            .map_err(|e| ApiError::new(ErrorCode::Failed, format!("not published: {e}")))?;
        tracing::info!(file = %path.display(), "published a tile file");
        reply(&TilePublishAnswer {
            published: path.display().to_string(),
            size: bytes.len(),
        })
    }

    fn announce(&mut self, hex: &str) -> Reply {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.trim().as_bytes())
            .map_err(|_| ApiError::bad_request("the announcement is not hexadecimal"))?;
        let a = match PhysicsMessage::parse(&bytes) {
            Ok(PhysicsMessage::Announce(a)) => a,
            _ => return Err(ApiError::bad_request("not a physics announcement")),
        };
        self.node
            .announce(a)
            .map_err(|e| ApiError::new(ErrorCode::Failed, format!("not announced: {e}")))?;
        reply(&TileAnnounceAnswer { announced: true })
    }
}

fn log_file_event(e: &FileEvent) {
    match e {
        FileEvent::Committed {
            name,
            version,
            size,
        } => tracing::info!(
            file = name.as_str(),
            timestamp = version.timestamp,
            size,
            "tile file is live"
        ),
        FileEvent::Rejected { name, dir, reason } => {
            tracing::warn!(file = name.as_str(), %dir, %reason, "tile file rejected")
        }
        FileEvent::StoreFailed { name, error } => {
            tracing::error!(file = name.as_str(), %error, "tile file store failed")
        }
    }
}
