//! Tessel actor transport: engines (actors) addressed by their own ed25519
//! public keys, reachable from any member of the overlay.
//!
//! This crate is the protocol core. It is sans-IO and deterministic: it never
//! opens a socket, reads a clock or asks the OS for randomness. Time is passed
//! into every `handle_*` method, randomness comes from a seed given to
//! [`Transport::new`], and everything the core wants done comes out of
//! [`Transport::poll_output`] as an [`Output`] for the host (open a stream,
//! write bytes, publish or fetch a record). A [`Host`] is the thin adapter that
//! carries those out; [`memory::Network`] is one that wires many nodes together
//! in one process for tests.
//!
//! # Model
//!
//! - An **engine** has its own ed25519 key; its address ([`EngineAddr`]) is the
//!   public key. The node's [`KeyHolder`] is the only place engine secrets
//!   live. Engines are ephemeral or persistent ([`Persistence`]); persistent
//!   keys can be exported and imported so an engine keeps its address across
//!   restarts.
//! - Each local engine has a bounded mailbox ([`Transport::recv`]); a full
//!   mailbox refuses. Engines on one node talk by moving values into each
//!   other's mailboxes: no crypto, no copy.
//! - A **foreign engine** is known through a proxy: which node hosts it, until
//!   when, and whether a stream to that node is up. Proxies are created by
//!   signed *learn* records (signed by the engine and by its node) that nodes
//!   burst when a stream comes up, and destroyed by *forget* records when an
//!   engine stops. A stream that drops marks its proxies unreachable.
//! - Messages to foreign engines travel as `{src, dst, authenticated message}`
//!   frames on the stream to the hosting node. Each ordered engine pair agrees
//!   a MAC key once per stream by an offer signed with the sending engine's
//!   key; every message then carries a sequence number and a keyed BLAKE3 MAC.
//!   The receiver accepts a frame naming `src` only from the stream of `src`'s
//!   hosting node, checks the MAC and that the sequence number increases, and
//!   drops and counts ([`Stats`]) everything else.
//! - A sender with only an address fetches the engine's host record (the same
//!   signed learn record, published under the engine's address), connects to
//!   the node it names, and goes on as above.
//! - Semantics: [`Transport::cast`] (at most once), [`Transport::call`] with a
//!   timeout and typed errors ([`CallError`]), subscriptions with a filter
//!   evaluated by the publishing node ([`Filter`]), monitors
//!   ([`Transport::monitor`]), and a network-wide name registry
//!   ([`Transport::register`], [`Transport::whereis`], and
//!   [`Transport::lookup_name`] through the record store) whose conflict rule
//!   is described in [`registry`]. Messages from one engine to another arrive in
//!   the order sent.
//! - **Scopes** ([`scope`]): runtimes register services under paths, found
//!   by two queries through sector clusters, with access from a chain of
//!   signed records; the transport hosts them on its streams
//!   ([`Transport::scope_query`], [`Transport::scope_register`],
//!   [`Transport::scope_send`], …; `docs/scopes.md`).
//!
//! Wire formats are in [`wire`], one module per frame or body, each with a
//! parser that returns errors and never panics. `docs/actors.md` describes the
//! whole design and every byte layout.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod filter;
pub mod ids;
pub mod keys;
pub mod local;
pub mod mailbox;
pub mod output;
pub mod registry;
pub mod scope;
pub mod stats;
mod transport;
pub mod wire;

pub use config::Config;
pub use error::{CallError, NameError, SendError};
pub use filter::{Event, Filter};
pub use ids::{ConnId, EngineAddr, NodeId, Time};
pub use keys::{KeyHolder, Persistence};
pub use mailbox::{Delivery, ReplyTo};
pub use output::{CallId, DownReason, MonitorRef, Notice, Output, SubId};
pub use scope::{ScopeError, ScopeFound, ScopeQueryId, ScopeState};
pub use stats::{ScopeStats, Stats};
pub use transport::Transport;
pub mod host;
pub mod memory;
pub use host::{drive, Host};
