//! The metrics endpoint (`tessel up --metrics ADDR:PORT`): two nodes ping
//! each other over the overlay, then each one's `/metrics` is scraped over
//! HTTP from inside its namespace and parsed; the families are all there
//! and the counters show the traffic. A has a fixed port (its namespace's
//! loopback is its own); B asks for port 0 and the test reads the port it
//! got from its log. A hosts a tile (its neighbour never comes), so its
//! scrape has the tile's families too. Any other path is 404.
//!
//! Needs root (namespaces, veth, bridges, TUN), `ping` and `curl`, and the
//! `tessel` binary (`cargo build -p tessel-overlay --bin tessel`, or set
//! `TESSEL_BIN`).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::metrics::{get, scrape, Scrape};
use tessel_netns::netns::is_root;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::ping;
use tessel_netns::{wait, Lan, NodeConfig, TesselNode};
use tessel_overlay::identity::NodeKey;
use tessel_overlay::node::DropReason;

/// A's metrics address.
const A_METRICS: &str = "127.0.0.1:9745";

/// Echo requests sent each way (`traffic::ping` sends three).
const PINGS: f64 = 3.0;

/// Families every scrape has (names as exposed).
const FAMILIES: [&str; 20] = [
    "tessel_members",
    "tessel_sessions",
    "tessel_peers",
    "tessel_overlay_sent_packets_total",
    "tessel_overlay_sent_bytes_total",
    "tessel_overlay_received_packets_total",
    "tessel_overlay_received_bytes_total",
    "tessel_wire_sent_bytes_total",
    "tessel_wire_received_bytes_total",
    "tessel_handshakes_initiated_total",
    "tessel_handshakes_completed_total",
    "tessel_drops_total",
    "tessel_relay_forwarded_bytes_total",
    "tessel_relay_pairs",
    "tessel_punch_attempts_total",
    "tessel_punch_successes_total",
    "tessel_lookups_total",
    "tessel_nat_mapping",
    "tessel_tcp_connections",
    "tessel_engine_frames_total",
];

fn node_config(key: &str, metrics: &str) -> NodeConfig {
    NodeConfig::new(key)
        .lan_discovery(false)
        .port_mapping("off")
        .extra_args(["--metrics".to_owned(), metrics.to_owned()])
}

/// The address a node logged for its metrics endpoint.
fn logged_metrics_addr(node: &TesselNode) -> Result<String> {
    wait::poll(
        "the metrics address in the log",
        Duration::from_secs(10),
        || {
            Ok(node.log().lines().find_map(|l| {
                let rest = l.split("metrics at http://").nth(1)?;
                Some(rest.split('/').next()?.to_owned())
            }))
        },
    )
}

/// The checks every scrape of a node that pinged and was pinged passes.
fn check(scrape: &Scrape, label: &str) -> Result<()> {
    for name in FAMILIES {
        let f = scrape.family(name)?;
        ensure!(!f.help.is_empty(), "{label}: {name} has no HELP");
        let counter = name.ends_with("_total");
        ensure!(
            (f.kind == "counter") == counter,
            "{label}: {name} is a {}",
            f.kind
        );
    }
    for (name, f) in &scrape.families {
        ensure!(name.starts_with("tessel_"), "{label}: family {name}");
        ensure!(!f.kind.is_empty(), "{label}: {name} has no TYPE");
    }
    let v = |name: &str, labels: &[(&str, &str)]| scrape.value(name, labels);
    ensure!(v("tessel_sessions", &[])? >= 1.0, "{label}: no session");
    ensure!(
        v("tessel_peers", &[("path", "direct")])? >= 1.0,
        "{label}: no direct peer"
    );
    for dir in ["sent", "received"] {
        let packets = v(&format!("tessel_overlay_{dir}_packets_total"), &[])?;
        ensure!(packets >= PINGS, "{label}: {packets} packets {dir}");
        let bytes = v(&format!("tessel_overlay_{dir}_bytes_total"), &[])?;
        ensure!(bytes >= 84.0 * PINGS, "{label}: {bytes} bytes {dir}");
        let wire = v(&format!("tessel_wire_{dir}_bytes_total"), &[])?;
        ensure!(
            wire > bytes,
            "{label}: {wire} wire bytes {dir}, {bytes} in packets"
        );
    }
    ensure!(
        v("tessel_handshakes_completed_total", &[])? >= 1.0,
        "{label}: no handshake completed"
    );
    let drops = scrape.family("tessel_drops_total")?;
    for r in DropReason::ALL {
        drops
            .value(&[("reason", r.name())])
            .with_context(|| format!("{label}: no drops for {}", r.name()))?;
    }
    // The kernel sends the interface's own multicast (no_route); nothing
    // on a clean LAN fails to authenticate.
    for reason in ["bad_mac", "handshake_failed", "decrypt_failed", "replay"] {
        let n = drops.value(&[("reason", reason)]).unwrap_or_default();
        ensure!(n == 0.0, "{label}: {n} drops for {reason}");
    }
    let nat = scrape.family("tessel_nat_mapping")?;
    ensure!(nat.sum() == 1.0, "{label}: NAT mapping {:?}", nat.samples);
    Ok(())
}

// Topology:
//
//      ns a ──┐                ┌── ns b
//   tessel0   │ bridged LAN    │   tessel0
//   metrics   └── 10.x/24 ─────┘   metrics
//   127.0.0.1:9745                 127.0.0.1:0 (port from its log)
/// Both nodes' endpoints show the families, the session, the traffic
/// each way, and no authentication failures; other paths are 404.
#[test]
fn metrics_are_scraped_after_two_nodes_ping() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    // A hosts a tile whose neighbour never shows up: its families come
    // from the tile host's task.
    let absent = NodeKey::from_seed([0x42; 32]).id().to_string();
    let a_config =
        node_config(&key, A_METRICS).extra_args(["--tile".to_owned(), format!("ET={absent}")]);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), a_config)?;
    let b_config = node_config(&key, "127.0.0.1:0").peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_config)?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let (a_ips, b_ips) = (a.ip()?, b.ip()?);
    ping(a.ns(), b_ips.v6.into())?;
    ping(b.ns(), a_ips.v4.into())?;

    let a_scrape = scrape(a.ns(), A_METRICS)?;
    check(&a_scrape, "a")?;
    ensure!(
        a_scrape.value("tessel_tile_neighbour_present", &[("dir", "ET")])? == 0.0,
        "a: the absent neighbour is present"
    );
    a_scrape.value("tessel_tile_sent_bytes_total", &[("dir", "ET")])?;
    let b_metrics = logged_metrics_addr(&b)?;
    ensure!(
        b_metrics.starts_with("127.0.0.1:") && b_metrics != "127.0.0.1:0",
        "b logged its metrics at {b_metrics}"
    );
    let b_scrape = scrape(b.ns(), &b_metrics)?;
    check(&b_scrape, "b")?;
    ensure!(
        !b_scrape
            .families
            .keys()
            .any(|f| f.starts_with("tessel_tile_")),
        "b hosts no tile but shows tile families"
    );

    let (code, body) = get(a.ns(), A_METRICS, "/other")?;
    ensure!(code == 404, "GET /other answered {code}: {body}");
    let (code, _) = get(a.ns(), A_METRICS, "/metrics/")?;
    ensure!(code == 404, "GET /metrics/ answered {code}");
    Ok(())
}
