//! The NAT traversal matrix with real kernel NAT: two members B and C behind
//! every unordered pair of NAT kinds, one public member R as the only
//! rendezvous. One test per cell (`nat_<B>_x_<C>`), so that the runner
//! spreads them over its threads; every cell builds its own lab, whose
//! namespaces are named per process and per lab and never collide.
//!
//! ```text
//!                      Internet (core namespace, br0)
//!        ___________________|____________________________
//!       |                   |                            |
//!   R 198.51.100.1     site of B                    site of C
//!   (tessel up)        public: 198.51.100.N         (the same, with
//!                      NAT: router 203.0.113.N      its own NAT kind)
//!                           lan0 198.18.L.1/24
//!                           B 198.18.L.2
//!                      tessel up --peer R           tessel up --peer R
//! ```
//!
//! Each cell waits (within [`CONNECT_TIMEOUT`] of the nodes' start) for B
//! and C to list each other as connected and, where the table
//! ([`tessel_netns::matrix::CELLS`]) says the path must be direct, for both
//! to report a direct path; then it asserts that ping works both ways over both overlay families and that a
//! TCP transfer of a few MB goes through, and finally compares the path
//! between them with the table. It prints one line, `CELL <B> x <C>: ...`,
//! with its times. `bench/lab-matrix.sh` runs the same cells many times
//! and reports percentiles.
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `ping`,
//! `iperf3` and the `tessel` binary (`cargo build -p tessel-overlay --bin
//! tessel`, or set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tessel_netns::matrix::{self, path_between, Cell, Expect, MatrixCell, Path};
use tessel_netns::traffic::{iperf_tcp, ping_all};
use tessel_netns::TempDir;

/// How long B and C may take to reach each other. A bound that fails the
/// cell, not a speed requirement: holes are punched well within it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes of the TCP transfer from B to C (iperf3 `-n`).
const TRANSFER: &str = "4M";

/// Ping both ways over both overlay families, and a TCP transfer B → C.
fn check_traffic(cell: &Cell) -> Result<()> {
    let (b_ips, c_ips) = (cell.b.node.ip()?, cell.c.node.ip()?);
    let pings = vec![
        (
            "ping B -> C (IPv6)".to_owned(),
            cell.b.ns(),
            c_ips.v6.into(),
        ),
        (
            "ping B -> C (IPv4)".to_owned(),
            cell.b.ns(),
            c_ips.v4.into(),
        ),
        (
            "ping C -> B (IPv6)".to_owned(),
            cell.c.ns(),
            b_ips.v6.into(),
        ),
        (
            "ping C -> B (IPv4)".to_owned(),
            cell.c.ns(),
            b_ips.v4.into(),
        ),
    ];
    ping_all(&pings)?;
    let logs = TempDir::new("traversal-iperf")?;
    iperf_tcp(
        cell.c.ns(),
        cell.b.ns(),
        c_ips.v6.into(),
        TRANSFER,
        logs.path(),
    )
    .context("TCP transfer B -> C over the overlay")?;
    Ok(())
}

/// Runs one cell of the table: B and C at their sites, and the path they
/// must end on.
fn run_cell(spec: &MatrixCell) -> Result<()> {
    let name = spec.label();
    let expect = spec.expect;
    let started = Instant::now();
    let mut cell = Cell::start(spec.b, spec.c)?;
    let up = Instant::now();
    let secs = |since: Instant| since.elapsed().as_secs_f64();
    let fail = |what: String, e: anyhow::Error| {
        println!("CELL {name}: {what} (cell {:.1} s)", secs(started));
        Err(e).with_context(|| format!("cell {name}: {what}"))
    };
    if let Err(e) = cell.wait_connected(CONNECT_TIMEOUT) {
        return fail(format!("not connected after {:.1} s", secs(up)), e);
    }
    let connected = secs(up);
    // A direct path may come a while after the first packet (relayed until
    // holes are punched): wait for it, within the same bound.
    let direct = match expect {
        Expect::Direct => match cell.wait_direct(CONNECT_TIMEOUT.saturating_sub(up.elapsed())) {
            Ok(()) => format!(", direct after {:.1} s", secs(up)),
            Err(e) => {
                let what = format!(
                    "connected after {connected:.1} s, not direct after {:.1} s",
                    secs(up)
                );
                return fail(what, e);
            }
        },
        Expect::Relayed => String::new(),
    };
    if let Err(e) = check_traffic(&cell) {
        return fail("traffic between B and C failed".to_owned(), e);
    }
    let paths = (
        path_between(&cell.b, &cell.c)?,
        path_between(&cell.c, &cell.b)?,
    );
    println!(
        "CELL {name}: connected after {connected:.1} s{direct}; final path B->C {:?}, C->B {:?}; cell {:.1} s",
        paths.0,
        paths.1,
        secs(started)
    );
    for (from, path) in [("B", &paths.0), ("C", &paths.1)] {
        match (expect, path) {
            (Expect::Direct, Path::Direct(_)) | (Expect::Relayed, Path::Indirect(_)) => {}
            _ => bail!("cell {name}: {from}'s final path is {path:?}, expected {expect:?}"),
        }
    }
    Ok(())
}

/// One test per cell of the table, under the cell's name.
macro_rules! cells {
    ($($name:ident,)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                let spec = matrix::cell(stringify!($name))
                    .context("the cell is not in the matrix table")?;
                run_cell(spec)
            }
        )*

        /// The names of the cells that have a test, in order.
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

cells! {
    nat_public_x_public,
    nat_public_x_full_cone,
    nat_public_x_port_restricted,
    nat_public_x_symmetric_sequential,
    nat_public_x_symmetric_random,
    nat_public_x_udp_blocked,
    nat_full_cone_x_full_cone,
    nat_full_cone_x_port_restricted,
    nat_full_cone_x_symmetric_sequential,
    nat_full_cone_x_symmetric_random,
    nat_full_cone_x_udp_blocked,
    nat_port_restricted_x_port_restricted,
    nat_port_restricted_x_symmetric_sequential,
    nat_port_restricted_x_symmetric_random,
    nat_port_restricted_x_udp_blocked,
    nat_symmetric_sequential_x_symmetric_sequential,
    nat_symmetric_sequential_x_symmetric_random,
    nat_symmetric_sequential_x_udp_blocked,
    nat_symmetric_random_x_symmetric_random,
    nat_symmetric_random_x_udp_blocked,
    nat_udp_blocked_x_udp_blocked,
}

/// Every cell of the table has its test, in table order (the table itself
/// holds every pair of sites once: see `matrix::cells`).
#[test]
fn every_cell_has_a_test() {
    let table: Vec<&str> = matrix::CELLS.iter().map(|c| c.name).collect();
    assert_eq!(TESTED, table.as_slice());
}
