//! Engines in the daemon: the actor transport (`tessel-actors`) hosted by
//! the event loop, which owns it like it owns the node.
//!
//! Message flow:
//! - overlay session with a member up (`Event::Connected`) → dial its
//!   engine port unless a stream to it is up ([`streams`]); a member with
//!   a higher node ID dialing us while we hold a stream to it (it
//!   restarted) → we dial afresh, replacing our stale stream;
//! - a stream opened or accepted → `Transport::handle_stream_open`, its
//!   bytes (from its reader task, or read at once when the overlay hands
//!   the TUN device a packet of it: [`direct`]) → `handle_bytes`, its end
//!   → `handle_stream_closed`;
//! - `Output::Open` → dial the member's overlay address; `Write`/`Close` →
//!   the stream, written from the event loop ([`outbox`]); `Publish`/`Fetch`
//!   → the overlay's record store (`Node::publish_record`/`fetch_record`,
//!   answers as `Event::Records`);
//! - a local program's request on `engines.sock` ([`clients`], JSON or
//!   binary: `tessel_actors::local`) → a transport command ([`requests`]);
//!   deliveries and notices for its engines → frames back to it
//!   ([`deliver`]), written after the packets the turn's stream writes left
//!   on the TUN device have been sent ([`EngineHost::drain`],
//!   [`EngineHost::flush_clients`]);
//! - the transport's deadline → `handle_timeout`;
//! - a `scope` control command → a transport scope call, answered at
//!   once or at its notice ([`scopes`]).
//!
//! Streams are kernel TCP on the overlay addresses in TUN mode, and the
//! userspace stack's TCP sockets without a TUN device (userspace mode,
//! embedded nodes), both on port [`ENGINE_PORT`].

mod clients;
mod deliver;
mod direct;
mod keys;
mod outbox;
mod requests;
mod scopes;
mod streams;
#[cfg(feature = "test-hooks")]
mod tamper;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tessel_actors::local::{Encoding, Request};
use tessel_actors::{CallId, Config, ConnId, EngineAddr, Output, ReplyTo, Time, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::control::answers::{EngineListAnswer, EngineStatus, ForeignEngine, LocalEngine};
use super::runtime_dir::RuntimeDir;
use super::scopes::ScopeOptions;
use super::state_dir::StateDir;
use super::{clock, DriverError};
use crate::identity::{NodeId, NodeKey};
use crate::node::Node;

pub use clients::socket_path;
pub(crate) use clients::SOCKET;
pub use streams::{StreamMode, ENGINE_PORT};

use clients::{ClientInput, ClientOut};
pub(crate) use direct::StreamKey;
use keys::KeyStore;
use outbox::Returned;
use requests::RequestId;
use streams::{NewStream, StreamWriter, Streams};

/// How soon frames held back for a busy client are offered again.
const BACKLOG_RETRY: Duration = Duration::from_millis(1);

/// Inputs to the engine host from its tasks.
pub(crate) enum Input {
    /// A connection to the engine port.
    Accepted {
        /// The stream.
        stream: NewStream,
        /// Where it came from.
        from: SocketAddr,
        /// The address it was made to.
        local: Option<SocketAddr>,
    },
    /// A dial to a member ended.
    Dialed {
        /// The member.
        peer: tessel_actors::NodeId,
        /// The stream, or why not.
        stream: std::io::Result<NewStream>,
    },
    /// Bytes from a stream.
    Bytes {
        /// The stream.
        conn: ConnId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A flusher wrote what a stream had not taken and hands it back.
    Flushed {
        /// The stream.
        conn: ConnId,
        /// Its write side and what queued since.
        out: Returned<StreamWriter>,
    },
    /// A stream ended.
    Closed(ConnId),
    /// A local program.
    Client(ClientInput),
    /// A DNS lookup of the scope bootstrap ended.
    ScopeDns(crate::driver::scopes::dns::DnsAnswer),
}

/// A local program connected to `engines.sock`.
struct Client {
    out: ClientOut,
    /// The connection, to hang up on the client.
    hangup: std::os::unix::net::UnixStream,
    /// Frames waiting for the next flush.
    pending: Vec<u8>,
    /// How it encodes frames (that of its latest request).
    encoding: Encoding,
    /// The engines it runs.
    engines: Vec<EngineAddr>,
    /// Calls to its engines waiting for a reply, by the token it was given.
    replies: HashMap<u64, ReplyTo>,
}

/// A request waiting for a name lookup.
struct Parked {
    client: u64,
    id: RequestId,
    request: Request,
}

/// The engines of this node and the I/O they need.
pub(crate) struct EngineHost {
    transport: Transport,
    streams: Streams,
    keys: KeyStore,
    clients: BTreeMap<u64, Client>,
    /// The client owning each local engine.
    owners: HashMap<EngineAddr, u64>,
    /// Calls made for clients: the client and its request ID.
    calls: HashMap<CallId, (u64, RequestId)>,
    /// Requests waiting for `lookup_name`, by name.
    parked: BTreeMap<String, Vec<Parked>>,
    /// Keys the transport asked the record store for.
    fetches: BTreeSet<[u8; 32]>,
    next_token: u64,
    /// Room for direct reads of streams.
    scratch: Vec<u8>,
    /// Whether frames about calls (a call to answer, a call's result) wait
    /// for the next flush.
    calls_waiting: bool,
    rx: mpsc::Receiver<Input>,
    server: JoinHandle<()>,
    socket: std::path::PathBuf,
    /// The daemon's side of the scopes.
    scopes: scopes::ScopeSide,
    #[cfg(feature = "test-hooks")]
    tamper: Option<tamper::Tamper>,
}

/// The transport's clock: wall-clock milliseconds (records carry them).
fn time() -> Time {
    Time(clock::unix_ms())
}

/// The actors crate's form of a node ID.
fn actor_id(id: &NodeId) -> tessel_actors::NodeId {
    tessel_actors::NodeId(*id.as_bytes())
}

impl EngineHost {
    /// Starts the engine host: loads persistent keys, binds `engines.sock`
    /// and listens on the engine port as `streams` says; hosts scopes if
    /// `scope_options` names a root key.
    pub(crate) fn start(
        state: &StateDir,
        runtime_dir: &RuntimeDir,
        node_key: &NodeKey,
        streams: StreamMode,
        scope_options: &ScopeOptions,
    ) -> Result<Self, DriverError> {
        let io = |context| move |source| DriverError::Io { context, source };
        let seed = clock::random_seed().map_err(io("reading the OS random source"))?;
        let config = Config {
            scope_root: scope_options.root.map(|r| *r.as_bytes()),
            ..Config::default()
        };
        let mut transport = Transport::new(config, &node_key.seed(), seed);
        transport.set_time(time());
        let keys = KeyStore::load(state, transport.keys_mut())?;
        let (tx, rx) = mpsc::channel(1024);
        let streams = match Streams::start(streams, tx.clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, port = ENGINE_PORT, "cannot listen on the engine port; engines stay local to this node");
                Streams::start(StreamMode::Off, tx.clone())
                    .map_err(io("starting the engine streams"))?
            }
        };
        let listener = runtime_dir
            .bind(SOCKET)
            .map_err(io("binding engines.sock"))?;
        let server = clients::serve(listener, tx.clone());
        let scopes = scopes::ScopeSide::start(scope_options, state, tx.clone());
        let mut host = Self {
            transport,
            streams,
            keys,
            clients: BTreeMap::new(),
            owners: HashMap::new(),
            calls: HashMap::new(),
            parked: BTreeMap::new(),
            fetches: BTreeSet::new(),
            next_token: 1,
            scratch: Vec::new(),
            calls_waiting: false,
            rx,
            server,
            socket: socket_path(runtime_dir.path()),
            scopes,
            #[cfg(feature = "test-hooks")]
            tamper: None,
        };
        host.scopes_begin();
        Ok(host)
    }

    /// Starts listening for streams from members; call once the TUN
    /// device exists (see [`Streams::listen`]).
    pub(crate) fn listen(&mut self) {
        self.streams.listen();
    }

    /// The next input from the streams and local programs.
    pub(crate) async fn next(&mut self) -> Option<Input> {
        self.rx.recv().await
    }

    /// The next input if one is waiting (to handle a batch before the
    /// transport's writes are carried out, so they coalesce).
    pub(crate) fn try_next(&mut self) -> Option<Input> {
        self.rx.try_recv().ok()
    }

    /// When the transport next wants `handle_timeout`.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.backlogged() {
            return Some(clock::now() + BACKLOG_RETRY);
        }
        let now = clock::unix_ms();
        let transport = self
            .transport
            .poll_timeout()
            .map(|at| clock::now() + Duration::from_millis(at.0.saturating_sub(now)));
        transport
            .into_iter()
            .chain(self.scopes.next_deadline())
            .min()
    }

    /// Handles one input.
    pub(crate) fn handle(&mut self, node: &Node, input: Input) {
        let now = time();
        match input {
            Input::Accepted {
                stream,
                from,
                local,
            } => self.accepted(node, stream, from, local, now),
            Input::Dialed { peer, stream } => match stream {
                Ok(stream) => {
                    let conn = self.streams.adopt(stream);
                    self.transport.handle_stream_open(conn, peer, true, now);
                }
                Err(e) => {
                    tracing::debug!(error = %e, ?peer, "dialing an engine stream");
                    self.transport.handle_open_failed(peer, now);
                }
            },
            Input::Bytes { conn, data } => {
                self.streams.bytes_in += data.len() as u64;
                self.bytes(conn, &data, now);
            }
            Input::Flushed { conn, out } => self.streams.flushed(conn, out),
            Input::Closed(conn) => {
                if self.streams.close(conn) {
                    self.transport.handle_stream_closed(conn, now);
                }
            }
            Input::Client(c) => self.client_input(c),
            Input::ScopeDns(a) => self.scope_dns(a),
        }
    }

    /// Bytes from a stream, to the transport; the mailboxes are emptied at
    /// once (a batch of reads can bring more messages than a mailbox holds
    /// before the next drain).
    fn bytes(&mut self, conn: ConnId, data: &[u8], now: Time) {
        self.transport.handle_bytes(conn, data, now);
        self.deliver();
    }

    /// The kernel stream that `packet`, handed to the TUN device, brings
    /// bytes of, if it is one of the engines'.
    pub(crate) fn stream_of(&self, packet: &[u8]) -> Option<StreamKey> {
        StreamKey::inbound(packet).filter(|key| self.streams.knows(*key))
    }

    /// The TUN device has taken a packet of stream `key`
    /// ([`Self::stream_of`]): its bytes are read and handled now, after what
    /// the reader tasks queued before (see [`direct`]).
    pub(crate) fn delivered(&mut self, node: &Node, key: StreamKey) {
        while let Some(input) = self.try_next() {
            self.handle(node, input);
        }
        let mut buf = std::mem::take(&mut self.scratch);
        if let Some((conn, n)) = self.streams.read_now(key, &mut buf) {
            self.bytes(conn, &buf[..n], time());
            // A call to answer or a call's result goes to its client now
            // rather than at the end of the turn, unless stream writes must
            // leave first. (Casts wait for the end of the turn: fewer,
            // larger writes to the clients.)
            if self.calls_waiting && !self.transport.has_output() {
                self.flush_clients();
            }
        }
        self.scratch = buf;
    }

    fn accepted(
        &mut self,
        node: &Node,
        stream: NewStream,
        from: SocketAddr,
        local: Option<SocketAddr>,
        now: Time,
    ) {
        let local = local.map(|a| a.ip());
        let IpAddr::V6(src) = from.ip() else { return };
        if local != Some(IpAddr::V6(node.ipv6())) {
            tracing::debug!(%from, "engine stream not to our overlay address");
            return;
        }
        let prefix = node.prefix();
        let peer = node
            .known_members()
            .into_iter()
            .map(|(id, _)| id)
            .find(|id| prefix.node_addr(id) == src);
        let Some(peer) = peer else {
            tracing::debug!(%from, "engine stream from an address that is no member's");
            return;
        };
        let lower = node.id() < peer;
        let peer = actor_id(&peer);
        // A higher member dials us only when it has no stream to us (it
        // restarted, say): ours may be stale, so we dial afresh, and our
        // newer outbound stream replaces it.
        let redial = lower && self.transport.connected_peers().any(|p| p == peer);
        let conn = self.streams.adopt(stream);
        self.transport.handle_stream_open(conn, peer, false, now);
        if redial {
            self.streams.dial(peer, src);
        }
    }

    /// An overlay session with `peer` is up: without a stream to it, dial
    /// one, so both learn each other's engines (if both dial at once, the
    /// transport keeps the stream the lower node ID opened).
    pub(crate) fn peer_connected(&mut self, node: &Node, peer: &NodeId) {
        let id = actor_id(peer);
        if !self.streams.enabled() || self.transport.connected_peers().any(|p| p == id) {
            return;
        }
        self.streams.dial(id, node.prefix().node_addr(peer));
    }

    /// Runs due timers, carries out the transport's outputs and queues
    /// deliveries and notices for local programs ([`Self::flush_clients`]
    /// sends them). Returns whether bytes were written to streams (in TUN
    /// mode, their packets now wait on the device).
    pub(crate) fn drain(&mut self, node: &mut Node) -> bool {
        let mut wrote = false;
        let now = time();
        if self.transport.poll_timeout().is_some_and(|t| t <= now) {
            self.transport.handle_timeout(now);
        }
        while let Some(o) = self.transport.poll_output() {
            match o {
                Output::Open { peer } => {
                    if !self.streams.enabled() {
                        self.transport.handle_open_failed(peer, now);
                        continue;
                    }
                    match NodeId::from_bytes(peer.0) {
                        Ok(id) => self.streams.dial(peer, node.prefix().node_addr(&id)),
                        Err(_) => self.transport.handle_open_failed(peer, now),
                    }
                }
                Output::Write { conn, bytes } => {
                    #[cfg(feature = "test-hooks")]
                    let bytes = match self.tamper.take() {
                        Some(t) => t.apply(bytes, &mut self.tamper),
                        None => bytes,
                    };
                    wrote = true;
                    if !self.streams.write(conn, bytes) && self.streams.close(conn) {
                        tracing::debug!(?conn, "engine stream stuck; closing it");
                        self.transport.handle_stream_closed(conn, now);
                    }
                }
                Output::Close { conn } => {
                    self.streams.close(conn);
                }
                Output::Publish { key, record } => self.publish(node, key, &record),
                Output::Fetch { key } => self.fetch(node, key),
            }
        }
        self.deliver();
        self.scopes_drain();
        wrote
    }

    /// Stores a host or name record in the overlay's record store, signed
    /// by this node, for the transport's record lifetime.
    fn publish(&mut self, node: &mut Node, key: [u8; 32], record: &[u8]) {
        let ttl = Duration::from_millis(self.transport.config().record_ttl_ms);
        if let Err(e) = node.publish_record(clock::now(), key, record, ttl) {
            tracing::debug!(error = %e, "publishing an engine record");
        }
    }

    /// Asks the overlay's record store for the records under `key`; the
    /// answer comes through [`Self::on_records`].
    fn fetch(&mut self, node: &mut Node, key: [u8; 32]) {
        match node.fetch_record(clock::now(), key) {
            Ok(()) => {
                self.fetches.insert(key);
            }
            Err(e) => {
                tracing::debug!(error = %e, "fetching an engine record");
                self.transport.handle_record(key, &[], time());
            }
        }
    }

    /// The overlay answered a fetch: hands the values to the transport if
    /// it asked (each is checked again there: the engine's and the hosting
    /// node's signatures, whoever stored it).
    pub(crate) fn on_records(&mut self, key: &[u8; 32], records: &[(NodeId, Vec<u8>)]) {
        if !self.fetches.remove(key) {
            return;
        }
        let values: Vec<Vec<u8>> = records.iter().map(|(_, v)| v.clone()).collect();
        self.transport.handle_record(*key, &values, time());
    }

    /// Test builds: the `engine_tamper` control request.
    #[cfg(feature = "test-hooks")]
    pub(crate) fn tamper(&mut self, mode: &str) -> crate::driver::control::Reply {
        use crate::driver::control::{answers::TamperAnswer, api::reply, ApiError};
        let mode = mode.trim();
        let t = tamper::Tamper::parse(mode)
            .ok_or_else(|| ApiError::bad_request("forge, alter or replay"))?;
        self.tamper = Some(t);
        reply(&TamperAnswer {
            tamper: mode.to_owned(),
        })
    }

    /// Local and foreign engines, names and peers (`engine_list`).
    pub(crate) fn list(&self) -> EngineListAnswer {
        let names = self.transport.registered_names();
        let names_of = |e: EngineAddr| -> Vec<String> {
            names
                .iter()
                .filter(|(_, a)| *a == e)
                .map(|(n, _)| n.clone())
                .collect()
        };
        let node = self.transport.node_id().to_string();
        let local = self
            .transport
            .local_engines()
            .map(|e| LocalEngine {
                engine: e.to_string(),
                node: node.clone(),
                names: names_of(e),
                persistent: self.transport.keys().persistence(e)
                    == Some(tessel_actors::Persistence::Persistent),
            })
            .collect();
        let foreign = self
            .transport
            .foreign_engines()
            .map(|(e, n, up)| ForeignEngine {
                engine: e.to_string(),
                node: n.to_string(),
                reachable: up,
                names: names_of(e),
            })
            .collect();
        EngineListAnswer {
            node,
            local,
            foreign,
        }
    }

    /// The engines' part of `tessel status`.
    /// The counters and gauges of [`Self::status`], for the metrics endpoint.
    pub(crate) fn metrics(&self) -> super::metrics::EngineMetrics {
        super::metrics::EngineMetrics {
            local: self.transport.local_engines().count() as u64,
            foreign: self.transport.foreign_engines().count() as u64,
            peers: self.transport.connected_peers().count() as u64,
            streams: self.streams.len() as u64,
            clients: self.clients.len() as u64,
            bytes_in: self.streams.bytes_in,
            bytes_out: self.streams.bytes_out,
            transport: self.transport.stats().clone(),
            scopes: self.transport.scope_authority().is_some(),
        }
    }

    pub(crate) fn status(&self) -> EngineStatus {
        let s = self.transport.stats();
        let drops = [
            ("malformed", s.malformed),
            ("forged", s.forged),
            ("unauthenticated", s.unauthenticated),
            ("bad_mac", s.bad_mac),
            ("replayed", s.replayed),
            ("stale", s.stale),
            ("unknown_destination", s.unknown_destination),
            ("mailbox_full", s.mailbox_full),
            ("undeliverable", s.undeliverable),
            ("limited", s.limited),
            ("unexpected", s.unexpected),
        ];
        EngineStatus {
            local: self.transport.local_engines().count(),
            foreign: self.transport.foreign_engines().count(),
            peers: self.transport.connected_peers().count(),
            streams: self.streams.len(),
            clients: self.clients.len(),
            bytes_in: self.streams.bytes_in,
            bytes_out: self.streams.bytes_out,
            frames_in: s.frames_in,
            frames_out: s.frames_out,
            events_sent: s.events_sent,
            events_filtered: s.events_filtered,
            drops: drops.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
            scopes: self.scope_status(),
        }
    }
}

impl Drop for EngineHost {
    fn drop(&mut self) {
        self.scope_save();
        self.server.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}
