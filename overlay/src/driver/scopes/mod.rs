//! Scopes hosted by the daemon (`docs/scopes.md`): the options that turn
//! them on, the control requests that drive them, the text form of signed
//! records, the saved scope state and the DNS bootstrap task.
//!
//! The transport that hosts the scopes is the engine host's
//! (`driver::engines`); its glue (`engines/scopes.rs`) carries requests to
//! it and answers them when the transport's notices come:
//! - `tessel.sock` command `scope` → [`request::ScopeRequest`] → a
//!   transport scope call; a query or send waits (with a deadline) for
//!   `Notice::ScopeAnswer`/`ScopeSent`, answered as [`answer`] JSON;
//! - DNS answers ([`dns`]) → `Transport::set_scope_bootstrap` with the
//!   configured runtimes, remembered in the state dir;
//! - after every input, the scope state is saved when it changed ([`state`]).

pub mod answer;
pub mod dns;
pub mod request;
pub mod state;
pub mod text;

use std::net::SocketAddr;

use crate::identity::{NodeId, OwnerId};

/// How a node takes part in the scopes (`tessel up --scope-…`).
#[derive(Debug, Clone, Default)]
pub struct ScopeOptions {
    /// The root key: scopes are on when it is set.
    pub root: Option<OwnerId>,
    /// Root runtimes to start queries from (`--scope-bootstrap`).
    pub bootstrap: Vec<NodeId>,
    /// A DNS name whose TXT records name root runtimes
    /// (`--scope-bootstrap-dns`).
    pub dns: Option<String>,
    /// The DNS server to ask instead of the system's resolvers.
    pub dns_server: Option<SocketAddr>,
}
