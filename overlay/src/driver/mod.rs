//! The thin tokio shell around [`crate::node::Node`]: it owns the UDP socket,
//! the TUN device, the control socket, the clock and the signals, and moves
//! bytes between them and the node. It makes no protocol decisions.
//!
//! Message flow:
//! - UDP datagram → `Node::handle_datagram` → send the reply or write the
//!   decrypted packet to the TUN;
//! - TUN packet → `Node::handle_tun_packet` → send the datagram;
//! - deadline from `Node::poll_timeout` → `Node::handle_timeout`;
//! - after each, drain `Node::poll_event` (peer cache, IPv4 changes, extra
//!   sockets to open or close), then `Node::poll_transmit` to the socket
//!   each datagram names;
//! - TCP connections (members whose UDP is blocked) → [`tcp`];
//! - engines (actors) and their local socket `engines.sock` → [`engines`];
//! - the DNS side of the scope bootstrap (TXT lookups) → [`bootstrap`];
//! - control socket request ([`control`]: the JSON control API v1) →
//!   answered from `Node::status` and the other parts, or handed to the
//!   tile host or the scopes; the local sockets live in the runtime dir
//!   ([`runtime_dir`]);
//! - new settings from a reload of the config file → [`settings`];
//! - the node's public addresses, while someone asks → [`public_addrs`];
//! - a scrape of the metrics endpoint (`--metrics`) → a snapshot of the
//!   counters, answered from the event loop ([`metrics`]);
//! - the live map (`--map`) → a snapshot of the members and links,
//!   answered from the event loop, pushed to its pages ([`map`]);
//! - the shutdown future (SIGINT or SIGTERM for the daemon) → remove the
//!   interface and return.

pub mod bootstrap;
pub mod clock;
pub mod control;
mod device;
mod dir_lock;
pub mod dns;
pub mod embed;
pub mod engines;
mod error;
mod event_loop;
mod extra_sockets;
mod http_server;
mod lan;
pub mod local_addrs;
pub mod map;
mod membership;
pub mod metrics;
mod names;
mod ping;
pub mod portmap;
mod public_addrs;
mod records;
mod rotation;
mod route_clash;
pub mod runtime_dir;
pub mod scopes;
mod send_batch;
mod service_manager;
pub mod settings;
pub mod state_dir;
pub mod tcp;
pub mod tile;
mod tun;
mod udp;
pub mod userspace;
mod waiting;
mod whois;

pub use device::{ChannelDevice, DeviceSpec};
pub use error::DriverError;
pub use event_loop::{run, shutdown_signal, RunOptions};
pub use membership::Membership;
