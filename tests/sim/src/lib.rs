//! A deterministic network simulator for Tessel.
//!
//! It drives many real sans-IO [`tessel_overlay::node::Node`]s in one
//! process, on virtual time: hosts with access links, NAT boxes with every
//! RFC 4787 behaviour (also behind each other), partitions, crashes,
//! restarts with the state dir kept, and roaming. All randomness comes from
//! one seed, so the same seed gives the same run, event for event; a failing
//! test prints its seed and the command that replays it ([`seed`]).
//!
//! * [`World`] builds and runs a scenario;
//! * [`nat::Nat`] and [`link::Link`] are sans-IO models usable on their own;
//! * [`matrix`] runs every pair of NAT kinds through a rendezvous node, and
//!   named scenarios (two members behind one NAT, NAT444, a Linux router's
//!   port clash, lossy links, NAT reboots), many trials each;
//! * [`chaos`] lets agents join, leave, crash, roam, talk and cut links, then
//!   checks the invariants;
//! * [`mesh`] measures complete connectivity at scale: random pairs of a
//!   large network behind a mix of NATs;
//! * [`actors`] hosts the actor transport (`tessel-actors`) with streams
//!   carried as lossy datagrams and retransmitted.
//!
//! The simulator never reads a clock or the OS random source; the
//! `tessel-sim` binary reads the wall clock only to report how long a run
//! took, and [`workers`] only to choose whether threads make it faster
//! (which never changes what a run does).
//!
//! ```text
//! cargo test -p tessel-sim                                   # everything CI runs (seconds)
//! SIM_SEED=1234 cargo test -p tessel-sim --test scenarios -- --exact partition_heals
//! cargo test -p tessel-sim --test node_findings -- --ignored # what the node does not do yet
//! cargo test -p tessel-sim --test nat_kinds -- --ignored     # matrix goals not reached yet
//! cargo run --release -p tessel-sim -- matrix --trials 20 --seed 1
//! cargo run --release -p tessel-sim -- trial --b symmetric_random --c restricted_cone --seed 3
//! cargo run --release -p tessel-sim -- scenario --name reboot_carrier --seed 1
//! cargo run --release -p tessel-sim -- chaos --nodes 1000 --minutes 10 --seed 1
//! cargo run --release -p tessel-sim -- mesh --nodes 1000 --pairs 1000 --seed 1
//! ```
//!
//! `RUST_LOG=debug` (or `tessel_sim=trace` for every datagram and network
//! drop) on the binary shows the nodes' logs in spans that name the host and
//! the virtual time.

pub mod actors;
pub mod addr;
pub mod chaos;
pub mod digest;
pub mod error;
pub mod event;
pub mod host;
pub mod ids;
pub mod link;
pub mod matrix;
pub mod mesh;
pub mod nat;
pub mod rng;
mod script;
pub mod seed;
pub mod stats;
pub mod time;
pub mod traffic;
pub mod workers;
pub mod world;

pub use error::SimError;
pub use host::{Liveness, Net, Place};
pub use ids::{HostId, NatId};
pub use link::Link;
pub use nat::{NatConfig, NatKind};
pub use time::{millis, secs, SimTime};
pub use world::World;
