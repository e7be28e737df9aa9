//! Network key rotation between real daemons: `tessel network rotate` on
//! one node hands the new key to the other over their session; both keep
//! their addresses and keep talking; the other's state dir and status show
//! the new epoch; restarted with the old `--network` text, it comes back on
//! the new key. A newcomer given the new key text joins the same network.
//!
//! Needs root (namespaces, veth, bridges, TUN), `ping`, and the `tessel`
//! binary (`cargo build -p tessel-overlay --bin tessel`, or set
//! `TESSEL_BIN`).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::netns::is_root;
use tessel_netns::process::run_ok;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::ping;
use tessel_netns::{Lan, NodeConfig, Status, TesselNode};

const WAIT: Duration = Duration::from_secs(30);
const CLI: Duration = Duration::from_secs(10);

fn epoch(s: &Status) -> Option<u64> {
    s.0["network_key"]["epoch"].as_u64()
}

// Topology:
//
//      ns a ── bridge ── ns b, ns c
//      tessel up          tessel up --peer A
//      (a, b: --network OLD_KEY; A runs `tessel network rotate --grace 1h`;
//      then c: --network NEW_KEY --peer A)
#[test]
fn a_rotation_reaches_the_other_daemon_and_survives_its_restart() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let old_key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b", "c"])?;
    let a_ep = lan.host(0).v4_endpoint(DEFAULT_PORT);
    let cfg = |c: NodeConfig| c.lan_discovery(false).port_mapping("off");
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), cfg(NodeConfig::new(&old_key)))?;
    let mut b = TesselNode::start(
        "b",
        lan.host(1).ns.clone(),
        cfg(NodeConfig::new(&old_key).peer(a_ep.clone())),
    )?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let (a_ips, b_ips) = (a.ip()?, b.ip()?);
    ensure!(epoch(&b.status()?) == Some(0), "b starts at epoch 0");

    let out = run_ok(a.cli(&["network", "rotate", "--grace", "1h"]), CLI)?;
    let new_key = out.trim().to_owned();
    ensure!(
        new_key.starts_with("tessel-net-") && new_key != old_key,
        "rotate printed {out:?}"
    );
    ensure!(epoch(&a.status()?) == Some(1), "a is at epoch 1");
    let status = b.wait_until("b to get the new key", WAIT, |s| epoch(s) == Some(1))?;
    ensure!(
        status.0["network_key"]["retiring_epoch"].as_u64() == Some(0),
        "b keeps the old key for the grace: {status}"
    );
    // B's state dir holds the new key, and the old one with its grace end.
    let state = b.state_dir();
    let saved = std::fs::read_to_string(state.join("network.key"))?;
    ensure!(saved.trim() == new_key, "b saved {saved:?}");
    let retiring = state.join("network.key.retiring");
    let text = std::fs::read_to_string(&retiring).context("network.key.retiring")?;
    ensure!(
        text.starts_with(old_key.trim()),
        "b's retiring key file: {text:?}"
    );
    let mode = std::fs::metadata(&retiring)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "network.key.retiring has mode {mode:o}");

    // Same addresses, and the two still talk (B handshakes under the new key).
    ensure!(a.ip()? == a_ips && b.ip()? == b_ips, "an address moved");
    ping(a.ns(), b_ips.v6.into())?;
    ping(b.ns(), a_ips.v4.into())?;

    // B restarted with the old key on its command line comes back on the
    // new one, and says so.
    b.stop()?;
    b.restart()?;
    b.wait_until("b back on epoch 1", WAIT, |s| epoch(s) == Some(1))?;
    ensure!(
        b.log().contains("the network key given was rotated"),
        "b did not say it took the newer key"
    );
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    ping(b.ns(), a_ips.v6.into())?;

    // A newcomer given the new key text: same network, reaches both.
    let mut c = TesselNode::start(
        "c",
        lan.host(2).ns.clone(),
        cfg(NodeConfig::new(&new_key).peer(a_ep)),
    )?;
    wait_full_mesh(&mut [&mut a, &mut b, &mut c], MESH_TIMEOUT)?;
    ensure!(
        c.status()?.network_id()? == a.status()?.network_id()?,
        "c is in another network"
    );
    ping(c.ns(), b_ips.v6.into())?;
    for n in [&mut a, &mut b, &mut c] {
        n.stop()?;
    }
    Ok(())
}
