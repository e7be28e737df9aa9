//! Tessel tile links: a grid of machines behaving as intertile-linked
//! tiles, after the T2 tile notes. `docs/tile-link.md` describes the
//! formats and the channel framing for any language.
//!
//! A *tile* is one node of a grid. It has up to eight neighbours, one per
//! compass direction ([`dir`], [`grid`]), and exchanges packets with them in
//! the T2 formats ([`wire`]). The pieces:
//!
//! - [`tile`]: the neighbour model. Presence per direction, Tile Event
//!   Packets on connect and disconnect, demultiplexing of received packets
//!   (MFM channel, bound services, counted drops), per-direction credit for
//!   the MFM channel, and priority queues toward each link.
//! - [`channel`]: the frames programs and the daemon exchange on the local
//!   Unix socket.
//! - [`file`](mod@file): the managed file update service (service 8): signed files,
//!   gossip, resumable windowed transfers, verify-then-commit storage.
//! - [`physics`]: change physics (service 9): signed "run this file"
//!   announcements, newest winning.
//! - [`neighbours`]: who is in each direction, configured or from the grid.
//! - [`node`]: one tile with both services wired in; [`link`]: the trait a
//!   host implements for its links; [`sim`]: a deterministic grid simulator.
//!
//! This crate is the protocol core. It is sans-IO and deterministic: it
//! opens no sockets, reads no clock (time is an argument) and draws no OS
//! randomness (seeds are arguments). It never depends on the overlay; the
//! daemon carries each intertile link over an overlay session.
//!
//! A host drives a [`Node`] like this:
//!
//! ```
//! use std::time::Instant;
//! use tessel_tile_link::file::MemStore;
//! use tessel_tile_link::{Dir, Node, NodeConfig, NodeEvent};
//!
//! let now = Instant::now();
//! let mut node = Node::new(NodeConfig::default(), MemStore::new(), now);
//! node.tile_mut().open_mfm().unwrap();
//! // The overlay session to the eastern neighbour came up; it can take
//! // 32 packets.
//! node.handle_link_up(now, Dir::East);
//! node.handle_link_credit(Dir::East, 32);
//! // A packet arrived from the east.
//! node.handle_packet(now, Dir::East, &[0xa6, 0x01]);
//! // Drain outputs after every input: packets for the links ...
//! while let Some(t) = node.poll_transmit() {
//!     let _ = (t.dir, t.packet); // send over the overlay
//! }
//! // ... and events for programs (here: the connect TEP, presence, the MFM
//! // packet with DIR rewritten to east, then credit toward the east).
//! let events: Vec<NodeEvent> = std::iter::from_fn(|| node.poll_event()).collect();
//! assert_eq!(events.len(), 4);
//! // And call handle_timeout at poll_timeout.
//! let _next = node.poll_timeout();
//! ```

pub mod channel;
pub mod dir;
pub mod file;
pub mod grid;
pub mod link;
pub mod neighbours;
pub mod node;
pub mod physics;
pub mod sim;
pub mod tile;
pub mod wire;

pub use dir::Dir;
pub use grid::{Grid, Pos};
pub use node::{Node, NodeConfig, NodeEvent};
pub use tile::Tile;
