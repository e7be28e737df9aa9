//! LAN discovery with real multicast: two members on one LAN behind a NAT
//! that does not hairpin find each other by their beacons and talk over
//! the LAN, with a rendezvous or without any; with `--no-lan-discovery` no
//! beacon is sent.
//!
//! ```text
//!                 Internet (core namespace, br0)
//!          _______________|________________
//!         |                                |
//!   R 198.51.100.1                NAT 203.0.113.1 (port-restricted cone,
//!   (tessel up)                   no hairpinning), lan0 198.18.1.1/24
//!                                  ________|_________
//!                                 |                  |
//!                          B 198.18.1.2:9740   C 198.18.1.3:9750
//!                          --peer R            --peer R
//! ```
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `ping`,
//! `ss` and the `tessel` binary (`cargo build -p tessel-overlay --bin
//! tessel`, or set `TESSEL_BIN`).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::lab::{Internet, NatKind, NatRouter};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::ping_all;
use tessel_netns::{Netns, NodeConfig, TesselNode};

/// The discovery port and groups (`LAN_DISCOVERY_PORT`, `LAN_GROUP_V4`,
/// `LAN_GROUP_V6` in `overlay/src/limits.rs`).
const DISCOVERY_PORT: u16 = 9741;
const GROUP_V4: &str = "239.255.97.40";
const GROUP_V6: &str = "ff02::9740";

/// C's overlay port: not B's, so that the beacon's port is what B must use.
const C_PORT: u16 = 9750;

/// Bound on each wait (connections, endpoints).
const WAIT: Duration = Duration::from_secs(30);

/// R, and B and C on one LAN behind a port-restricted cone NAT.
struct LanLab {
    r: TesselNode,
    b: TesselNode,
    c: TesselNode,
    /// B's and C's overlay endpoints on the LAN.
    b_lan: String,
    c_lan: String,
    _nat: NatRouter,
    _internet: Internet,
}

impl LanLab {
    fn start(lan_discovery: bool) -> Result<Self> {
        let internet = Internet::new()?;
        let key = tessel::new_network_key()?;
        let r_host = internet.add_host("r")?;
        let r = TesselNode::start("r", r_host.ns.clone(), NodeConfig::new(&key))?;
        let r_endpoint = format!("{}:{DEFAULT_PORT}", r_host.ipv4);
        let nat = internet.add_nat("nat", NatKind::PortRestrictedCone)?;
        let (b_host, c_host) = (nat.add_host("b")?, nat.add_host("c")?);
        // Count the beacons each member sends, from before it starts.
        for h in [&b_host, &c_host] {
            watch_beacons(&h.ns)?;
        }
        let cfg = |listen: u16| {
            NodeConfig::new(&key)
                .peer(r_endpoint.clone())
                .listen(format!("[::]:{listen}"))
                .lan_discovery(lan_discovery)
        };
        let b = TesselNode::start("b", b_host.ns.clone(), cfg(DEFAULT_PORT))?;
        let c = TesselNode::start("c", c_host.ns.clone(), cfg(C_PORT))?;
        Ok(Self {
            r,
            b,
            c,
            b_lan: format!("{}:{DEFAULT_PORT}", b_host.ipv4),
            c_lan: format!("{}:{C_PORT}", c_host.ipv4),
            _nat: nat,
            _internet: internet,
        })
    }

    /// Waits until B and C are both connected to R.
    fn wait_rendezvous(&mut self) -> Result<()> {
        let r_id = self.r.node_id()?;
        for n in [&mut self.b, &mut self.c] {
            n.wait_until("a session with R", WAIT, |s| s.is_connected_to(&r_id))?;
        }
        Ok(())
    }
}

/// Installs an nftables counter of the LAN beacons that `ns` sends.
fn watch_beacons(ns: &Netns) -> Result<()> {
    ns.exec_ok(&["nft", "add", "table", "inet", "lanwatch"])?;
    ns.exec_ok(&[
        "nft", "add", "chain", "inet", "lanwatch", "out", "{", "type", "filter", "hook", "output",
        "priority", "0", ";", "}",
    ])?;
    let port = DISCOVERY_PORT.to_string();
    for (family, group) in [("ip", GROUP_V4), ("ip6", GROUP_V6)] {
        ns.exec_ok(&[
            "nft", "add", "rule", "inet", "lanwatch", "out", family, "daddr", group, "udp",
            "dport", &port, "counter",
        ])?;
    }
    Ok(())
}

/// Beacons `ns` has sent so far (both families), from [`watch_beacons`].
fn beacons_sent(ns: &Netns) -> Result<u64> {
    let out = ns.exec_ok(&["nft", "-j", "list", "chain", "inet", "lanwatch", "out"])?;
    let v: serde_json::Value = serde_json::from_str(&out).context("nft -j output")?;
    let items = v["nftables"].as_array().context("no nftables array")?;
    Ok(items
        .iter()
        .filter_map(|i| i["rule"]["expr"].as_array())
        .flatten()
        .filter_map(|e| e["counter"]["packets"].as_u64())
        .sum())
}

/// Whether anything in `ns` has a UDP socket on the discovery port.
fn discovery_port_open(ns: &Netns) -> Result<bool> {
    let out = ns.exec_ok(&["ss", "-Huln"])?;
    let port = format!(":{DISCOVERY_PORT}");
    Ok(out.lines().any(|l| {
        l.split_whitespace()
            .nth(3)
            .is_some_and(|local| local.ends_with(&port))
    }))
}

/// Waits until `node` lists the member `id` as connected at exactly `endpoint`.
fn wait_endpoint(node: &mut TesselNode, id: &str, endpoint: &str) -> Result<()> {
    let what = format!("a session with {id} at {endpoint}");
    node.wait_until(&what, WAIT, |s| {
        s.peer(id)
            .is_some_and(|p| p.connected() && p.endpoint() == Some(endpoint))
    })?;
    Ok(())
}

/// B and C cannot reach each other through their NAT, which does not
/// hairpin; their beacons tell each other where they are on the LAN, and
/// they talk there, each at the port it announced.
#[test]
fn members_on_one_lan_talk_over_it() -> Result<()> {
    let mut lab = LanLab::start(true)?;
    lab.wait_rendezvous()?;
    let (b_id, c_id) = (lab.b.node_id()?, lab.c.node_id()?);
    let (b_lan, c_lan) = (lab.b_lan.clone(), lab.c_lan.clone());
    ensure!(
        b_lan.starts_with("198.18.") && c_lan.starts_with("198.18."),
        "LAN endpoints {b_lan}, {c_lan}"
    );
    wait_endpoint(&mut lab.b, &c_id, &c_lan)?;
    wait_endpoint(&mut lab.c, &b_id, &b_lan)?;

    let (b_ips, c_ips) = (lab.b.ip()?, lab.c.ip()?);
    ping_all(&[
        (
            "ping B -> C (IPv6)".to_owned(),
            &**lab.b.ns(),
            c_ips.v6.into(),
        ),
        (
            "ping B -> C (IPv4)".to_owned(),
            &**lab.b.ns(),
            c_ips.v4.into(),
        ),
        (
            "ping C -> B (IPv6)".to_owned(),
            &**lab.c.ns(),
            b_ips.v6.into(),
        ),
        (
            "ping C -> B (IPv4)".to_owned(),
            &**lab.c.ns(),
            b_ips.v4.into(),
        ),
    ])?;
    // Still on the LAN after the traffic.
    for (node, id, lan) in [(&lab.b, &c_id, &c_lan), (&lab.c, &b_id, &b_lan)] {
        let s = node.status()?;
        let p = s.peer(id).context("peer gone")?;
        ensure!(
            p.connected() && p.endpoint() == Some(lan.as_str()),
            "{} left the LAN: {}",
            node.label(),
            p.0
        );
    }
    for node in [&lab.b, &lab.c] {
        ensure!(
            discovery_port_open(node.ns())?,
            "{}: nothing listens on the discovery port",
            node.label()
        );
        let n = beacons_sent(node.ns())?;
        ensure!(n > 0, "{} sent no beacon", node.label());
        println!("{} sent {n} beacons", node.label());
    }
    Ok(())
}

/// Without any rendezvous, beacons are the only way B and C can meet: they
/// do, over the LAN.
#[test]
fn members_without_a_rendezvous_meet_by_beacons() -> Result<()> {
    let internet = Internet::new()?;
    let key = tessel::new_network_key()?;
    let nat = internet.add_nat("nat", NatKind::PortRestrictedCone)?;
    let (b_host, c_host) = (nat.add_host("b")?, nat.add_host("c")?);
    let mut b = TesselNode::start("b", b_host.ns.clone(), NodeConfig::new(&key))?;
    let c_cfg = NodeConfig::new(&key).listen(format!("[::]:{C_PORT}"));
    let mut c = TesselNode::start("c", c_host.ns.clone(), c_cfg)?;
    let (b_id, c_id) = (b.node_id()?, c.node_id()?);
    wait_endpoint(&mut b, &c_id, &format!("{}:{C_PORT}", c_host.ipv4))?;
    wait_endpoint(&mut c, &b_id, &format!("{}:{DEFAULT_PORT}", b_host.ipv4))?;
    let (b_ips, c_ips) = (b.ip()?, c.ip()?);
    ping_all(&[
        ("ping B -> C (IPv6)".to_owned(), &**b.ns(), c_ips.v6.into()),
        ("ping C -> B (IPv4)".to_owned(), &**c.ns(), b_ips.v4.into()),
    ])?;
    Ok(())
}

/// With `--no-lan-discovery` a member neither listens on the discovery port
/// nor sends a beacon; it still reaches the rendezvous. Whether B and C
/// meet some other way is not this flag's business: it is only reported.
#[test]
fn no_lan_discovery_sends_no_beacon() -> Result<()> {
    let mut lab = LanLab::start(false)?;
    lab.wait_rendezvous()?;
    for node in [&lab.b, &lab.c] {
        ensure!(
            !discovery_port_open(node.ns())?,
            "{} listens on the discovery port with --no-lan-discovery",
            node.label()
        );
        let n = beacons_sent(node.ns())?;
        ensure!(
            n == 0,
            "{} sent {n} beacons with --no-lan-discovery",
            node.label()
        );
    }
    let c_id = lab.c.node_id()?;
    let s = lab.b.status()?;
    match s.peer(&c_id) {
        Some(p) => println!(
            "without LAN discovery, B sees C: connected {}, endpoint {:?}",
            p.connected(),
            p.endpoint()
        ),
        None => println!("without LAN discovery, B does not know C"),
    }
    Ok(())
}
