//! The namespace lab: every NAT behaviour proven with the UDP probe, NAT
//! behind NAT, the routers' options (hairpinning, a short mapping timeout,
//! IPv6 behind a stateful firewall), and the delay and loss of the NFQUEUE
//! impairment shim.
//!
//! Needs root (namespaces, veth, bridges, nftables), `nft`, `ping`, and
//! this crate's binaries `udp-probe` and `impair` (built by cargo along
//! with the tests).

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::lab::nat::{SEQUENTIAL_FIRST_PORT, SEQUENTIAL_PORTS};
use tessel_netns::lab::probe::{self, Query};
use tessel_netns::lab::{
    Direction, Impairment, Internet, NatKind, NatReport, NatRouter, PrivateHost, Reflector,
    RouterImpair,
};
use tessel_netns::traffic::{ping, ping_fails, ping_stats};
use tessel_netns::wait;

/// Internal port of the probes (the mapping probe uses the next one too).
const PORT: u16 = 40000;

/// A reflector on the internet and one host behind a NAT of some kind.
struct NatLab {
    nat: NatRouter,
    host: PrivateHost,
    reflector: Reflector,
    _internet: Internet,
}

impl NatLab {
    fn new(kind: NatKind) -> Result<Self> {
        let internet = Internet::new()?;
        let server = internet.add_host("stun")?;
        let reflector = Reflector::start_abc(&internet, &server)?;
        let nat = internet.add_nat("nat", kind)?;
        let host = nat.add_host("h")?;
        Ok(Self {
            nat,
            host,
            reflector,
            _internet: internet,
        })
    }

    /// Probes the NAT, checks that UDP works and that every mapping is on
    /// the NAT's WAN address, and returns the report.
    fn characterise(&self) -> Result<NatReport> {
        let report = probe::characterise(&self.host.ns, &self.reflector, PORT)?;
        eprintln!("{:?}: {report:?}", self.nat.kind());
        ensure!(
            report.udp_works,
            "no UDP answer through the NAT: {report:?}"
        );
        for m in report.mapped {
            let m = m.with_context(|| format!("a mapping probe got no answer: {report:?}"))?;
            ensure!(
                m.ip() == IpAddr::V4(self.nat.wan_addr()),
                "mapped {m}, expected the NAT's WAN address {}",
                self.nat.wan_addr()
            );
        }
        Ok(report)
    }

    /// Fails with the router's ruleset attached.
    fn check(&self, ok: bool, what: &str, report: &NatReport) -> Result<()> {
        if !ok {
            let rules = self.nat.ruleset().unwrap_or_else(|e| format!("{e:#}"));
            anyhow::bail!(
                "{what}: {report:?}\nruleset of {}:\n{rules}",
                self.nat.role()
            );
        }
        Ok(())
    }
}

fn port(m: Option<SocketAddr>) -> u16 {
    m.map_or(0, |m| m.port())
}

/// Cone NATs: one external endpoint per internal endpoint, and (Linux
/// masquerading) the internal port kept, since it is free.
fn check_cone(kind: NatKind) -> Result<(NatLab, NatReport)> {
    let lab = NatLab::new(kind)?;
    let r = lab.characterise()?;
    lab.check(
        r.endpoint_independent_mapping(),
        "mapping is not endpoint-independent",
        &r,
    )?;
    lab.check(
        port(r.mapped[0]) == PORT + 1,
        "the free internal port was not kept",
        &r,
    )?;
    Ok((lab, r))
}

/// One test per cone NAT kind, from one table: which unsolicited answers
/// the NAT lets in (from the contacted address on another port, and from
/// an address never contacted).
macro_rules! cone_kinds {
    ($($name:ident: $kind:ident, other_port $port:literal, other_addr $addr:literal;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                check_cone_filtering(NatKind::$kind, $port, $addr)
            }
        )*
    };
}

cone_kinds! {
    full_cone_maps_and_filters_independently_of_the_endpoint: FullCone, other_port true, other_addr true;
    restricted_cone_filters_by_address_only: RestrictedCone, other_port true, other_addr false;
    port_restricted_cone_filters_by_address_and_port: PortRestrictedCone, other_port false, other_addr false;
    stock_linux_filters_by_address_and_port: StockLinux, other_port false, other_addr false;
}

/// A cone NAT of `kind` lets in an answer from the contacted address on
/// another port exactly when `other_port`, and one from an address never
/// contacted exactly when `other_addr`.
fn check_cone_filtering(kind: NatKind, other_port: bool, other_addr: bool) -> Result<()> {
    let (lab, r) = check_cone(kind)?;
    let verdict = |got_in: bool| if got_in { "got in" } else { "was filtered" };
    lab.check(
        r.from_other_port == other_port,
        &format!(
            "answer from the same address, other port {}",
            verdict(r.from_other_port)
        ),
        &r,
    )?;
    lab.check(
        r.from_other_addr == other_addr,
        &format!(
            "answer from an address never contacted {}",
            verdict(r.from_other_addr)
        ),
        &r,
    )?;
    Ok(())
}

/// Symmetric NATs: a new external port per destination, and nothing gets
/// in that the host did not send to.
fn check_symmetric(kind: NatKind) -> Result<(NatLab, NatReport)> {
    let lab = NatLab::new(kind)?;
    let r = lab.characterise()?;
    lab.check(
        r.address_and_port_dependent_mapping(),
        "mapping is not address-and-port-dependent",
        &r,
    )?;
    lab.check(
        !r.from_other_port,
        "answer from a port never contacted got in",
        &r,
    )?;
    lab.check(
        !r.from_other_addr,
        "answer from an address never contacted got in",
        &r,
    )?;
    lab.check(
        r.mapped.iter().all(|m| port(*m) != PORT + 1),
        "a symmetric NAT kept the internal port",
        &r,
    )?;
    Ok((lab, r))
}

/// One test per symmetric NAT kind whose ports are random, from one table.
macro_rules! random_symmetric_kinds {
    ($($name:ident: $kind:ident;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                check_symmetric(NatKind::$kind).map(drop)
            }
        )*
    };
}

random_symmetric_kinds! {
    symmetric_random_maps_each_destination_to_another_port: SymmetricRandom;
    symmetric_fully_random_maps_each_destination_to_another_port: SymmetricFullyRandom;
}

#[test]
fn symmetric_sequential_allocates_successive_ports() -> Result<()> {
    let (lab, r) = check_symmetric(NatKind::SymmetricSequential)?;
    // The filtering probe opened the first mapping (all its queries go to
    // one reflector socket), the mapping probe the next three.
    let ports: Vec<u16> = r.mapped.iter().map(|m| port(*m)).collect();
    lab.check(
        ports == [1, 2, 3].map(|i| SEQUENTIAL_FIRST_PORT + i),
        "mappings 2 to 4 are not on the successive ports after the first",
        &r,
    )?;
    // Another internal port, then another host: the sequence goes on.
    let (a, b) = (lab.reflector.endpoint(0), lab.reflector.endpoint(2));
    let more = probe::run(&lab.host.ns, PORT + 2, &[Query::to(a), Query::to(b)])?;
    let other = lab.nat.add_host("h2")?;
    let last = probe::run(&other.ns, PORT, &[Query::to(a)])?;
    let seq: Vec<u16> = ports
        .iter()
        .copied()
        .chain(more.iter().chain(&last).map(|o| port(o.mapped())))
        .collect();
    eprintln!("sequential mappings: {seq:?}");
    ensure!(
        seq.windows(2).all(|w| w[1] == w[0] + 1),
        "mappings are not successive ports: {seq:?}"
    );
    let range = SEQUENTIAL_FIRST_PORT..SEQUENTIAL_FIRST_PORT + SEQUENTIAL_PORTS;
    ensure!(
        seq.iter().all(|p| range.contains(p)),
        "ports outside {range:?}: {seq:?}"
    );
    Ok(())
}

/// Port of the outside sender in the clash tests.
const OUTSIDE_PORT: u16 = 40100;

/// One test per kind, from one table: whether an unsolicited packet to the
/// router's own address and port (which the host then sends from, to that
/// very sender) makes source NAT give the host another port.
macro_rules! clash_kinds {
    ($($name:ident: $kind:ident, port_kept $kept:literal;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                check_clash(NatKind::$kind, $kept)
            }
        )*
    };
}

clash_kinds! {
    stock_linux_gives_another_port_after_an_unsolicited_packet: StockLinux, port_kept false;
    port_restricted_cone_drops_the_unsolicited_packet_and_keeps_the_port: PortRestrictedCone, port_kept true;
}

/// A sender outside sends to the NAT's WAN address at [`PORT`] first; then
/// the host sends from [`PORT`] to that sender. The NAT keeps the port for
/// it exactly when `kept`.
fn check_clash(kind: NatKind, kept: bool) -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("outside")?;
    let nat = internet.add_nat("nat", kind)?;
    let host = nat.add_host("h")?;
    let wan_port = SocketAddr::from(SocketAddrV4::new(nat.wan_addr(), PORT));
    let early = probe::run(&server.ns, OUTSIDE_PORT, &[Query::to(wan_port)])?;
    ensure!(
        early[0].replies.is_empty(),
        "the router answered: {early:?}"
    );
    let outside = SocketAddr::from(SocketAddrV4::new(server.ipv4, OUTSIDE_PORT));
    let _reflector = Reflector::start(&server.ns, &[outside])?;
    let out = probe::run(&host.ns, PORT, &[Query::to(outside)])?;
    let mapped = out[0]
        .mapped()
        .with_context(|| format!("no answer from outside: {out:?}"))?;
    eprintln!("{kind:?}: after an unsolicited packet to port {PORT}, mapped {mapped}");
    let conntrack = nat.conntrack()?;
    ensure!(
        (mapped.port() == PORT) == kept,
        "{kind:?}: mapped {mapped} from port {PORT}, expected the port {}\nconntrack:\n{conntrack}",
        if kept { "kept" } else { "changed" }
    );
    Ok(())
}

#[test]
fn a_short_udp_timeout_forgets_idle_mappings() -> Result<()> {
    let lab = NatLab::new(NatKind::PortRestrictedCone)?;
    lab.nat.set_udp_timeout(Duration::from_secs(3))?;
    let to = lab.reflector.endpoint(0);
    let out = probe::run(&lab.host.ns, PORT, &[Query::to(to)])?;
    ensure!(out[0].mapped().is_some(), "no answer: {out:?}");
    let entry = format!("sport={PORT} dport={}", to.port());
    let tracked = |nat: &NatRouter| -> Result<bool> { Ok(nat.conntrack()?.contains(&entry)) };
    ensure!(tracked(&lab.nat)?, "the mapping is not tracked");
    // The kernel's default keeps it 30 s: gone within 15 s only if the
    // timeout took.
    wait::poll(
        "the idle mapping to expire",
        Duration::from_secs(15),
        || Ok((!tracked(&lab.nat)?).then_some(())),
    )
    .with_context(|| format!("conntrack:\n{}", lab.nat.conntrack().unwrap_or_default()))?;
    Ok(())
}

/// One test per setting, from one table: a host behind the NAT reaches
/// another one's public endpoint exactly when the NAT hairpins, and sees
/// it from the NAT's WAN address.
macro_rules! hairpin_cases {
    ($($name:ident: hairpin $on:literal;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                check_hairpin($on)
            }
        )*
    };
}

hairpin_cases! {
    a_hairpinning_nat_loops_a_lan_hosts_packet_back_to_another: hairpin true;
    a_nat_without_hairpinning_keeps_its_public_endpoints_from_its_lan: hairpin false;
}

fn check_hairpin(on: bool) -> Result<()> {
    let lab = NatLab::new(NatKind::PortRestrictedCone)?;
    if on {
        lab.nat.enable_hairpinning()?;
    }
    // The first host opens a mapping, then answers on that port.
    let out = probe::run(&lab.host.ns, PORT, &[Query::to(lab.reflector.endpoint(0))])?;
    let public = out[0]
        .mapped()
        .with_context(|| format!("no answer: {out:?}"))?;
    let inside = SocketAddr::from(SocketAddrV4::new(lab.host.ipv4, PORT));
    let _answerer = Reflector::start(&lab.host.ns, &[inside])?;
    let other = lab.nat.add_host("h2")?;
    let out = probe::run(&other.ns, PORT, &[Query::to(public)])?;
    eprintln!("hairpinning {on}: {out:?}");
    match out[0].mapped() {
        Some(seen) => {
            ensure!(on, "reached {public} from the LAN without hairpinning");
            ensure!(
                seen.ip() == IpAddr::V4(lab.nat.wan_addr()),
                "the hairpinned packet came from {seen}, not from the WAN address"
            );
        }
        None => ensure!(!on, "no answer from {public} through the hairpin"),
    }
    Ok(())
}

#[test]
fn a_dual_stack_router_lets_ipv6_out_and_only_replies_in() -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("server")?;
    let nat = internet.add_dual_stack_nat("nat", NatKind::SymmetricRandom)?;
    let host = nat.add_host("h")?;
    let v6 = host
        .ipv6
        .context("no IPv6 address behind a dual-stack router")?;
    ensure!(
        v6.segments()[..2] == [0x2001, 0xdb8] && nat.wan_ipv6().is_some(),
        "host {v6}, router WAN {:?}",
        nat.wan_ipv6()
    );
    ping(&host.ns, IpAddr::V6(server.ipv6)).context("IPv6 out")?;
    ping(&host.ns, IpAddr::V4(server.ipv4)).context("IPv4 out, through the NAT")?;
    ping_fails(&server.ns, IpAddr::V6(v6)).context("unsolicited IPv6 in")?;
    Ok(())
}

#[test]
fn udp_blocked_drops_udp_but_lets_ping_through() -> Result<()> {
    let lab = NatLab::new(NatKind::UdpBlocked)?;
    let out = probe::run(
        &lab.host.ns,
        PORT,
        &[
            Query::to(lab.reflector.endpoint(0)),
            Query::to(lab.reflector.endpoint(2)),
        ],
    )?;
    ensure!(
        out.iter().all(|o| o.replies.is_empty()),
        "UDP got through a NAT that blocks it: {out:?}"
    );
    // The router still forwards and masquerades everything else.
    let to = lab.reflector.endpoint(0).ip();
    let s = ping_stats(&lab.host.ns, to, 3, "0.2")?;
    ensure!(s.received == 3, "ping through the UDP-blocking NAT: {s:?}");
    Ok(())
}

#[test]
fn nat_behind_carrier_grade_nat() -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("stun")?;
    let reflector = Reflector::start_abc(&internet, &server)?;
    let cgn = internet.add_cgn("cgn", NatKind::PortRestrictedCone)?;
    let home = cgn.add_nat("home", NatKind::PortRestrictedCone)?;
    let host = home.add_host("h")?;
    ensure!(
        cgn.lan_subnet().starts_with("198.19.") && home.wan_addr().octets()[..2] == [198, 19],
        "CGN segment {} / home WAN {}",
        cgn.lan_subnet(),
        home.wan_addr()
    );
    let r = probe::characterise(&host.ns, &reflector, PORT)?;
    eprintln!("behind CGN: {r:?}");
    ensure!(r.udp_works, "no UDP through two NATs: {r:?}");
    ensure!(
        r.mapped[0].map(|m| m.ip()) == Some(IpAddr::V4(cgn.wan_addr())),
        "mapped {:?}, expected the CGN's WAN address {}",
        r.mapped[0],
        cgn.wan_addr()
    );
    ensure!(
        r.endpoint_independent_mapping(),
        "two cone NATs in a row: {r:?}"
    );
    ensure!(
        !r.from_other_port && !r.from_other_addr,
        "unsolicited answers got through two NATs: {r:?}"
    );
    Ok(())
}

/// A host behind a port-restricted NAT and a public host to ping.
fn ping_lab() -> Result<(Internet, NatRouter, PrivateHost, IpAddr)> {
    let internet = Internet::new()?;
    let server = internet.add_host("server")?;
    let nat = internet.add_nat("nat", NatKind::PortRestrictedCone)?;
    let host = nat.add_host("h")?;
    Ok((internet, nat, host, IpAddr::V4(server.ipv4)))
}

#[test]
fn impair_adds_the_configured_delay() -> Result<()> {
    let (_internet, nat, host, server) = ping_lab()?;
    let before = ping_stats(&host.ns, server, 5, "0.05")?;
    ensure!(
        before.received == 5 && before.avg_rtt_ms.is_some_and(|r| r < 10.0),
        "unimpaired baseline: {before:?}"
    );
    let spec = Impairment::none().delay(Duration::from_millis(30));
    let shim = nat.impair(&spec, Direction::Upstream)?;
    let during = ping_stats(&host.ns, server, 20, "0.02")?;
    eprintln!("30 ms upstream delay: {during:?}");
    ensure!(during.received == 20, "no loss configured: {during:?}");
    ensure!(
        during.min_rtt_ms.is_some_and(|r| r > 25.0),
        "30 ms delay configured, RTT {during:?}"
    );
    ensure!(
        during.avg_rtt_ms.is_some_and(|r| r < 60.0),
        "delay added once, yet RTT {during:?}"
    );
    shim.stop()?;
    let after = ping_stats(&host.ns, server, 5, "0.05")?;
    ensure!(
        after.received == 5 && after.avg_rtt_ms.is_some_and(|r| r < 10.0),
        "delay outlived the shim: {after:?}"
    );
    Ok(())
}

#[test]
fn impair_drops_about_the_configured_fraction() -> Result<()> {
    let (_internet, nat, host, server) = ping_lab()?;
    let spec = Impairment::none().loss(0.3).seed(0x5eed);
    let _shim = nat.impair(&spec, Direction::Upstream)?;
    let s = ping_stats(&host.ns, server, 200, "0.005")?;
    let loss = 1.0 - f64::from(s.received) / f64::from(s.sent);
    eprintln!("30% upstream loss: {s:?}, measured {:.1}%", loss * 100.0);
    ensure!(s.sent == 200, "{s:?}");
    ensure!(
        (0.15..=0.45).contains(&loss),
        "30% loss configured, measured {:.1}% ({s:?})",
        loss * 100.0
    );
    Ok(())
}

#[test]
fn impair_delays_a_public_hosts_own_link_and_stops_with_its_namespace() -> Result<()> {
    let internet = Internet::new()?;
    let a = internet.add_host("a")?;
    let b = internet.add_host("b")?;
    let spec = Impairment::none()
        .delay(Duration::from_millis(20))
        .jitter(Duration::from_millis(5));
    let mut shim = tessel_netns::lab::Impairer::start_output(&a.ns, &["eth0"], &spec)?;
    for to in [IpAddr::V4(b.ipv4), IpAddr::V6(b.ipv6)] {
        let s = ping_stats(&a.ns, to, 5, "0.05")?;
        ensure!(
            s.received == 5 && s.avg_rtt_ms.is_some_and(|r| (20.0..60.0).contains(&r)),
            "20 ms + 5 ms jitter on {to}: {s:?}"
        );
    }
    let table = shim.table();
    ensure!(
        a.ns.exec_ok(&["nft", "list", "tables"])?.contains(&table),
        "steering table {table} not installed"
    );
    // Deleting the namespace handle (as `ip netns del` does) stops the shim
    // by itself; its table is bound to its socket and goes with it.
    std::process::Command::new("umount")
        .arg(format!("/run/netns/{}", a.ns.name()))
        .status()
        .context("umount")?;
    ensure!(
        shim.wait_exit(Duration::from_secs(5))?,
        "impair still running after its namespace handle went away"
    );
    ensure!(
        shim.stderr().contains("namespace gone"),
        "{}",
        shim.stderr()
    );
    Ok(())
}

#[test]
fn a_lab_vanishes_with_its_last_handle() -> Result<()> {
    let internet = Internet::new()?;
    let server = internet.add_host("stun")?;
    let mut reflector = Reflector::start_abc(&internet, &server)?;
    let cgn = internet.add_cgn("cgn", NatKind::SymmetricRandom)?;
    let home = cgn.add_nat("home", NatKind::FullCone)?;
    let host = home.add_host("h")?;
    let mut shim = home.impair(&Impairment::none(), Direction::Both)?;
    let names: Vec<String> = [
        &internet.core().clone(),
        &server.ns,
        cgn.ns(),
        home.ns(),
        &host.ns,
    ]
    .iter()
    .map(|ns| ns.name().to_owned())
    .collect();
    let pids = [reflector.pid(), shim.pid()];
    drop((internet, server, cgn, home, host));
    for n in &names {
        ensure!(
            !std::path::Path::new("/run/netns").join(n).exists(),
            "namespace {n} still exists after the lab was dropped"
        );
    }
    // The namespaces' processes were killed with them (a killed process
    // leaves its namespace a moment before its parent can reap it).
    let gone = Duration::from_secs(5);
    ensure!(reflector.wait_exit(gone)?, "reflector {} survived", pids[0]);
    ensure!(shim.wait_exit(gone)?, "impair {} survived", pids[1]);
    Ok(())
}

/// The link-layer address of the only bridge in `ns`, and its ports.
fn bridge_and_ports(ns: &tessel_netns::Netns) -> Result<(String, Vec<String>)> {
    let bridges = ns.ip(&["-o", "link", "show", "type", "bridge"])?;
    let line = bridges.lines().next().context("no bridge")?;
    let name = line
        .split(':')
        .nth(1)
        .context("no bridge name")?
        .trim()
        .to_owned();
    let mac = line
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .context("no bridge address")?
        .to_owned();
    let ports = ns
        .ip(&["-o", "link", "show", "master", &name])?
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect();
    Ok((mac, ports))
}

/// Plugs in a public host whose port on the internet's bridge has the
/// link-layer address `mac`.
fn join_with_port_address(
    internet: &Internet,
    role: &str,
    mac: &str,
) -> Result<tessel_netns::lab::PublicHost> {
    let (_, before) = bridge_and_ports(internet.core())?;
    let host = internet.add_host(role)?;
    let (_, after) = bridge_and_ports(internet.core())?;
    let port = after
        .iter()
        .find(|p| !before.contains(p))
        .context("no new port")?;
    internet.core().ip(&["link", "set", port, "address", mac])?;
    Ok(host)
}

/// The internet's router keeps its link-layer address while hosts and
/// routers join it, so that those that learnt it keep reaching it. (A
/// Linux bridge without an address of its own takes the lowest of its
/// ports' and follows any port that joins with a lower one; a host that
/// had learnt the old one, on another port, then sent into a black hole
/// for tens of seconds, until its neighbour entry was probed again.)
#[test]
fn the_internets_router_keeps_its_address_as_ports_join() -> Result<()> {
    let internet = Internet::new()?;
    let gateway = IpAddr::V4(tessel_netns::lab::internet::HOSTS_GATEWAY);
    // Port addresses from the documentation block (RFC 7042), below any
    // that the kernel makes up.
    let _a = join_with_port_address(&internet, "a", "00:00:5e:00:53:02")?;
    let b = internet.add_host("b")?;
    // B learns the router's address.
    tessel_netns::traffic::ping(&b.ns, gateway)?;
    let (before, _) = bridge_and_ports(internet.core())?;
    let _c = join_with_port_address(&internet, "c", "00:00:5e:00:53:01")?;
    let (after, _) = bridge_and_ports(internet.core())?;
    tessel_netns::traffic::ping(&b.ns, gateway).context("B no longer reaches its gateway")?;
    ensure!(
        after == before,
        "the router's address changed from {before} to {after} when a port joined"
    );
    Ok(())
}
