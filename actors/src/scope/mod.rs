//! Scopes: services registered under paths (`/org/team/data`), found by
//! two queries, with access control from a chain of signed records.
//!
//! This is the protocol core, sans-IO like the rest of the crate: nothing
//! here opens a socket or reads a clock; `now` is passed in and answers
//! come back as bytes for the host to carry. `docs/scopes.md` lists every
//! byte layout.
//!
//! # How the design maps
//!
//! - **Scopes and authority** ([`path`], [`record`], [`authority`]): the
//!   network's configuration names a root key, which signs the creation of
//!   `/`; the owner of a scope signs the creation of its children and says
//!   whether each is world-readable. Hosting grants, read capabilities
//!   (*readcaps*: a token for a holder key or a bearer) and read grants for
//!   a member are signed by the owner of the scope or of an ancestor, carry
//!   an expiry and can be revoked by their signer. Registrations are signed
//!   by the runtime, carry a lifetime, name the runtime's node ID and
//!   optionally the engine serving the service, and can be withdrawn.
//! - **Sector clusters and responsibility** ([`responder`]): the runtimes
//!   registered for the [`SECTOR`] service in a scope form that scope's
//!   sector cluster. A cluster holds the registrations of its scope and of
//!   the descendants without a cluster of their own, as the seed's parent
//!   sector service stores a new directory's own sectors.
//! - **The routing trie** ([`trie`]): keyed by path, each node a table of
//!   registrations with expiry; longest-prefix lookup; every answer carries
//!   a cache lifetime chosen by the answering runtime.
//! - **Queries and redirects** ([`message`], [`responder`], [`querier`]):
//!   *all* (every runtime directly in the scope with the service) and
//!   *closest* (the scope, else the nearest ancestor that has one). A
//!   runtime that does not hold the scope redirects to a runtime that does,
//!   by node ID (the overlay address); the querier follows redirects with a
//!   hop limit and loop detection and caches answers and redirect targets.
//! - **Access**: a query may carry a readcap or a read grant (the querier's
//!   node ID, as authenticated by the overlay, must match); without one it
//!   is allowed only when every scope from `/` down is world-readable.
//!   Refusal and absence give the same [`Answer::Denied`].
//!
//! - **Hosting** ([`hosting`] and the transport): [`crate::Transport`]
//!   carries queries, registrations and records between runtimes on its
//!   streams, keeps the clusters this runtime is in ([`table`]), gives
//!   each cluster a generation number and sends messages to a scope
//!   (`Transport::scope_*`; `docs/scopes.md` §7–8).
//!
//! Not here yet: the daemon's wiring, the CLI and DNS bootstrap.

pub mod authority;
pub mod fixture;
pub mod hosting;
pub mod message;
pub mod path;
pub mod querier;
pub mod record;
pub mod responder;
pub mod table;
pub mod trie;

pub use authority::{AuthError, Authority, Credential, ScopeInfo};
pub use hosting::{
    ClusterInfo, Generation, Placed, RegistrationInfo, ScopeError, ScopeFound, ScopeQueryId,
    ScopeState,
};
pub use message::{Answer, Query, QueryKind};
pub use path::{PathError, ScopePath};
pub use querier::{Found, Hop, Progress, Querier, QuerierStats, QueryError, QueryRun, Start};
pub use record::{Body, Kind, Record};
pub use responder::{RegisterError, Responder, ResponderStats, SECTOR};
pub use table::{ClusterTable, Held, Taken};
pub use trie::{Entry, Trie, TrieError, TrieLimits};
