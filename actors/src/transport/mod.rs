//! The protocol core: one node's engines, proxies, streams and names.
//!
//! Methods come in families:
//! - inputs: [`Transport::handle_stream_open`], [`Transport::handle_open_failed`],
//!   [`Transport::handle_bytes`], [`Transport::handle_stream_closed`],
//!   [`Transport::handle_record`], [`Transport::handle_timeout`]; each takes
//!   the current time, which the other methods then use;
//! - app commands: start and stop engines, cast, call, reply, subscribe,
//!   publish, monitor, names, and scopes (records, registrations, queries,
//!   sends to a scope; see `scopes`);
//! - outputs: [`Transport::poll_output`] for the host (drain it after every
//!   input or command), [`Transport::recv`] per engine,
//!   [`Transport::poll_notice`] for call results, monitors and scope
//!   answers, and
//!   [`Transport::poll_timeout`] for the next deadline.

mod calls;
mod conn;
mod engines;
mod inbound;
mod monitors;
mod names;
mod route;
mod scopes;
mod state;
mod subs;
mod timers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::config::Config;
use crate::ids::{ConnId, EngineAddr, NodeId, Time};
use crate::keys::KeyHolder;
use crate::mailbox::{Delivery, ReplyTo};
use crate::output::{Notice, Output};
use crate::registry::NameTable;
use crate::stats::Stats;
use state::{
    Conn, InboundCall, LocalEngine, LocalSub, Monitor, Peer, PendingCall, Proxy, Resolving,
    Subscriber,
};

/// One node's actor transport (sans-IO, deterministic).
#[derive(Debug)]
pub struct Transport {
    config: Config,
    keys: KeyHolder,
    rng: ChaCha20Rng,
    now: Time,
    engines: BTreeMap<EngineAddr, LocalEngine>,
    proxies: BTreeMap<EngineAddr, Proxy>,
    conns: BTreeMap<ConnId, Conn>,
    peers: BTreeMap<NodeId, Peer>,
    resolving: BTreeMap<EngineAddr, Resolving>,
    queued: usize,
    pending_calls: BTreeMap<u64, PendingCall>,
    call_deadlines: BTreeSet<(Time, u64)>,
    inbound_calls: BTreeMap<ReplyTo, InboundCall>,
    subs: BTreeMap<u64, LocalSub>,
    subscribers: BTreeMap<EngineAddr, BTreeMap<(EngineAddr, u64), Subscriber>>,
    names: NameTable,
    name_lookups: BTreeMap<[u8; 32], (String, Time)>,
    monitors: BTreeMap<u64, Monitor>,
    next_id: u64,
    renew_at: Option<Time>,
    outputs: VecDeque<Output>,
    write_bufs: BTreeMap<ConnId, Vec<u8>>,
    notices: VecDeque<Notice>,
    stats: Stats,
    scratch: Vec<u8>,
    scopes: Option<Box<scopes::Scopes>>,
}

impl Transport {
    /// A transport for the node whose ed25519 secret seed is `node_seed`;
    /// `rng_seed` drives every random choice (engine keys, pair keys).
    pub fn new(config: Config, node_seed: &[u8; 32], rng_seed: [u8; 32]) -> Self {
        let scopes = config
            .scope_root
            .map(|root| Box::new(scopes::Scopes::new(root, &config, Time(0))));
        Self {
            config,
            keys: KeyHolder::new(node_seed),
            rng: ChaCha20Rng::from_seed(rng_seed),
            now: Time(0),
            engines: BTreeMap::new(),
            proxies: BTreeMap::new(),
            conns: BTreeMap::new(),
            peers: BTreeMap::new(),
            resolving: BTreeMap::new(),
            queued: 0,
            pending_calls: BTreeMap::new(),
            call_deadlines: BTreeSet::new(),
            inbound_calls: BTreeMap::new(),
            subs: BTreeMap::new(),
            subscribers: BTreeMap::new(),
            names: NameTable::new(),
            name_lookups: BTreeMap::new(),
            monitors: BTreeMap::new(),
            next_id: 1,
            renew_at: None,
            outputs: VecDeque::new(),
            write_bufs: BTreeMap::new(),
            notices: VecDeque::new(),
            stats: Stats::default(),
            scratch: Vec::new(),
            scopes,
        }
    }

    /// This node's ID.
    pub fn node_id(&self) -> NodeId {
        self.keys.node_id()
    }

    /// The key holder (to export or import persistent engine keys).
    pub fn keys(&self) -> &KeyHolder {
        &self.keys
    }

    /// The key holder, mutably (import keys, then [`Self::resume_engine`]).
    pub fn keys_mut(&mut self) -> &mut KeyHolder {
        &mut self.keys
    }

    /// Counters of traffic and drops.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The last time passed in.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Local engines, in address order.
    pub fn local_engines(&self) -> impl Iterator<Item = EngineAddr> + '_ {
        self.engines.keys().copied()
    }

    /// Foreign engines with their hosting node and whether it is reachable.
    pub fn foreign_engines(&self) -> impl Iterator<Item = (EngineAddr, NodeId, bool)> + '_ {
        self.proxies
            .iter()
            .map(|(&e, p)| (e, p.node, p.reach == state::Reach::Up))
    }

    /// Members with an open stream.
    pub fn connected_peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers
            .iter()
            .filter(|(_, p)| p.active.is_some())
            .map(|(&n, _)| n)
    }

    /// Calls our engines are waiting on.
    pub fn pending_calls(&self) -> usize {
        self.pending_calls.len()
    }

    /// The next delivery for a local engine.
    pub fn recv(&mut self, engine: EngineAddr) -> Option<Delivery> {
        self.engines.get_mut(&engine)?.mailbox.pop()
    }

    /// Deliveries waiting for a local engine.
    pub fn mailbox_len(&self, engine: EngineAddr) -> usize {
        self.engines.get(&engine).map_or(0, |e| e.mailbox.len())
    }

    /// Whether [`Self::poll_output`] has work for the host.
    pub fn has_output(&self) -> bool {
        !self.write_bufs.is_empty() || !self.outputs.is_empty()
    }

    /// The next piece of work for the host: writes first (one per stream,
    /// batched), then opens, closes, publishes and fetches in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some((&conn, _)) = self.write_bufs.iter().next() {
            let bytes = self.write_bufs.remove(&conn).unwrap_or_default();
            self.stats.bytes_out += bytes.len() as u64;
            return Some(Output::Write { conn, bytes });
        }
        self.outputs.pop_front()
    }

    /// The next notice for local engines.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Sets the clock; later calls without a time argument use it.
    pub fn set_time(&mut self, now: Time) {
        self.now = self.now.max(now);
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn random32(&mut self) -> [u8; 32] {
        let mut b = [0; 32];
        self.rng.fill_bytes(&mut b);
        b
    }
}

#[cfg(test)]
mod tests;
