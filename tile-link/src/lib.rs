//! Tessel tile links: a grid of machines behaving as intertile-linked
//! tiles, after the T2 tile notes.
//!
//! A *tile* is one node of a grid. It has up to eight neighbours, one per
//! compass direction ([`dir`], [`grid`]), and exchanges packets with them in
//! the T2 formats ([`wire`]).
//!
//! This crate is the protocol core. It is sans-IO and deterministic: it
//! opens no sockets, reads no clock (time is an argument) and draws no OS
//! randomness (seeds are arguments). It never depends on the overlay; the
//! daemon carries each intertile link over an overlay session and drives
//! these machines.
pub mod channel;
pub mod dir;
pub mod file;
pub mod grid;
pub mod node;
pub mod physics;
pub mod sim;
pub mod tile;
pub mod wire;

pub use dir::Dir;
pub use grid::{Grid, Pos};
pub use node::{Node, NodeConfig, NodeEvent};
pub use tile::Tile;
