//! Members behind the NATs of real life that the traversal matrix leaves
//! out: the stock Linux router (masquerading, no firewall), a carrier-grade
//! NAT in front of home NATs (NAT444), two members behind one NAT, a NAT
//! that forgets idle mappings after 30 s, a lossy and slow uplink,
//! dual-stack sites whose IPv4 is behind symmetric NATs and whose global
//! IPv6 is behind a stateful firewall, and a NAT that reboots or is
//! renumbered under a direct pair. One test per cell, each building its
//! own lab; the table in [`cells!`] says where B and C sit, what their
//! routers do, and the path they must end on.
//!
//! ```text
//!                       Internet (core namespace, br0)
//!        __________________|_____________________________________
//!       |                  |                    |                |
//!   R 198.51.100.1    own NAT 203.0.113.N   CGN 203.0.113.M   shared NAT
//!   (tessel up)       lan0 198.18.L.1/24    lan0 198.19.K.1   lan0 198.18.S.1
//!                          |                     |              |       |
//!                     B or C                home NAT         B       C
//!                     (dual-stack: also    198.19.K.2, .3
//!                      2001:db8:18:L::2)        |
//!                                          B or C 198.18.H.2
//! ```
//!
//! Each cell waits for B and C to list each other as connected and for both
//! to report the expected path; then it pings both ways over both overlay
//! families and moves some data over TCP. Cells with an idle period then
//! wait that long without traffic and check that the path is the same,
//! that ping still works and that neither side punched again. Cells with a
//! fault then reboot or renumber B's router and wait for the expected path
//! again (at B's new address) and for traffic. A cell prints one line, `CELL <name>: ...`, with its
//! times and paths, and each NAT router's connection-tracking table when
//! the path is not direct.
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `ping`,
//! `iperf3`, the lab's `impair` tool and the `tessel` binary (`cargo build
//! -p tessel-overlay --bin tessel`, or set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use tessel_lab::ping::family_flag;
use tessel_netns::lab::{Impairer, Impairment, Internet, NatKind, NatRouter, RouterImpair};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp, ping_all, ping_stats};
use tessel_netns::{wait, Netns, NodeConfig, TempDir, TesselNode};

/// How long B and C may take to connect and to reach their path. A bound
/// that fails the cell, not a speed requirement.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// The mapping timeout of the forgetful NAT.
const SHORT_UDP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the forgetful NAT's cell stays idle: well past its timeout.
const IDLE: Duration = Duration::from_secs(45);

/// Where a member sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    /// A public address on the internet.
    Public,
    /// Behind a NAT router of its own, of this kind.
    Nat(NatKind),
    /// Behind a dual-stack router of its own: IPv4 behind a NAT of this
    /// kind, a global IPv6 address behind a stateful firewall.
    DualStack(NatKind),
    /// Behind a home NAT of its own, of this kind, behind the lab's
    /// carrier-grade NAT (NAT444).
    Home(NatKind),
    /// On the LAN of the lab's shared NAT, with the other member.
    Shared,
}

/// What a cell's routers do besides their kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Options {
    /// Whether the carrier-grade NAT hairpins.
    cgn_hairpin: bool,
    /// Whether the shared NAT hairpins.
    shared_hairpin: bool,
    /// Conntrack's UDP timeouts on B's and C's own routers.
    udp_timeout: Option<Duration>,
    /// Delay and loss on B's router, both ways.
    impair_b: Option<(Duration, f64)>,
    /// How long to idle once the path is up.
    idle: Option<Duration>,
    /// Whether B and C run without LAN discovery (`--no-lan-discovery`),
    /// so that only their interface addresses tell where they are.
    no_lan_discovery: bool,
    /// What happens to B's router once the path is up.
    fault_b: Option<Fault>,
}

/// What can happen to a NAT router under a pair that went direct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// It forgets every mapping, as a reboot does.
    Reboot,
    /// Its WAN leg moves to a new address.
    Renumber,
}

/// How long a pair may take to be direct again after a fault. A bound that
/// fails the cell, not a speed requirement (the cell prints the time).
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The path a cell must end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Straight to the other member's public IPv4 address.
    Public,
    /// Straight to the other member's LAN address.
    Lan,
    /// Straight to the other member's global IPv6 address.
    Ipv6,
    /// Through other members.
    Relayed,
}

/// The path between two members, as one of them reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Path {
    /// Straight to this endpoint.
    Direct(SocketAddr),
    /// Through relays (as the status names them), or unknown.
    Indirect(String),
}

/// A member: its node and the addresses it can be reached at.
struct Member {
    node: TesselNode,
    /// Where the internet sees it: its own addresses if public, else its
    /// outermost NAT's WAN address.
    public: Vec<IpAddr>,
    /// Its address on a LAN, if it is behind a NAT.
    lan: Option<IpAddr>,
    /// Its global IPv6 address, if it has one.
    ipv6: Option<IpAddr>,
}

impl Member {
    fn id(&self) -> Result<String> {
        self.node.node_id()
    }

    /// Whether `path` to this member is what `expect` asks for.
    fn matches(&self, path: &Path, expect: Expect) -> bool {
        let at = |want: &[IpAddr]| matches!(path, Path::Direct(ep) if want.contains(&ep.ip()));
        match expect {
            Expect::Public => at(&self.public),
            Expect::Lan => at(self.lan.as_slice()),
            Expect::Ipv6 => at(self.ipv6.as_slice()),
            Expect::Relayed => matches!(path, Path::Indirect(_)),
        }
    }
}

/// The path `b` uses to reach `c`, from `b`'s status: `peers[].path`
/// (`"direct"` or the relays) and the peer's endpoint.
fn path_between(b: &Member, c: &Member) -> Result<Path> {
    let c_id = c.id()?;
    let status = b.node.status()?;
    let peer = status
        .peer(&c_id)
        .with_context(|| format!("{} does not list {c_id}", b.node.label()))?;
    ensure!(
        peer.connected(),
        "{} is not connected to {}: {}",
        b.node.label(),
        c.node.label(),
        peer.0
    );
    let endpoint = peer.endpoint().and_then(|e| e.parse::<SocketAddr>().ok());
    Ok(match (&peer.0["path"], endpoint) {
        (Value::String(s), Some(ep)) if s == "direct" => Path::Direct(ep),
        (Value::Null, Some(ep)) => Path::Direct(ep),
        (other, ep) => Path::Indirect(format!("path {other}, endpoint {ep:?}")),
    })
}

/// Punches a node started or joined so far (`traversal` in its status).
fn punches(m: &Member) -> Result<u64> {
    let s = m.node.status()?;
    let t = &s.0["traversal"];
    let n = |k: &str| {
        t[k].as_u64()
            .with_context(|| format!("traversal.{k} missing from {}'s status", m.node.label()))
    };
    Ok(n("punches_started")? + n("punches_joined")?)
}

/// The lab of one cell. Nodes come first, so that they stop (and show
/// their logs) before the namespaces they live in go.
struct Cell {
    b: Member,
    c: Member,
    _r: TesselNode,
    _shims: Vec<Impairer>,
    /// Every NAT router, for their conntrack tables.
    routers: Vec<NatRouter>,
    _internet: Internet,
}

impl Cell {
    /// Builds the internet, R, and B and C at their sites, and starts the
    /// nodes: R alone, B and C with `--peer R`.
    fn start(b_site: Site, c_site: Site, opts: Options) -> Result<Self> {
        let internet = Internet::new()?;
        let key = tessel::new_network_key()?;
        let r_host = internet.add_host("r")?;
        let r_endpoint = format!("{}:{DEFAULT_PORT}", r_host.ipv4);
        let r = TesselNode::start("r", r_host.ns.clone(), NodeConfig::new(&key))?;
        let sites = [b_site, c_site];
        let cgn = if sites.iter().any(|s| matches!(s, Site::Home(_))) {
            let cgn = internet.add_cgn("cgn", NatKind::PortRestrictedCone)?;
            if opts.cgn_hairpin {
                cgn.enable_hairpinning()?;
            }
            Some(cgn)
        } else {
            None
        };
        let shared = if sites.contains(&Site::Shared) {
            let nat = internet.add_nat("nat-shared", NatKind::PortRestrictedCone)?;
            if opts.shared_hairpin {
                nat.enable_hairpinning()?;
            }
            Some(nat)
        } else {
            None
        };
        let mut routers = Vec::new();
        let mut shims = Vec::new();
        let mut place = |label: &str, site: Site| -> Result<Member> {
            let (host, public) = match site {
                Site::Public => {
                    let h = internet.add_host(label)?;
                    let public = vec![h.ipv4.into(), h.ipv6.into()];
                    let node = TesselNode::start(
                        label,
                        h.ns,
                        NodeConfig::new(&key).peer(r_endpoint.clone()),
                    )?;
                    return Ok(Member {
                        node,
                        public,
                        lan: None,
                        ipv6: None,
                    });
                }
                Site::Shared => {
                    let nat = shared.as_ref().context("no shared NAT")?;
                    (nat.add_host(label)?, nat.wan_addr())
                }
                Site::Nat(_) | Site::DualStack(_) | Site::Home(_) => {
                    let role = format!("nat-{label}");
                    let nat = match site {
                        Site::Nat(kind) => internet.add_nat(&role, kind)?,
                        Site::DualStack(kind) => internet.add_dual_stack_nat(&role, kind)?,
                        Site::Home(kind) => cgn.as_ref().context("no CGN")?.add_nat(&role, kind)?,
                        Site::Public | Site::Shared => unreachable!("handled above"),
                    };
                    if let Some(t) = opts.udp_timeout {
                        nat.set_udp_timeout(t)?;
                    }
                    if let (Some((delay, loss)), "b") = (opts.impair_b, label) {
                        let spec = Impairment::none().delay(delay).loss(loss).seed(0x10ad);
                        shims.push(nat.impair(&spec, tessel_netns::lab::Direction::Both)?);
                    }
                    let public = match (site, &cgn) {
                        (Site::Home(_), Some(cgn)) => cgn.wan_addr(),
                        _ => nat.wan_addr(),
                    };
                    let host = nat.add_host(label)?;
                    routers.push(nat);
                    (host, public)
                }
            };
            let cfg = NodeConfig::new(&key)
                .peer(r_endpoint.clone())
                .lan_discovery(!opts.no_lan_discovery);
            Ok(Member {
                node: TesselNode::start(label, host.ns.clone(), cfg)?,
                public: vec![public.into()],
                lan: Some(host.ipv4.into()),
                ipv6: host.ipv6.map(IpAddr::from),
            })
        };
        let b = place("b", b_site)?;
        let c = place("c", c_site)?;
        routers.extend(cgn);
        routers.extend(shared);
        Ok(Self {
            b,
            c,
            _r: r,
            _shims: shims,
            routers,
            _internet: internet,
        })
    }

    /// Waits until B and C list each other as connected.
    fn wait_connected(&mut self, timeout: Duration) -> Result<()> {
        let (b_id, c_id) = (self.b.id()?, self.c.id()?);
        let (b, c) = (&mut self.b.node, &mut self.c.node);
        let mut last = String::new();
        wait::poll("B and C to connect", timeout, || {
            b.ensure_running()?;
            c.ensure_running()?;
            let (sb, sc) = (b.status()?, c.status()?);
            last = format!("B: {sb}\nC: {sc}");
            Ok((sb.is_connected_to(&c_id) && sc.is_connected_to(&b_id)).then_some(()))
        })
        .map_err(|e| anyhow::anyhow!("{e:#}\nlast statuses:\n{last}"))
    }

    /// Both paths, B to C and C to B.
    fn paths(&self) -> (Result<Path>, Result<Path>) {
        (
            path_between(&self.b, &self.c),
            path_between(&self.c, &self.b),
        )
    }

    /// Whether both paths are what `expect` asks for.
    fn on_path(&self, paths: &(Result<Path>, Result<Path>), expect: Expect) -> bool {
        match paths {
            (Ok(bc), Ok(cb)) => self.c.matches(bc, expect) && self.b.matches(cb, expect),
            _ => false,
        }
    }

    /// Waits until both sides report the path `expect` asks for.
    fn wait_path(&self, expect: Expect, timeout: Duration) -> Result<()> {
        let mut last = String::from("none yet");
        wait::poll(&format!("a {expect:?} path"), timeout, || {
            let paths = self.paths();
            last = format!("B->C {:?}, C->B {:?}", paths.0, paths.1);
            Ok(self.on_path(&paths, expect).then_some(()))
        })
        .map_err(|e| anyhow::anyhow!("{e:#}; last paths: {last}"))
    }

    /// Ping both ways over both overlay families, and `transfer` bytes over
    /// TCP from B to C.
    fn check_traffic(&self, transfer: &str) -> Result<()> {
        let (b_ips, c_ips) = (self.b.node.ip()?, self.c.node.ip()?);
        let (b_ns, c_ns) = (&**self.b.node.ns(), &**self.c.node.ns());
        ping_all(&[
            ("ping B -> C (IPv6)".to_owned(), b_ns, c_ips.v6.into()),
            ("ping B -> C (IPv4)".to_owned(), b_ns, c_ips.v4.into()),
            ("ping C -> B (IPv6)".to_owned(), c_ns, b_ips.v6.into()),
            ("ping C -> B (IPv4)".to_owned(), c_ns, b_ips.v4.into()),
        ])?;
        let logs = TempDir::new("nat-kinds-iperf")?;
        iperf_tcp(c_ns, b_ns, c_ips.v6.into(), transfer, logs.path())
            .context("TCP transfer B -> C over the overlay")?;
        Ok(())
    }

    /// Every router's conntrack table, for a report.
    fn conntrack(&self) -> String {
        self.routers
            .iter()
            .map(|r| match r.conntrack() {
                Ok(t) => format!("conntrack of {}:\n{t}", r.role()),
                Err(e) => format!("conntrack of {}: {e:#}", r.role()),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One cell: where B and C sit, what their routers do, the path they must
/// end on, and how much to move over TCP.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    b: Site,
    c: Site,
    opts: Options,
    expect: Expect,
    transfer: &'static str,
}

impl Scenario {
    fn new(b: Site, c: Site, expect: Expect) -> Self {
        Self {
            b,
            c,
            opts: Options::default(),
            expect,
            transfer: "4M",
        }
    }

    fn opts(mut self, opts: Options) -> Self {
        self.opts = opts;
        self
    }

    fn transfer(mut self, bytes: &'static str) -> Self {
        self.transfer = bytes;
        self
    }
}

/// Runs one cell.
fn run_cell(name: &str, s: Scenario) -> Result<()> {
    let started = Instant::now();
    let mut cell = Cell::start(s.b, s.c, s.opts)?;
    let up = Instant::now();
    let secs = |since: Instant| since.elapsed().as_secs_f64();
    let fail = |cell: &Cell, what: String, e: anyhow::Error| -> Result<()> {
        println!("CELL {name}: {what} (cell {:.1} s)", secs(started));
        println!("{}", cell.conntrack());
        Err(e).with_context(|| format!("cell {name}: {what}"))
    };
    if let Err(e) = cell.wait_connected(CONNECT_TIMEOUT) {
        let what = format!("not connected after {:.1} s", secs(up));
        return fail(&cell, what, e);
    }
    let connected = secs(up);
    let left = CONNECT_TIMEOUT.saturating_sub(up.elapsed());
    let settled = if let Err(e) = cell.wait_path(s.expect, left) {
        let what = format!(
            "connected after {connected:.1} s, no {:?} path after {:.1} s",
            s.expect,
            secs(up)
        );
        return fail(&cell, what, e);
    } else {
        format!("{:?} path after {:.1} s", s.expect, secs(up))
    };
    if let Err(e) = cell.check_traffic(s.transfer) {
        return fail(&cell, "traffic between B and C failed".to_owned(), e);
    }
    let mut impair_report = String::new();
    if let Some((delay, _)) = s.opts.impair_b {
        // The shim is on the path: every round trip through B's router
        // carries the delay twice.
        let c_v6 = IpAddr::from(cell.c.node.ip()?.v6);
        let st = ping_stats(cell.b.node.ns(), c_v6, 20, "0.1")?;
        let floor = 2.0 * delay.as_secs_f64() * 1000.0;
        ensure!(
            st.min_rtt_ms.is_some_and(|r| r >= floor),
            "cell {name}: B's uplink is not delayed ({floor} ms expected at least): {st:?}"
        );
        impair_report = format!(
            "; overlay ping B->C: {}/{} replies, min {:.0} ms, avg {:.0} ms",
            st.received,
            st.sent,
            st.min_rtt_ms.unwrap_or_default(),
            st.avg_rtt_ms.unwrap_or_default()
        );
    }
    let mut idle_report = String::new();
    if let Some(idle) = s.opts.idle {
        let before = (punches(&cell.b)?, punches(&cell.c)?);
        let paths = cell.paths();
        let (Ok(bc), Ok(cb)) = (&paths.0, &paths.1) else {
            bail!("cell {name}: no paths before idling: {paths:?}");
        };
        let (bc, cb) = (bc.clone(), cb.clone());
        std::thread::sleep(idle);
        let after_paths = cell.paths();
        let same = matches!(&after_paths, (Ok(x), Ok(y)) if *x == bc && *y == cb);
        if !same {
            let what = format!(
                "path changed while idle {:.0} s: before B->C {bc:?}, C->B {cb:?}; after {after_paths:?}",
                idle.as_secs_f64()
            );
            return fail(&cell, what.clone(), anyhow::anyhow!(what));
        }
        if let Err(e) = cell.check_traffic("1M") {
            return fail(&cell, "traffic after idling failed".to_owned(), e);
        }
        let after = (punches(&cell.b)?, punches(&cell.c)?);
        if after != before {
            let what =
                format!("punched again after idling: punches (B, C) {before:?} -> {after:?}");
            return fail(&cell, what.clone(), anyhow::anyhow!(what));
        }
        idle_report = format!(
            "; idle {:.0} s: same path, punches (B, C) {after:?}",
            idle.as_secs_f64()
        );
    }
    let mut fault_report = String::new();
    if let Some(fault) = s.opts.fault_b {
        let at = Instant::now();
        let router = cell
            .routers
            .first_mut()
            .context("B has no router of its own")?;
        match fault {
            Fault::Reboot => router.forget_mappings()?,
            Fault::Renumber => {
                let new = router.renumber()?;
                cell.b.public = vec![new.into()];
            }
        }
        // Traffic that wants the path, as a user's would: a member idle
        // on both sides notices only when it next sends.
        let (b_ips, c_ips) = (cell.b.node.ip()?, cell.c.node.ip()?);
        let _pings = (
            Pinger::start(cell.b.node.ns(), c_ips.v6.into(), RECOVERY_TIMEOUT)?,
            Pinger::start(cell.c.node.ns(), b_ips.v4.into(), RECOVERY_TIMEOUT)?,
        );
        if let Err(e) = cell.wait_path(s.expect, RECOVERY_TIMEOUT) {
            return fail(&cell, format!("no {:?} path after {fault:?}", s.expect), e);
        }
        let back = secs(at);
        if let Err(e) = cell.check_traffic("1M") {
            return fail(&cell, format!("traffic after {fault:?} failed"), e);
        }
        fault_report = format!(
            "; {fault:?} of B's NAT: {:?} path again after {back:.1} s",
            s.expect
        );
    }
    let (bc, cb) = (
        path_between(&cell.b, &cell.c)?,
        path_between(&cell.c, &cell.b)?,
    );
    let direct = |p: &Path| matches!(p, Path::Direct(_));
    println!(
        "CELL {name}: connected after {connected:.1} s, {settled}; \
         final path B->C {bc:?}, C->B {cb:?}{impair_report}{idle_report}{fault_report}; cell {:.1} s",
        secs(started)
    );
    if !direct(&bc) || !direct(&cb) {
        println!("{}", cell.conntrack());
    }
    ensure!(
        cell.c.matches(&bc, s.expect) && cell.b.matches(&cb, s.expect),
        "cell {name}: final paths B->C {bc:?}, C->B {cb:?}, expected {:?}",
        s.expect
    );
    Ok(())
}

/// Pings in the background, every 200 ms, until dropped (then stopped by
/// its PID).
struct Pinger(std::process::Child);

impl Pinger {
    /// Pings `to` from `from` for at most `within`.
    fn start(from: &Netns, to: IpAddr, within: Duration) -> Result<Self> {
        let child = from
            .command("ping")
            .args([
                family_flag(to),
                "-n",
                "-q",
                "-i",
                "0.2",
                "-w",
                &within.as_secs().max(1).to_string(),
                &to.to_string(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting ping in {}", from.name()))?;
        Ok(Self(child))
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One test per cell, from one table.
macro_rules! cells {
    ($($(#[$attr:meta])* $name:ident: $scenario:expr;)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() -> Result<()> {
                run_cell(stringify!($name), $scenario)
            }
        )*
    };
}

const PUBLIC: Site = Site::Public;
const STOCK: Site = Site::Nat(NatKind::StockLinux);
const PORT_RESTRICTED: Site = Site::Nat(NatKind::PortRestrictedCone);
const SYMMETRIC_SEQUENTIAL: Site = Site::Nat(NatKind::SymmetricSequential);
const SYMMETRIC_RANDOM: Site = Site::Nat(NatKind::SymmetricRandom);
/// A port-restricted home NAT behind the port-restricted CGN.
const NAT444: Site = Site::Home(NatKind::PortRestrictedCone);
const SHARED: Site = Site::Shared;
const DUAL_STACK_SYMMETRIC: Site = Site::DualStack(NatKind::SymmetricRandom);

const HAIRPIN_CGN: Options = Options {
    cgn_hairpin: true,
    ..PLAIN
};

const HAIRPIN_SHARED: Options = Options {
    shared_hairpin: true,
    ..PLAIN
};

const FORGETFUL: Options = Options {
    udp_timeout: Some(SHORT_UDP_TIMEOUT),
    idle: Some(IDLE),
    ..PLAIN
};

const NO_LAN_DISCOVERY: Options = Options {
    no_lan_discovery: true,
    ..PLAIN
};

/// 50 ms each way and 2 % loss each way on B's uplink.
const IMPAIRED: Options = Options {
    impair_b: Some((Duration::from_millis(50), 0.02)),
    ..PLAIN
};

/// B's NAT reboots once B and C are direct.
const REBOOT: Options = Options {
    fault_b: Some(Fault::Reboot),
    ..PLAIN
};

/// B's NAT gets a new WAN address once B and C are direct.
const RENUMBER: Options = Options {
    fault_b: Some(Fault::Renumber),
    ..PLAIN
};

/// Nothing besides the routers' kinds.
const PLAIN: Options = Options {
    cgn_hairpin: false,
    shared_hairpin: false,
    udp_timeout: None,
    impair_b: None,
    idle: None,
    no_lan_discovery: false,
    fault_b: None,
};

cells! {
    stock_linux_x_stock_linux: Scenario::new(STOCK, STOCK, Expect::Public);
    stock_linux_x_symmetric_sequential: Scenario::new(STOCK, SYMMETRIC_SEQUENTIAL, Expect::Public);
    stock_linux_x_symmetric_random: Scenario::new(STOCK, SYMMETRIC_RANDOM, Expect::Public);
    stock_linux_x_nat444: Scenario::new(STOCK, NAT444, Expect::Public);
    nat444_x_public: Scenario::new(NAT444, PUBLIC, Expect::Public);
    nat444_x_nat444_same_cgn: Scenario::new(NAT444, NAT444, Expect::Relayed);
    nat444_x_nat444_same_cgn_hairpinning: Scenario::new(NAT444, NAT444, Expect::Public).opts(HAIRPIN_CGN);
    same_nat_without_hairpinning: Scenario::new(SHARED, SHARED, Expect::Lan);
    same_nat_with_hairpinning: Scenario::new(SHARED, SHARED, Expect::Lan).opts(HAIRPIN_SHARED);
    same_nat_by_interface_candidates_alone: Scenario::new(SHARED, SHARED, Expect::Lan).opts(NO_LAN_DISCOVERY);
    short_mapping_timeout_keepalives_hold_the_path: Scenario::new(PORT_RESTRICTED, PORT_RESTRICTED, Expect::Public).opts(FORGETFUL);
    impaired_uplink_goes_direct: Scenario::new(PORT_RESTRICTED, PORT_RESTRICTED, Expect::Public).opts(IMPAIRED).transfer("1M");
    ipv6_first_behind_symmetric_nats: Scenario::new(DUAL_STACK_SYMMETRIC, DUAL_STACK_SYMMETRIC, Expect::Ipv6);
    direct_again_after_a_nat_reboots: Scenario::new(PORT_RESTRICTED, PORT_RESTRICTED, Expect::Public).opts(REBOOT);
    direct_again_after_a_nat_renumbers: Scenario::new(PORT_RESTRICTED, PORT_RESTRICTED, Expect::Public).opts(RENUMBER);
}
