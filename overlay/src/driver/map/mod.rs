//! The live map (`tessel up --map ADDR:PORT`, off by default): a small web
//! page that draws the members this node knows, the links between them
//! (direct, relayed and through whom, or TCP, with RTT and traffic) and
//! this node's NAT, and follows changes live over server-sent events.
//! `tessel demo --map` serves the same page for the whole emulated
//! network. The page and the snapshot's JSON are described in docs/map.md.
//!
//! Message flow:
//! - a page's `GET /events` → an event stream ([`events`]) that first asks
//!   the [`Source`] for a snapshot, then follows the feed;
//! - while a page watches, the feed asks the source every second: the
//!   source is the event loop, which turns the node's status and the pairs
//!   it relays into a [`MapSnapshot`] ([`node_view`]) between two inputs
//!   and sends it back; a snapshot that differs from the last is pushed to
//!   every stream;
//! - every request is checked first ([`access`]): its Host header, and off
//!   loopback the token printed at start.
//!
//! The state stays with its owner; the map holds only the last snapshot's
//! JSON.

pub mod access;
pub mod events;
pub mod http;
pub mod node_view;
pub mod snapshot;

pub use access::{Access, AccessError, Token};
pub use events::{SnapshotReply, Source};
pub use http::{bind, serve, BindError, MapServer};
pub use node_view::{node_snapshot, node_snapshot_of};
pub use snapshot::{Link, LinkKind, MapSnapshot, Member, Nat, View, ViewKind};

/// The map's address in `tessel up --map` examples and `tessel demo --map`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9746";

/// The file in the state dir that holds the map's URL with its token.
pub const URL_FILE: &str = "map-url.txt";

/// How often a watched node's map is refreshed.
pub const NODE_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// What `tessel up --map` asks for: where to listen (already bound, so
/// that the caller knows the port) and who may read it.
#[derive(Debug)]
pub struct MapOptions {
    /// The bound listener ([`bind`]).
    pub listener: std::net::TcpListener,
    /// Its rules.
    pub access: Access,
}

#[cfg(test)]
mod tests;
