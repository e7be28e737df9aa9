//! Tessel's overlay: identity, membership, addressing, wire format, Noise
//! sessions, peers and the node.
//!
//! The protocol core ([`node::Node`]) is a deterministic state machine: it
//! never touches a socket, a clock or the OS random source. Time comes in as an
//! argument on every call, randomness from a seed in its configuration. The
//! `driver` feature adds the thin tokio shell (UDP socket, TUN device, control
//! socket, signals) and the `tessel` binary.
//!
//! Run loop of a driver:
//! 1. feed inputs: [`node::Node::handle_datagram`] for UDP datagrams,
//!    [`node::Node::handle_tun_packet`] for IP packets from the interface,
//!    [`node::Node::handle_timeout`] when the deadline from
//!    [`node::Node::poll_timeout`] passes;
//! 2. act on the [`node::Action`] each input returns (it names a region of the
//!    caller's buffer to send or deliver);
//! 3. drain [`node::Node::poll_event`] (it asks for extra sockets), then
//!    [`node::Node::poll_transmit`] until it returns `None` (each datagram
//!    names the socket it leaves from), and sleep until the next
//!    [`node::Node::poll_timeout`].

pub mod identity;
pub mod limits;
pub mod node;
pub mod session;
pub mod wire;

#[cfg(feature = "driver")]
pub mod driver;
