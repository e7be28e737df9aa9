//! The namespace lab: an emulated internet of Linux network namespaces
//! with real kernel NAT, and the processes that run in it. The end-to-end
//! tests (`tests/netns`) build their worlds with it, and so does `tessel
//! demo`.
//!
//! ```text
//!                        Internet (core namespace, bridge br0)
//!          ______________________|______________________________
//!         |                      |                              |
//!   PublicHost             NatRouter wan0 203.0.113.1     NatRouter (CGN) wan0 203.0.113.2
//!   198.51.100.1           (nftables NAT of its kind)     lan0 198.19.1.1/24
//!   (+ 192.0.2.N aliases)    lan0 198.18.1.1/24                  |
//!                              |                         NatRouter (home) wan0 198.19.1.2
//!                        PrivateHost 198.18.1.2            lan0 198.18.2.1/24
//!                                                                |
//!                                                         PrivateHost 198.18.2.2
//! ```
//!
//! * [`Internet`] ([`internet`]): the core namespace, public hosts and
//!   extra public addresses.
//! * [`NatRouter`] ([`router`]): a router namespace with a WAN leg and a
//!   LAN bridge; private hosts and NATs behind NATs.
//! * [`NatKind`] ([`nat`]): the NAT behaviours and how nftables builds
//!   each, from full cone to symmetric and the stock Linux router
//!   (masquerading without a firewall); and what a router can add to its
//!   kind: hairpinning ([`NatRouter::enable_hairpinning`]), a short UDP
//!   mapping timeout ([`NatRouter::set_udp_timeout`]) and global IPv6
//!   behind a stateful firewall ([`Internet::add_dual_stack_nat`]).
//!   [`NatRouter::conntrack`] shows a router's connection tracking.
//! * [`Netns`] ([`netns`]): one namespace, deleted with everything in it
//!   when dropped (unless kept); [`Process`] ([`process`]): a child with
//!   its logs on disk, stopped by PID; [`wait::poll`]: deadline-bounded
//!   waiting.
//! * [`ping`] and [`transfer`]: traffic between namespaces, measured.
//!
//! Addresses: public 198.51.100.0/24 (hosts), 203.0.113.0/24 (NAT WAN
//! legs), 192.0.2.0/24 (aliases), 2001:db8:1::/64 (hosts), 2001:db8:2::/64
//! (WAN legs) and 2001:db8:18:L::/64 (the LANs of dual-stack routers);
//! private 198.18.N.0/24 (home LANs) and 198.19.N.0/24 (carrier-grade NAT
//! segments). All of it lives in the lab's own namespaces, named uniquely
//! per process (`ts-<pid>-<n>-<role>`) or with a fixed prefix
//! ([`Naming`]), and is deleted, nftables rules included, when the last
//! handle is dropped, unless [kept](Internet::keep). Nothing is created
//! outside those namespaces.
//!
//! Everything here needs root, `ip` (iproute2) and, for NAT routers, `nft`
//! (nftables). Linux only.

// The lab runs real processes and real traffic against the wall clock, as
// the namespace harness does; it is no protocol state machine.
#![allow(clippy::disallowed_methods)]

pub mod error;
pub mod internet;
pub mod link;
pub mod nat;
pub mod netns;
pub mod ping;
pub mod process;
pub mod router;
pub mod transfer;
pub mod wait;
mod world;

pub use error::{Error, Result, TimedOut};
pub use internet::{Internet, PublicHost};
pub use nat::NatKind;
pub use netns::Netns;
pub use process::{Process, Tether};
pub use router::{NatRouter, PrivateHost};
pub use world::Naming;
