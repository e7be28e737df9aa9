//! The NAT traversal matrix on real kernel NAT: two members B and C behind
//! every unordered pair of NAT kinds ([`cells`]), one public member R as
//! their only rendezvous ([`lab`]). The traversal test runs each cell once
//! and checks traffic and the final path; `lab-matrix` runs each cell many
//! times and measures ([`run`]) and sums up ([`stats`]) how long a first
//! packet and a direct path take.

pub mod cells;
pub mod lab;
pub mod run;
pub mod stats;

pub use cells::{cell, Expect, MatrixCell, Site, CELLS, SITES};
pub use lab::{both_direct, path_between, Cell, Lab, Member, Path};
pub use run::{measure, Nodes, RunOutcome, RunPlan};
