//! Internal state records of the transport.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use zeroize::Zeroizing;

use crate::filter::Filter;
use crate::ids::{EngineAddr, NodeId, Time};
use crate::keys::Persistence;
use crate::mailbox::Mailbox;
use crate::wire::body::Body;
use crate::wire::frame::Deframer;
use crate::wire::learn::Learn;

/// A running local engine.
#[derive(Debug)]
pub(super) struct LocalEngine {
    pub(super) mailbox: Mailbox,
    pub(super) learn: Learn,
    pub(super) persistence: Persistence,
}

/// Whether a proxy's hosting node can be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// A stream to the hosting node is active.
    Up,
    /// Known from a host record; a stream is being opened.
    Connecting,
    /// The stream dropped or could not be opened.
    Down,
}

/// A message waiting for a stream or a host record.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) src: EngineAddr,
    pub(super) body: Body,
}

/// A foreign engine known here.
#[derive(Debug)]
pub(super) struct Proxy {
    pub(super) node: NodeId,
    pub(super) expires: Time,
    pub(super) reach: Reach,
    pub(super) queue: Vec<Queued>,
}

/// An address being looked up in the record store.
#[derive(Debug)]
pub(super) struct Resolving {
    pub(super) deadline: Time,
    pub(super) queue: Vec<Queued>,
}

/// The send side of a pair key (the key is wiped on drop, never printed).
pub(super) struct SendKey {
    pub(super) epoch: u64,
    pub(super) key: Zeroizing<[u8; 32]>,
    pub(super) seq: u64,
}

/// The receive side of a pair key (the key is wiped on drop, never printed).
pub(super) struct RecvKey {
    pub(super) epoch: u64,
    pub(super) key: Zeroizing<[u8; 32]>,
    pub(super) last_seq: u64,
}

impl fmt::Debug for SendKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendKey")
            .field("epoch", &self.epoch)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RecvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvKey")
            .field("epoch", &self.epoch)
            .field("last_seq", &self.last_seq)
            .finish_non_exhaustive()
    }
}

/// One open stream.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) peer: NodeId,
    pub(super) outbound: bool,
    pub(super) deframer: Deframer,
    pub(super) send_keys: BTreeMap<(EngineAddr, EngineAddr), SendKey>,
    pub(super) recv_keys: BTreeMap<(EngineAddr, EngineAddr), RecvKey>,
    pub(super) next_epoch: u64,
    /// The last scope frames written on this stream (bounded), written
    /// again on the stream that replaces it: a stream dropped after both
    /// sides opened at once may lose what was written on it.
    pub(super) scope_log: VecDeque<(crate::ids::Time, Vec<u8>)>,
}

/// What we track per member, connected or not.
#[derive(Debug, Default)]
pub(super) struct Peer {
    pub(super) active: Option<crate::ids::ConnId>,
    pub(super) connecting: bool,
    pub(super) proxies: usize,
    pub(super) inbound_calls: usize,
    pub(super) subscriptions: usize,
    /// Start of the window the scope limits count in.
    pub(super) scope_window: crate::ids::Time,
    /// Scope pushes taken from this peer in the window.
    pub(super) scope_pushes: u32,
    /// Scope queries and probes answered for this peer in the window.
    pub(super) scope_queries: u32,
}

/// A call a local engine is waiting on.
#[derive(Debug)]
pub(super) struct PendingCall {
    pub(super) caller: EngineAddr,
    pub(super) callee: EngineAddr,
    pub(super) deadline: Time,
}

/// A call from a remote engine that a local engine has not answered.
#[derive(Debug)]
pub(super) struct InboundCall {
    pub(super) peer: NodeId,
    pub(super) deadline: Time,
}

/// A local engine's subscription.
#[derive(Debug)]
pub(super) struct LocalSub {
    pub(super) subscriber: EngineAddr,
    pub(super) publisher: EngineAddr,
    pub(super) filter: Filter,
}

/// A local engine watching another.
#[derive(Debug)]
pub(super) struct Monitor {
    pub(super) watcher: EngineAddr,
    pub(super) target: EngineAddr,
}

/// A subscriber to a local publisher.
#[derive(Debug)]
pub(super) struct Subscriber {
    pub(super) filter: Filter,
    /// The subscriber's node when remote (for the per-peer limit).
    pub(super) peer: Option<NodeId>,
}
