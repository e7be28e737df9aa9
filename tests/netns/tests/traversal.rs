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
//! and C to list each other as connected and, where the table in [`cells!`]
//! says the path must be direct, for both to report a direct path; then it
//! asserts that ping works both ways over both overlay families and that a
//! TCP transfer of a few MB goes through, and finally compares the path
//! between them with the table. It prints one line, `CELL <B> x <C>: ...`,
//! with its times.
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `ping`,
//! `iperf3` and the `tessel` binary (`cargo build -p tessel-overlay --bin
//! tessel`, or set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use tessel_netns::lab::{Internet, NatKind, NatRouter};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp, ping_all};
use tessel_netns::{wait, Netns, NodeConfig, Status, TempDir, TesselNode};

/// How long B and C may take to reach each other. A bound that fails the
/// cell, not a speed requirement: holes are punched well within it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes of the TCP transfer from B to C (iperf3 `-n`).
const TRANSFER: &str = "4M";

/// Where a member sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    /// A public address on the internet.
    Public,
    /// Behind a NAT of this kind.
    Nat(NatKind),
}

impl Site {
    /// The name used in cell names and reports.
    fn name(self) -> &'static str {
        match self {
            Site::Public => "public",
            Site::Nat(NatKind::FullCone) => "full_cone",
            Site::Nat(NatKind::RestrictedCone) => "restricted_cone",
            Site::Nat(NatKind::PortRestrictedCone) => "port_restricted",
            Site::Nat(NatKind::SymmetricSequential) => "symmetric_sequential",
            Site::Nat(NatKind::SymmetricRandom) => "symmetric_random",
            Site::Nat(NatKind::SymmetricFullyRandom) => "symmetric_fully_random",
            Site::Nat(NatKind::UdpBlocked) => "udp_blocked",
            Site::Nat(NatKind::StockLinux) => "stock_linux",
        }
    }
}

const PUBLIC: Site = Site::Public;
const FULL_CONE: Site = Site::Nat(NatKind::FullCone);
const PORT_RESTRICTED: Site = Site::Nat(NatKind::PortRestrictedCone);
const SYMMETRIC_SEQUENTIAL: Site = Site::Nat(NatKind::SymmetricSequential);
const SYMMETRIC_RANDOM: Site = Site::Nat(NatKind::SymmetricRandom);
const UDP_BLOCKED: Site = Site::Nat(NatKind::UdpBlocked);

/// The path a cell must end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// B and C exchange datagrams with each other's public address.
    Direct,
    /// B and C reach each other through other members.
    Relayed,
    /// Either: direct when port prediction on both sides lines up, else
    /// relayed (two sequential NATs).
    Either,
}

/// The path between two members, as one of them reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Path {
    /// Straight to the other member's public address (this endpoint).
    Direct(String),
    /// Anything else: through relays (as the status names them), or an
    /// endpoint that is not the other member's public address.
    Indirect(String),
}

/// A member of the cell: its node and the addresses the internet sees it at.
struct Member {
    node: TesselNode,
    /// Its public address(es): its own if public, else its NAT's WAN address.
    public: Vec<IpAddr>,
}

impl Member {
    fn id(&self) -> Result<String> {
        self.node.node_id()
    }

    fn ns(&self) -> &Netns {
        self.node.ns()
    }
}

/// The path `b` uses to reach `c`, from `b`'s status.
///
/// Reads `peers[].path` where the status has it (`"direct"`, or the relays);
/// otherwise a connected peer's `endpoint` tells: direct if it is one of
/// `c`'s public addresses.
fn path_between(b: &Member, c: &Member) -> Result<Path> {
    let c_id = c.id()?;
    let status = b.node.status()?;
    let peer = status
        .peer(&c_id)
        .with_context(|| format!("{} does not list {}: {status}", b.node.label(), c_id))?;
    ensure!(
        peer.connected(),
        "{} is not connected to {}: {}",
        b.node.label(),
        c.node.label(),
        peer.0
    );
    let endpoint = peer.endpoint().map(str::to_owned);
    let is_public = |ep: &str| {
        ep.parse::<std::net::SocketAddr>()
            .is_ok_and(|a| c.public.contains(&a.ip()))
    };
    match &peer.0["path"] {
        Value::String(s) if s == "direct" => {
            let ep = endpoint.context("a direct path without an endpoint")?;
            ensure!(
                is_public(&ep),
                "{} reports a direct path to {} at {ep}, not at its public address {:?}",
                b.node.label(),
                c.node.label(),
                c.public
            );
            Ok(Path::Direct(ep))
        }
        Value::Null => match endpoint {
            Some(ep) if is_public(&ep) => Ok(Path::Direct(ep)),
            Some(ep) => Ok(Path::Indirect(format!("endpoint {ep}"))),
            None => Ok(Path::Indirect("no endpoint".to_owned())),
        },
        other => Ok(Path::Indirect(format!("path {other}"))),
    }
}

/// The lab of one cell. Nodes come first, so that they stop (and show
/// their logs) before the namespaces they live in go.
struct Cell {
    r: Member,
    b: Member,
    c: Member,
    _nats: Vec<NatRouter>,
    _internet: Internet,
}

impl Cell {
    /// Builds the internet, R, and B and C at their sites, and starts the
    /// nodes: R alone, B and C with `--peer R`.
    fn start(b_site: Site, c_site: Site) -> Result<Self> {
        let internet = Internet::new()?;
        let key = tessel::new_network_key()?;
        let r_host = internet.add_host("r")?;
        let r_endpoint = format!("{}:{DEFAULT_PORT}", r_host.ipv4);
        let r = Member {
            node: TesselNode::start("r", r_host.ns.clone(), NodeConfig::new(&key))?,
            public: vec![r_host.ipv4.into(), r_host.ipv6.into()],
        };
        let mut nats = Vec::new();
        let mut place = |label: &str, site: Site| -> Result<Member> {
            let (ns, public) = match site {
                Site::Public => {
                    let h = internet.add_host(label)?;
                    (h.ns, vec![h.ipv4.into(), h.ipv6.into()])
                }
                Site::Nat(kind) => {
                    let nat = internet.add_nat(&format!("nat-{label}"), kind)?;
                    let h = nat.add_host(label)?;
                    let wan = nat.wan_addr().into();
                    nats.push(nat);
                    (h.ns, vec![wan])
                }
            };
            let cfg = NodeConfig::new(&key).peer(r_endpoint.clone());
            Ok(Member {
                node: TesselNode::start(label, ns, cfg)?,
                public,
            })
        };
        let b = place("b", b_site)?;
        let c = place("c", c_site)?;
        Ok(Self {
            r,
            b,
            c,
            _nats: nats,
            _internet: internet,
        })
    }

    /// Waits until B and C list each other as connected; fails after
    /// [`CONNECT_TIMEOUT`] with both statuses (and whether each reached R).
    fn wait_connected(&mut self) -> Result<()> {
        let (r_id, b_id, c_id) = (self.r.id()?, self.b.id()?, self.c.id()?);
        let mut last: (Option<Status>, Option<Status>) = (None, None);
        let b = &mut self.b.node;
        let c = &mut self.c.node;
        let r = wait::poll("B and C to connect", CONNECT_TIMEOUT, || {
            b.ensure_running()?;
            c.ensure_running()?;
            let (sb, sc) = (b.status()?, c.status()?);
            let done = sb.is_connected_to(&c_id) && sc.is_connected_to(&b_id);
            last = (Some(sb), Some(sc));
            Ok(done.then_some(()))
        });
        r.map_err(|e| {
            let show = |label: &str, s: &Option<Status>| match s {
                Some(s) => format!(
                    "{label} (connected to R: {}): {s}",
                    s.is_connected_to(&r_id)
                ),
                None => format!("{label}: no status"),
            };
            anyhow::anyhow!(
                "{e:#}\nlast status of {}\nlast status of {}",
                show("B", &last.0),
                show("C", &last.1)
            )
        })
    }

    /// Waits until both B and C report a direct path to each other; fails
    /// after `timeout` with the last paths they reported.
    fn wait_direct(&self, timeout: Duration) -> Result<()> {
        let mut last = String::from("none yet");
        let r = wait::poll("a direct path between B and C", timeout, || {
            let paths = (
                path_between(&self.b, &self.c),
                path_between(&self.c, &self.b),
            );
            let done = matches!(paths, (Ok(Path::Direct(_)), Ok(Path::Direct(_))));
            last = format!("B->C {:?}, C->B {:?}", paths.0, paths.1);
            Ok(done.then_some(()))
        });
        r.map_err(|e| anyhow::anyhow!("{e:#}; last paths: {last}"))
    }

    /// Ping both ways over both overlay families, and a TCP transfer B → C.
    fn check_traffic(&self) -> Result<()> {
        let (b_ips, c_ips) = (self.b.node.ip()?, self.c.node.ip()?);
        let pings = vec![
            (
                "ping B -> C (IPv6)".to_owned(),
                self.b.ns(),
                c_ips.v6.into(),
            ),
            (
                "ping B -> C (IPv4)".to_owned(),
                self.b.ns(),
                c_ips.v4.into(),
            ),
            (
                "ping C -> B (IPv6)".to_owned(),
                self.c.ns(),
                b_ips.v6.into(),
            ),
            (
                "ping C -> B (IPv4)".to_owned(),
                self.c.ns(),
                b_ips.v4.into(),
            ),
        ];
        ping_all(&pings)?;
        let logs = TempDir::new("traversal-iperf")?;
        iperf_tcp(
            self.c.ns(),
            self.b.ns(),
            c_ips.v6.into(),
            TRANSFER,
            logs.path(),
        )
        .context("TCP transfer B -> C over the overlay")?;
        Ok(())
    }
}

/// Runs one cell: B at `b_site`, C at `c_site`, and the path they must end on.
fn run_cell(b_site: Site, c_site: Site, expect: Expect) -> Result<()> {
    let name = format!("{} x {}", b_site.name(), c_site.name());
    let started = Instant::now();
    let mut cell = Cell::start(b_site, c_site)?;
    let up = Instant::now();
    let secs = |since: Instant| since.elapsed().as_secs_f64();
    let fail = |what: String, e: anyhow::Error| {
        println!("CELL {name}: {what} (cell {:.1} s)", secs(started));
        Err(e).with_context(|| format!("cell {name}: {what}"))
    };
    if let Err(e) = cell.wait_connected() {
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
        Expect::Relayed | Expect::Either => String::new(),
    };
    if let Err(e) = cell.check_traffic() {
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
            (Expect::Direct, Path::Direct(_))
            | (Expect::Relayed, Path::Indirect(_))
            | (Expect::Either, _) => {}
            _ => bail!("cell {name}: {from}'s final path is {path:?}, expected {expect:?}"),
        }
    }
    Ok(())
}

/// One test per cell, and the expectation table: the path each cell must
/// end on. Members behind UDP-blocking NATs join R over TCP and talk
/// through it.
macro_rules! cells {
    ($($(#[$attr:meta])* $name:ident: $b:ident x $c:ident => $expect:ident;)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() -> Result<()> {
                run_cell($b, $c, Expect::$expect)
            }
        )*

        /// Every cell, in table order, as (name, B's site, C's site).
        const CELLS: &[(&str, Site, Site)] = &[$((stringify!($name), $b, $c)),*];
    };
}

cells! {
    nat_public_x_public: PUBLIC x PUBLIC => Direct;
    nat_public_x_full_cone: PUBLIC x FULL_CONE => Direct;
    nat_public_x_port_restricted: PUBLIC x PORT_RESTRICTED => Direct;
    nat_public_x_symmetric_sequential: PUBLIC x SYMMETRIC_SEQUENTIAL => Direct;
    nat_public_x_symmetric_random: PUBLIC x SYMMETRIC_RANDOM => Direct;
    nat_public_x_udp_blocked: PUBLIC x UDP_BLOCKED => Relayed;
    nat_full_cone_x_full_cone: FULL_CONE x FULL_CONE => Direct;
    nat_full_cone_x_port_restricted: FULL_CONE x PORT_RESTRICTED => Direct;
    nat_full_cone_x_symmetric_sequential: FULL_CONE x SYMMETRIC_SEQUENTIAL => Direct;
    nat_full_cone_x_symmetric_random: FULL_CONE x SYMMETRIC_RANDOM => Direct;
    nat_full_cone_x_udp_blocked: FULL_CONE x UDP_BLOCKED => Relayed;
    nat_port_restricted_x_port_restricted: PORT_RESTRICTED x PORT_RESTRICTED => Direct;
    nat_port_restricted_x_symmetric_sequential: PORT_RESTRICTED x SYMMETRIC_SEQUENTIAL => Direct;
    nat_port_restricted_x_symmetric_random: PORT_RESTRICTED x SYMMETRIC_RANDOM => Direct;
    nat_port_restricted_x_udp_blocked: PORT_RESTRICTED x UDP_BLOCKED => Relayed;
    nat_symmetric_sequential_x_symmetric_sequential: SYMMETRIC_SEQUENTIAL x SYMMETRIC_SEQUENTIAL => Either;
    nat_symmetric_sequential_x_symmetric_random: SYMMETRIC_SEQUENTIAL x SYMMETRIC_RANDOM => Relayed;
    nat_symmetric_sequential_x_udp_blocked: SYMMETRIC_SEQUENTIAL x UDP_BLOCKED => Relayed;
    nat_symmetric_random_x_symmetric_random: SYMMETRIC_RANDOM x SYMMETRIC_RANDOM => Relayed;
    nat_symmetric_random_x_udp_blocked: SYMMETRIC_RANDOM x UDP_BLOCKED => Relayed;
    nat_udp_blocked_x_udp_blocked: UDP_BLOCKED x UDP_BLOCKED => Relayed;
}

/// The table holds every unordered pair of the six sites exactly once,
/// each under its `nat_<B>_x_<C>` name.
#[test]
fn the_matrix_is_complete() {
    let sites = [
        PUBLIC,
        FULL_CONE,
        PORT_RESTRICTED,
        SYMMETRIC_SEQUENTIAL,
        SYMMETRIC_RANDOM,
        UDP_BLOCKED,
    ];
    let mut want = Vec::new();
    for (i, b) in sites.iter().enumerate() {
        for c in &sites[i..] {
            want.push((format!("nat_{}_x_{}", b.name(), c.name()), *b, *c));
        }
    }
    let have: Vec<(String, Site, Site)> = CELLS
        .iter()
        .map(|(n, b, c)| ((*n).to_owned(), *b, *c))
        .collect();
    assert_eq!(have, want);
}
