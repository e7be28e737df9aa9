//! What the transport asks of its host, and what it tells local engines.

use crate::error::CallError;
use crate::ids::{ConnId, EngineAddr, NodeId};
use crate::scope::{QueryError, ScopeError, ScopeFound, ScopeQueryId};

/// Work for the host, from [`crate::Transport::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a reliable ordered stream to this member; report the result with
    /// `handle_stream_open` or `handle_open_failed`.
    Open {
        /// The member to connect to.
        peer: NodeId,
    },
    /// Write these bytes, in order, on this stream.
    Write {
        /// The stream.
        conn: ConnId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Close this stream (its framing broke, or a duplicate stream lost).
    Close {
        /// The stream.
        conn: ConnId,
    },
    /// Store a signed record under `key` at the members nearest the key.
    Publish {
        /// The record's key (an engine address).
        key: [u8; 32],
        /// The record.
        record: Vec<u8>,
    },
    /// Fetch the records stored under `key`; answer with `handle_record`.
    Fetch {
        /// The key (an engine address).
        key: [u8; 32],
    },
}

/// Why a monitored engine is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// A local engine stopped.
    Stopped,
    /// Its hosting node said it stopped.
    Forgotten,
    /// Its host record expired without renewal.
    Expired,
    /// The connection to its hosting node dropped or could not be opened.
    Unreachable,
    /// No such engine is known.
    NoSuchEngine,
}

/// Names a monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonitorRef(pub u64);

/// Names an outstanding call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// Names a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubId(pub u64);

/// News for local engines, from [`crate::Transport::poll_notice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A call finished.
    CallDone {
        /// The call.
        call: CallId,
        /// The engine that made it.
        caller: EngineAddr,
        /// The reply, or why there is none.
        result: Result<Vec<u8>, CallError>,
    },
    /// A monitored engine is gone; the monitor is removed.
    Down {
        /// The monitor.
        monitor: MonitorRef,
        /// The engine that asked.
        watcher: EngineAddr,
        /// The engine that is gone.
        target: EngineAddr,
        /// Why.
        reason: DownReason,
    },
    /// A local engine lost a name to an earlier (or equal-time, lower
    /// address) claim; its claim has been released.
    NameLost {
        /// The name.
        name: String,
        /// The local engine that lost it.
        loser: EngineAddr,
        /// The owner now.
        winner: EngineAddr,
    },
    /// The answer to [`crate::Transport::lookup_name`].
    NameFound {
        /// The name looked up.
        name: String,
        /// Its owner under the conflict rule, if any claim was found.
        owner: Option<EngineAddr>,
    },
    /// The answer to [`crate::Transport::scope_query`].
    ScopeAnswer {
        /// The query.
        id: ScopeQueryId,
        /// What it found, or why it failed.
        result: Result<ScopeFound, QueryError>,
    },
    /// The outcome of [`crate::Transport::scope_send`].
    ScopeSent {
        /// The send.
        id: ScopeQueryId,
        /// The engines the payload was handed to, or why not all of them.
        result: Result<Vec<EngineAddr>, ScopeError>,
    },
}
