//! Port mapping against a real gateway: Debian's miniupnpd on a lab NAT
//! router of the port-restricted kind (which lets nothing unsolicited in).
//! A node behind it maps its UDP port with PCP, NAT-PMP and UPnP in turn;
//! its status shows the mapping; a public member told only the mapped
//! address reaches it and pings it over the overlay; after SIGTERM the
//! mapping is gone from the router.
//!
//! Needs root, `nft`, `ping`, `miniupnpd` (package miniupnpd-nftables),
//! `turnserver` (package coturn: miniupnpd learns through STUN that its
//! documentation-range WAN address is usable), and the `tessel` binary.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::lab::coturn::Coturn;
use tessel_netns::lab::upnp_gateway::Miniupnpd;
use tessel_netns::lab::{Internet, NatKind, NatRouter, PrivateHost, PublicHost};
use tessel_netns::process::run_ok;
use tessel_netns::tessel::{new_network_key, DEFAULT_PORT};
use tessel_netns::traffic::ping;
use tessel_netns::{NodeConfig, Status, TesselNode};

/// How long a node may take to get its mapping (one probe and a few
/// round trips on a LAN; bounded, not a speed requirement).
const MAPPING_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the public member may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A home router with miniupnpd, a host behind it, and a public host.
struct GatewayLab {
    upnpd: Miniupnpd,
    router: NatRouter,
    home: PrivateHost,
    public: PublicHost,
    stun: Coturn,
    _internet: Internet,
}

impl GatewayLab {
    fn new() -> Result<Self> {
        let internet = Internet::new()?;
        let stun_host = internet.add_host("stun")?;
        let stun = Coturn::start(&internet, &stun_host)?;
        let router = internet.add_nat("gw", NatKind::PortRestrictedCone)?;
        let upnpd = Miniupnpd::start(&router, stun.addr)?;
        let home = router.add_host("home")?;
        let public = internet.add_host("public")?;
        Ok(Self {
            upnpd,
            router,
            home,
            public,
            stun,
            _internet: internet,
        })
    }
}

/// The mapping in a status: (protocol, external address).
fn mapping(status: &Status) -> Option<(String, SocketAddr)> {
    let m = &status.0["port_mapping"];
    Some((
        m["protocol"].as_str()?.to_owned(),
        m["external"].as_str()?.parse().ok()?,
    ))
}

/// Starts the home node with `mode` and waits for its mapping by
/// `expected`; checks it against the router.
fn home_mapped(
    lab: &GatewayLab,
    key: &str,
    mode: Option<&str>,
    expected: &str,
) -> Result<(TesselNode, SocketAddr)> {
    let mut config = NodeConfig::new(key);
    if let Some(m) = mode {
        config = config.port_mapping(m);
    }
    let mut home = TesselNode::start("home", lab.home.ns.clone(), config)?;
    let status = home.wait_until("a port mapping", MAPPING_TIMEOUT, |s| mapping(s).is_some())?;
    let (protocol, external) = mapping(&status).context("mapping vanished")?;
    ensure!(
        protocol == expected,
        "mapped with {protocol}, expected {expected}"
    );
    ensure!(
        external.ip() == IpAddr::V4(lab.router.wan_addr()),
        "external address {external} is not the router's {}",
        lab.router.wan_addr()
    );
    let internal = SocketAddr::from((lab.home.ipv4, DEFAULT_PORT));
    let forwards = lab.upnpd.udp_forwards()?;
    ensure!(
        forwards.contains(&(external.port(), internal)),
        "the router forwards {forwards:?}, not {external} to {internal}\n{}",
        lab.upnpd.log()
    );
    let text = run_ok(home.cli(&["status"]), Duration::from_secs(10))?;
    ensure!(
        text.contains(&format!("mapped   {external} ({expected})")),
        "`tessel status` does not show the mapping:\n{text}"
    );
    Ok((home, external))
}

/// The whole story with one protocol.
fn maps_reaches_and_deletes(protocol: &str) -> Result<()> {
    let lab = GatewayLab::new()?;
    let key = new_network_key()?;
    let (mut home, external) = home_mapped(&lab, &key, Some(protocol), protocol)?;
    let home_id = home.node_id()?;
    let home_ip = home.ip()?.v6;

    // A member on the internet that knows only the mapped address: its
    // first datagram is unsolicited, and the port-restricted NAT would drop
    // it without the mapping.
    let mut public = TesselNode::start(
        "public",
        lab.public.ns.clone(),
        NodeConfig::new(&key)
            .peer(external.to_string())
            .port_mapping("off"),
    )?;
    let status = public.wait_until("the public member to reach home", CONNECT_TIMEOUT, |s| {
        s.is_connected_to(&home_id)
    })?;
    let endpoint = status
        .peer(&home_id)
        .and_then(|p| p.endpoint().map(str::to_owned));
    ensure!(
        endpoint.as_deref() == Some(external.to_string().as_str()),
        "the public member reaches home at {endpoint:?}, not the mapping {external}"
    );
    ping(&lab.public.ns, home_ip.into())?;

    // A clean shutdown deletes the mapping on the router.
    home.stop()?;
    let forwards = lab.upnpd.udp_forwards()?;
    ensure!(
        forwards.iter().all(|(p, _)| *p != external.port()),
        "port {} still forwarded after SIGTERM: {forwards:?}\n{}",
        external.port(),
        lab.upnpd.log()
    );
    public.stop()?;
    Ok(())
}

/// One test per mapping protocol, from one table: the whole story with
/// `port_mapping = <protocol>`.
macro_rules! protocols {
    ($($name:ident: $protocol:literal;)*) => {
        $(
            #[test]
            fn $name() -> Result<()> {
                maps_reaches_and_deletes($protocol)
            }
        )*
    };
}

protocols! {
    pcp_maps_reaches_and_deletes: "pcp";
    nat_pmp_maps_reaches_and_deletes: "nat-pmp";
    upnp_maps_reaches_and_deletes: "upnp";
}

/// By default the node probes and prefers PCP.
#[test]
fn default_prefers_pcp() -> Result<()> {
    let lab = GatewayLab::new()?;
    let key = new_network_key()?;
    let (mut home, _) = home_mapped(&lab, &key, None, "pcp")?;
    home.stop()?;
    ensure!(
        lab.upnpd.udp_forwards()?.is_empty(),
        "a forward is left after SIGTERM"
    );
    Ok(())
}

/// `tessel netcheck` behind that router names the protocols it offers.
#[test]
fn netcheck_names_the_gateways_protocols() -> Result<()> {
    let lab = GatewayLab::new()?;
    let stun = lab.stun.addr.to_string();
    let out = tessel_netns::tessel::run_once(
        Some(&lab.home.ns),
        &["netcheck", "--json", "--stun", &stun],
        Duration::from_secs(40),
    )?;
    ensure!(
        out.status.success(),
        "netcheck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let offered = report["port_mapping"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for protocol in ["PCP", "NAT-PMP", "UPnP IGD"] {
        ensure!(
            offered.contains(protocol),
            "netcheck says {offered:?}, not {protocol}"
        );
    }
    Ok(())
}
