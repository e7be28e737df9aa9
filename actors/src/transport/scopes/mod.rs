//! Scopes hosted in the transport: queries, registrations and records carried
//! between runtimes on the transport's streams, and the sector clusters this
//! runtime is a member of.
//!
//! Everything travels as scope frames (`wire::scope_*`) on the streams the
//! transport already keeps to other nodes; the overlay authenticates the
//! peer of a stream, so the peer's node ID is the querier's or pusher's
//! identity. Nothing here reads a clock or opens a socket.
//!
//! - **Queries** ([`query`]): the cache first, then the network, one hop at
//!   a time (a query frame to the runtime the [`QueryRun`] names, its answer
//!   frame back), each hop with a timeout after which the next candidate is
//!   asked; a stream that fails counts as unreachable. A hop to this runtime
//!   is answered by its own cluster tables.
//! - **Registrations** ([`place`]): signed with the node key, located with a
//!   closest query for the sector service (carrying the hosting grant as
//!   credential), pushed with their creation chain and grant to one member
//!   of the responsible cluster, renewed at half their lifetime (located
//!   again, so they move when a nearer cluster forms).
//! - **Clusters** ([`push`], [`spread`]): registering the sector service
//!   makes this runtime a member of that scope's cluster. A member takes
//!   pushes, forwards what it took from outside the cluster to the other
//!   members (marked forwarded so it stops there), passes sector changes to
//!   the clusters above and below, floods creations and revocations through
//!   the tree of clusters, syncs a member that joins and hands a new cluster
//!   below the registrations that are now its own. Upkeep ([`upkeep`]) keeps
//!   streams to every other member and to one member of the cluster above.
//! - **Departures** ([`gone`]): a member whose stream to a runtime it holds
//!   registrations of closes reopens it; when that fails the runtime is
//!   gone, and the notice travels down the tree of clusters to every one
//!   that holds its registrations, which drop them (unless a member still
//!   has a stream to it).
//! - **Generations** ([`generation`]): a new cluster's first member asks a
//!   root runtime for a generation number; members converge on the earliest.
//! - **Sending to a scope** ([`send`]): resolve with a query, then cast to
//!   the engines the registrations name, after a probe that proves whether
//!   each engine is still hosted.

mod api;
mod generation;
mod gone;
mod place;
mod push;
mod query;
mod send;
mod spread;
mod upkeep;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Transport;
use crate::ids::{ConnId, EngineAddr, NodeId, Time};
use crate::scope::hosting::{
    ClusterInfo, Generation, Placed, RegistrationInfo, ScopeError, ScopeState,
};
use crate::scope::querier::QueryRun;
use crate::scope::{Authority, ClusterTable, Querier, QueryKind, Record, ScopePath, Trie};
use crate::wire::frame::Frame;

/// Scope frames kept per stream for writing again on a replacement.
const LOG_FRAMES: usize = 64;
/// Bytes of scope frames kept per stream for the same.
const LOG_BYTES: usize = 64 * 1024;
/// How long a scope frame stays in a stream's log: two streams opened at
/// once are sorted out within a round trip, so only frames written that
/// recently can have gone down with the stream that lost.
const LOG_MS: u64 = 2_000;

/// The scope state of one runtime (present when a root key is configured).
#[derive(Debug)]
pub(super) struct Scopes {
    /// The scopes and revocations known, checked from the root key.
    pub(super) authority: Authority,
    /// The query cache and bootstrap runtimes.
    pub(super) querier: Querier,
    /// The clusters this runtime is a member of, by scope.
    pub(super) members: BTreeMap<ScopePath, Membership>,
    /// This runtime's own registrations, by (scope, service).
    pub(super) own: BTreeMap<(ScopePath, String), OwnReg>,
    /// Records waiting for their chain of creations, with when they came
    /// and whether they were given here.
    pub(super) pending: Vec<(Record, Time, bool)>,
    /// A round of retrying pending records is running.
    pub(super) retrying: bool,
    /// Another round is wanted.
    pub(super) retry_again: bool,
    /// Grants and capabilities kept (given here, or for a cluster of ours).
    pub(super) book: BTreeMap<[u8; 32], Record>,
    /// Queries in flight, by id.
    pub(super) queries: BTreeMap<u64, PendingQuery>,
    /// Hop ids of queries waiting for an answer frame.
    pub(super) hops: BTreeMap<u64, u64>,
    /// Sends waiting for their query or their probes.
    pub(super) sends: BTreeMap<u64, PendingSend>,
    /// Probes waiting for their pong.
    pub(super) probes: BTreeMap<u64, PendingProbe>,
    /// Frames waiting for a stream to their peer.
    pub(super) outbox: BTreeMap<NodeId, Vec<Frame>>,
    /// Generation records this runtime assigned, by (scope, requester).
    pub(super) assigned: BTreeMap<(ScopePath, NodeId), GenBundle>,
    /// The least serial the next assignment may use.
    pub(super) next_serial: u64,
    /// When upkeep runs next.
    pub(super) upkeep_at: Time,
}

/// A cluster this runtime is a member of.
#[derive(Debug)]
pub(super) struct Membership {
    /// What it holds and answers.
    pub(super) table: ClusterTable,
    /// The cluster's generation, with its proof, once known.
    pub(super) generation: Option<GenBundle>,
    /// When this runtime joined.
    pub(super) since: Time,
    /// When a generation was last asked for.
    pub(super) gen_asked: Option<Time>,
    /// How many times one was asked for (picks the root runtime to ask).
    pub(super) gen_attempts: usize,
    /// Creations and revocations already handled for this cluster.
    pub(super) seen: BTreeSet<[u8; 32]>,
    /// Whether the next push of our sector registration asks for a sync
    /// (our table is new, or the cluster lost us).
    pub(super) want_sync: bool,
}

/// A generation record with the records that prove its signer was a root
/// runtime when it signed.
#[derive(Debug, Clone)]
pub(super) struct GenBundle {
    pub(super) cert: Record,
    pub(super) reg: Record,
    pub(super) grant: Record,
    pub(super) gen: Generation,
    pub(super) issued: Time,
}

impl GenBundle {
    /// The order members converge on: the earliest, then the lowest
    /// assigner and serial.
    pub(super) fn rank(&self) -> (Time, NodeId, u64) {
        (self.issued, self.gen.assigner, self.gen.serial)
    }

    pub(super) fn records(&self) -> Vec<Record> {
        vec![self.grant.clone(), self.reg.clone(), self.cert.clone()]
    }
}

/// One of this runtime's registrations.
#[derive(Debug)]
pub(super) struct OwnReg {
    pub(super) engine: Option<EngineAddr>,
    pub(super) grant: Record,
    pub(super) reg: Record,
    /// Renewal, or the next placement after a failure.
    pub(super) next: Time,
    pub(super) placed: Option<Placed>,
    /// Members of the responsible cluster not tried yet.
    pub(super) spare: Vec<NodeId>,
    pub(super) error: Option<ScopeError>,
    /// A locating query in flight.
    pub(super) locating: bool,
}

/// What a query is for.
#[derive(Debug, Clone)]
pub(super) enum Purpose {
    /// A host's query: answered with a notice.
    Answer,
    /// A send: continue it.
    Send,
    /// Locating the cluster for an own registration.
    Place(ScopePath, String),
    /// Locating the cluster for a withdrawal.
    Withdraw(Record),
    /// Locating the cluster for a kept grant or capability.
    Book(Record),
}

/// A query in flight.
#[derive(Debug)]
pub(super) struct PendingQuery {
    pub(super) run: Box<QueryRun>,
    pub(super) purpose: Purpose,
    pub(super) hop: Option<HopWait>,
}

/// The hop a query waits on.
#[derive(Debug, Clone, Copy)]
pub(super) struct HopWait {
    pub(super) peer: NodeId,
    pub(super) id: u64,
    pub(super) deadline: Time,
}

/// A send in progress.
#[derive(Debug)]
pub(super) struct PendingSend {
    pub(super) from: EngineAddr,
    pub(super) kind: QueryKind,
    pub(super) payload: Vec<u8>,
    /// Targets not tried yet (closest: one at a time).
    pub(super) todo: VecDeque<(NodeId, EngineAddr)>,
    /// Targets waiting for a probe's pong, by engine.
    pub(super) waiting: BTreeMap<EngineAddr, NodeId>,
    pub(super) sent: Vec<EngineAddr>,
    pub(super) gone: Vec<EngineAddr>,
    pub(super) unreachable: Vec<EngineAddr>,
}

/// A probe waiting for its pong.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingProbe {
    pub(super) send: u64,
    pub(super) peer: NodeId,
    pub(super) deadline: Time,
}

impl Scopes {
    pub(super) fn new(root: [u8; 32], config: &crate::Config, now: Time) -> Self {
        Self {
            authority: Authority::new(root),
            querier: Querier::new(Trie::new(config.scope_limits), None),
            members: BTreeMap::new(),
            own: BTreeMap::new(),
            pending: Vec::new(),
            retrying: false,
            retry_again: false,
            book: BTreeMap::new(),
            queries: BTreeMap::new(),
            hops: BTreeMap::new(),
            sends: BTreeMap::new(),
            probes: BTreeMap::new(),
            outbox: BTreeMap::new(),
            assigned: BTreeMap::new(),
            next_serial: 0,
            upkeep_at: now,
        }
    }

    /// Whether `peer` is a live member of a cluster one of our tables
    /// knows (ours, one above, one below).
    pub(super) fn knows_member(&self, peer: NodeId, now: Time) -> bool {
        self.members
            .values()
            .any(|m| m.table.knows_member(peer, now))
    }
}

impl Transport {
    /// Writes a scope frame to `peer`: on its stream if one is up, else
    /// queued (bounded) until one is, asking the host for it.
    pub(super) fn scope_frame(&mut self, peer: NodeId, f: Frame) {
        if peer == self.node_id() {
            return;
        }
        if matches!(f, Frame::ScopePush(_)) {
            self.stats.scopes.pushes_out += 1;
        }
        if let Some(conn) = self.peers.get(&peer).and_then(|p| p.active) {
            self.write_logged(conn, &f);
            return;
        }
        let max = self.config.scope_max_outbox;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let q = s.outbox.entry(peer).or_default();
        if q.len() >= max {
            self.stats.scopes.limited += 1;
            return;
        }
        q.push(f);
        self.reconnect(peer);
    }

    /// Writes a scope frame on a stream and keeps a copy in its log.
    fn write_logged(&mut self, conn: ConnId, f: &Frame) {
        let mut bytes = Vec::with_capacity(f.encoded_len());
        if f.write(&mut bytes).is_err() {
            return;
        }
        self.stats.frames_out += 1;
        self.write_bufs
            .entry(conn)
            .or_default()
            .extend_from_slice(&bytes);
        let now = self.now;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.scope_log.push_back((now, bytes));
            while c.scope_log.len() > LOG_FRAMES
                || c.scope_log.iter().map(|(_, b)| b.len()).sum::<usize>() > LOG_BYTES
                || c.scope_log
                    .front()
                    .is_some_and(|(t, _)| t.plus_ms(LOG_MS) < now)
            {
                c.scope_log.pop_front();
            }
        }
    }

    /// Writes again, on the stream that replaced another, the scope frames
    /// logged on the replaced one (receivers take them idempotently).
    pub(super) fn scope_resend(&mut self, conn: ConnId, log: VecDeque<(Time, Vec<u8>)>) {
        let now = self.now;
        for (at, bytes) in log {
            if at.plus_ms(LOG_MS) < now {
                continue;
            }
            self.write_bufs
                .entry(conn)
                .or_default()
                .extend_from_slice(&bytes);
            self.stats.frames_out += 1;
            if let Some(c) = self.conns.get_mut(&conn) {
                c.scope_log.push_back((at, bytes));
            }
        }
    }

    /// A stream to `peer` became active: send what waited for it.
    pub(super) fn scopes_on_active(&mut self, peer: NodeId) {
        let Some(frames) = self.scopes.as_mut().and_then(|s| s.outbox.remove(&peer)) else {
            return;
        };
        for f in frames {
            if let Some(conn) = self.peers.get(&peer).and_then(|p| p.active) {
                self.write_logged(conn, &f);
            }
        }
    }

    /// The active stream to `peer` closed: its hops and probes will get no
    /// answer; a runtime we hold registrations of is dialled again (if that
    /// fails it is gone); our registrations pushed through it are placed
    /// again.
    pub(super) fn scopes_on_closed(&mut self, peer: NodeId) {
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let holds = s
            .members
            .values()
            .any(|m| m.table.held().any(|h| reg_runtime(&h.reg) == Some(peer)));
        self.scope_peer_failed(peer);
        if holds {
            self.reconnect(peer);
        }
        self.replace_via(peer);
    }

    /// A stream to `peer` could not be opened: what waited for it fails,
    /// and a runtime we hold registrations of is gone.
    pub(super) fn scopes_on_open_failed(&mut self, peer: NodeId) {
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        s.outbox.remove(&peer);
        let holds = s
            .members
            .values()
            .any(|m| m.table.held().any(|h| reg_runtime(&h.reg) == Some(peer)));
        self.scope_peer_failed(peer);
        self.placement_failed(peer);
        if holds {
            self.found_gone(peer);
        }
    }

    /// The clusters this runtime is a member of.
    pub fn scope_clusters(&self) -> Vec<ClusterInfo> {
        let now = self.now;
        let Some(s) = self.scopes.as_ref() else {
            return Vec::new();
        };
        s.members
            .iter()
            .map(|(scope, m)| ClusterInfo {
                scope: scope.clone(),
                generation: m.generation.as_ref().map(|g| g.gen),
                members: m.table.members(now),
                parent: m.table.parent(now),
                children: m.table.children(now),
                held: m.table.len(),
            })
            .collect()
    }

    /// This runtime's own registrations.
    pub fn scope_registrations(&self) -> Vec<RegistrationInfo> {
        let Some(s) = self.scopes.as_ref() else {
            return Vec::new();
        };
        s.own
            .iter()
            .map(|((scope, service), o)| {
                let (issued, expires) = match &o.reg.body {
                    crate::scope::Body::Registration {
                        issued, expires, ..
                    } => (*issued, *expires),
                    _ => (Time(0), Time(0)),
                };
                RegistrationInfo {
                    scope: scope.clone(),
                    service: service.clone(),
                    engine: o.engine,
                    issued,
                    expires,
                    next: o.next,
                    placed: o.placed.clone(),
                    error: o.error.clone(),
                }
            })
            .collect()
    }

    /// What the host saves and restores across restarts (see
    /// [`ScopeState`]); save it after [`Self::handle_bytes`] whenever it
    /// changed, or at least on shutdown.
    pub fn scope_state(&self) -> ScopeState {
        ScopeState {
            next_serial: self.scopes.as_ref().map_or(0, |s| s.next_serial),
        }
    }

    /// Restores what [`Self::scope_state`] gave before a restart.
    pub fn restore_scope_state(&mut self, state: ScopeState) {
        if let Some(s) = self.scopes.as_mut() {
            s.next_serial = s.next_serial.max(state.next_serial);
        }
    }

    /// Drops what this runtime's query cache learnt (answers and the
    /// sector runtimes of redirects), so the next query starts again from
    /// its own clusters or the bootstrap runtimes. Registrations this
    /// runtime holds as a cluster member are not touched.
    pub fn scope_forget_cache(&mut self) {
        let limits = self.config.scope_limits;
        if let Some(s) = self.scopes.as_mut() {
            s.querier.cache = Trie::new(limits);
        }
    }

    /// The grants and capabilities kept: those given to this runtime with
    /// [`Self::scope_add_record`] and those pushed to the clusters it is a
    /// member of.
    pub fn scope_records(&self) -> impl Iterator<Item = &Record> + '_ {
        self.scopes.iter().flat_map(|s| s.book.values())
    }

    /// The scopes and revocations this runtime knows (`None` when scopes
    /// are off).
    pub fn scope_authority(&self) -> Option<&Authority> {
        self.scopes.as_ref().map(|s| &s.authority)
    }
}

/// The runtime a registration names.
pub(super) fn reg_runtime(r: &Record) -> Option<NodeId> {
    match &r.body {
        crate::scope::Body::Registration { runtime, .. } => Some(*runtime),
        _ => None,
    }
}
