//! The config file in a running node, and a network with its own IPv4
//! range: SIGHUP applies the reloadable keys, names the others and refuses
//! a bad file; two members with another range ping each other over IPv4.
//!
//! Needs root (namespaces, veth, bridges, TUN) and the `tessel` binary.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::tessel::{self, DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_netns::traffic::ping;
use tessel_netns::{wait, Lan, NodeConfig, TempDir, TesselNode};

/// How long to wait for a single condition.
const WAIT: Duration = Duration::from_secs(20);

/// The part of `log` after the first line that contains `marker`.
fn after<'a>(log: &'a str, marker: &str) -> &'a str {
    log.find(marker).map_or("", |i| &log[i..])
}

// Topology:
//
//              switch ns (br0)
//          +--------+---------+
//          |                  |
//      ns a: eth0         ns b: eth0
//      198.51.100.1       198.51.100.2
//      A --config FILE    B (knows nobody)
//
//  A starts knowing nobody, with relaying off and info logs; its file then
//  gains B as a peer, loses no-relay, asks for debug logs and names another
//  interface, and A gets SIGHUP.
/// SIGHUP: A reads its file again, greets the peer it gained, relays again
/// and logs at debug level, and warns that the interface name takes a
/// restart; a bad file is refused with its line and changes nothing.
#[test]
fn sighup_applies_the_reloadable_keys_and_refuses_a_bad_file() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let scratch = TempDir::new("tessel-config")?;
    let file = scratch.path().join("tessel.toml");
    std::fs::write(&file, "no-relay = true\nlog-level = \"info\"\n")?;
    let mut b = TesselNode::start(
        "b",
        lan.host(1).ns.clone(),
        NodeConfig::new(&key).lan_discovery(false),
    )?;
    let config = NodeConfig::new(&key)
        .lan_discovery(false)
        .extra_args(["--config".to_owned(), file.display().to_string()]);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), config)?;
    let status = a.status()?;
    ensure!(
        status.0["relay"]["enabled"] == false,
        "no-relay in the file was not applied: {status}"
    );
    ensure!(
        status.peers().is_empty(),
        "A knows someone already: {status}"
    );
    ensure!(
        !a.log().contains(" DEBUG "),
        "log-level in the file did not win over RUST_LOG"
    );

    std::fs::write(
        &file,
        format!(
            "peer = [\"{}\"]\nlog-level = \"debug\"\ninterface = \"other0\"\n",
            lan.host(1).v4_endpoint(DEFAULT_PORT)
        ),
    )?;
    a.signal(libc::SIGHUP)?;
    let b_id = b.node_id()?;
    a.wait_until("A to reach the peer the reload added", WAIT, |s| {
        s.is_connected_to(&b_id)
    })?;
    a.wait_until("A to relay again", WAIT, |s| {
        s.0["relay"]["enabled"] == true
    })?;
    b.wait_until("B to see A", WAIT, |s| !s.peers().is_empty())?;
    let log = a.log();
    let reload = after(&log, "SIGHUP: reading the config file again");
    ensure!(
        reload.contains("reload: applying") && reload.contains("greeting the new --peer list"),
        "the reload does not say what it applied:\n{reload}"
    );
    ensure!(
        reload.contains("`interface` changed") && reload.contains("restarts"),
        "the changed interface is not named as needing a restart:\n{reload}"
    );
    ensure!(
        reload.contains(" DEBUG "),
        "no debug logs after log-level = \"debug\":\n{reload}"
    );
    ensure!(
        a.ns().has_link(DEFAULT_INTERFACE)? && !a.ns().has_link("other0")?,
        "the interface changed without a restart"
    );

    std::fs::write(&file, "peer = \"not a list\"\n")?;
    a.signal(libc::SIGHUP)?;
    let refused = wait::poll("A to refuse the bad file", WAIT, || {
        let log = a.log();
        let last = log.rfind("SIGHUP").map_or("", |i| &log[i..]).to_owned();
        Ok(last.contains("reload refused").then_some(last))
    })?;
    ensure!(
        refused.contains("tessel.toml:1:8: peer: takes a list"),
        "the refusal does not give the line:\n{refused}"
    );
    a.ensure_running()?;
    let status = a.status()?;
    ensure!(
        status.is_connected_to(&b_id) && status.0["relay"]["enabled"] == true,
        "the refused file changed something: {status}"
    );
    a.stop()?;
    Ok(())
}

// Topology: as above; A takes the range from its config file, B from the
// flag, and B is pointed at A.
/// Members with another IPv4 range (10.213.0.0/16) hold addresses in it,
/// with the range's prefix on the interface, and ping each other over IPv4.
#[test]
fn members_ping_over_ipv4_in_another_range() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let scratch = TempDir::new("tessel-config")?;
    let file = scratch.path().join("tessel.toml");
    std::fs::write(&file, "ipv4-range = \"10.213.0.0/16\"\n")?;
    let a_cfg = NodeConfig::new(&key)
        .lan_discovery(false)
        .extra_args(["--config".to_owned(), file.display().to_string()]);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), a_cfg)?;
    let b_cfg = NodeConfig::new(&key)
        .lan_discovery(false)
        .peer(lan.host(0).v4_endpoint(DEFAULT_PORT))
        .extra_args(["--ipv4-range", "10.213.0.0/16"]);
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_cfg)?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    for node in [&a, &b] {
        let v4 = node.ip()?.v4;
        ensure!(
            v4.octets()[..2] == [10, 213],
            "{}: {v4} is not in 10.213.0.0/16",
            node.label()
        );
        let out = node
            .ns()
            .ip(&["-j", "-4", "addr", "show", "dev", DEFAULT_INTERFACE])?;
        let v: serde_json::Value = serde_json::from_str(&out)?;
        let addrs = v[0]["addr_info"].as_array().context("no addr_info")?;
        ensure!(
            addrs.iter().any(|x| {
                x["local"].as_str() == Some(v4.to_string().as_str()) && x["prefixlen"] == 16
            }),
            "{}: {v4}/16 not on {DEFAULT_INTERFACE}: {out}",
            node.label()
        );
    }
    ping(b.ns(), a.ip()?.v4.into())?;
    ping(a.ns(), b.ip()?.v4.into())?;
    Ok(())
}
