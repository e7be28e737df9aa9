//! Harness for end-to-end tests across network namespaces.
//!
//! Every test builds its own world: a [`Lan`] of fresh network namespaces
//! joined by a bridge, with [`TesselNode`]s running `tessel up` inside them
//! (with a TUN device, or `--userspace` with its SOCKS5 proxy and port
//! forwards), and the [`services`] they carry.
//! Everything is torn down on drop, processes are stopped by PID, and all
//! waiting is deadline-bounded polling ([`wait::poll`]).
//!
//! [`browser`] drives a headless Chromium over WebDriver, for the pages a
//! node serves (the live map).
//!
//! The [`matrix`] is the NAT traversal matrix: its cells, the lab of one
//! cell, and the measurement of repeated runs (`lab-matrix`).
//!
//! The [`lab`] builds a bigger world for the same kind of test: an emulated
//! internet with NAT routers of every behaviour, NAT behind NAT, and delay
//! and loss on links. Its core, and [`netns`] and [`process`], live in the
//! `tessel-lab` crate (shared with `tessel demo`) and are re-exported here.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

pub mod browser;
pub mod cluster;
pub mod engine_client;
pub mod lab;
pub mod lan;
pub mod matrix;
pub mod metrics;
pub mod services;
pub mod status;
pub mod tempdir;
pub mod tessel;
pub mod topology;
pub mod traffic;
pub mod transfer;
pub mod wait;

pub use tessel_lab::{netns, process};

pub use lan::{Lan, LanHost};
pub use netns::Netns;
pub use process::Process;
pub use status::{PeerStatus, Status};
pub use tempdir::TempDir;
pub use tessel::{NodeConfig, OverlayIps, TesselNode};
