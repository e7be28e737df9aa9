//! A node flooded with handshake initiations in real namespaces: replays of
//! one valid initiation, fresh initiations from made-up members, and garbage
//! of the same size, each for a few seconds while an established member
//! pings it (and, during the fresh flood, moves a file over TCP).
//!
//! Asserts no timings: the member stays reachable through each flood, the
//! counters show replays dropped as replays, fresh initiations limited or
//! answered with cookies, garbage as malformed, and the node did a bounded
//! number of Diffie-Hellman operations. The figures (CPU per datagram,
//! loss) are `bench/flood.sh`'s.
//!
//! Needs root, `ping`, `iperf3` and the `tessel` binary built with the
//! overlay's `test-hooks` feature (for `tessel test-flood`).

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::process::Process;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp, ping_stats};
use tessel_netns::{Lan, NodeConfig, TempDir, TesselNode};

/// How long each flood lasts.
const FLOOD_SECS: u64 = 3;
/// Initiations a second the node takes before it is under load, and one
/// source's share under load (`overlay/src/node/initiation_limit.rs`).
const LOAD: u64 = 100;
const RATE: u64 = 20;

// Topology: one LAN (198.51.100.0/24).
//
//   ns a: A (flooded)    ns b: B (member, --peer A)    ns c: flooder
fn handshakes(status: &Value, field: &str) -> u64 {
    status["handshakes"][field].as_u64().unwrap_or(0)
}

fn drops(status: &Value, reason: &str) -> u64 {
    status["drops"][reason].as_u64().unwrap_or(0)
}

/// Floods A from `c` with `kind` for [`FLOOD_SECS`] while B pings A (and,
/// with `transfer`, sends it a file over TCP); returns A's status before
/// and after, the datagrams sent, and the pings that came back (of 20).
fn flood(
    lan: &Lan,
    a: &TesselNode,
    key: &str,
    kind: &str,
    transfer: bool,
    logs: &TempDir,
) -> Result<(Value, Value, u64, u32)> {
    let a_ip = a.ip()?;
    let before = a.status_json()?;
    let mut cmd = lan.host(2).ns.command(tessel::bin()?);
    cmd.args([
        "test-flood",
        "--network",
        key,
        "--target",
        &a.node_id()?,
        "--to",
        &lan.host(0).v4_endpoint(DEFAULT_PORT),
        "--kind",
        kind,
        "--seconds",
        &FLOOD_SECS.to_string(),
    ]);
    let mut flooder = Process::spawn(cmd, &format!("flood-{kind}"), logs.path())?;
    std::thread::sleep(Duration::from_millis(300));
    let pings = ping_stats(&lan.host(1).ns, a_ip.v6.into(), 20, "0.1")?;
    if transfer {
        iperf_tcp(
            &lan.host(0).ns,
            &lan.host(1).ns,
            a_ip.v6.into(),
            "1M",
            logs.path(),
        )
        .context("a TCP transfer during the flood")?;
    }
    let exit = flooder.wait_timeout(Duration::from_secs(FLOOD_SECS + 10))?;
    ensure!(
        exit.is_some_and(|s| s.success()),
        "the flooder failed: {}",
        flooder.stderr()
    );
    let report: Value = serde_json::from_str(flooder.stdout().trim())
        .with_context(|| format!("flooder output {:?}", flooder.stdout()))?;
    let sent = report["sent"].as_u64().context("no sent count")?;
    let after = a.status_json()?;
    Ok((before, after, sent, pings.received))
}

/// A member keeps reaching a node through floods of replayed, fresh and
/// garbage initiations; each is dropped where it should be, and the node
/// spends a bounded number of Diffie-Hellman operations.
#[test]
fn a_flooded_node_stays_reachable_and_spends_bounded_work() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b", "c"])?;
    let logs = TempDir::new("flood")?;
    let cfg = || NodeConfig::new(&key).lan_discovery(false).tcp(false);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), cfg())?;
    let b_cfg = cfg().peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_cfg)?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let b_id = b.node_id()?;

    // Replays: dropped as replays, no Diffie-Hellman beyond the first copy.
    let (before, after, sent, got) = flood(&lan, &a, &key, "replay", false, &logs)?;
    let replays = drops(&after, "replayed_initiation") - drops(&before, "replayed_initiation");
    let computed =
        handshakes(&after, "initiations_computed") - handshakes(&before, "initiations_computed");
    ensure!(sent > 1000, "the flooder sent only {sent}");
    ensure!(replays > 0, "no replays counted of {sent} sent");
    ensure!(
        computed <= 2,
        "{computed} Diffie-Hellmans for one replayed initiation"
    );
    ensure!(got >= 10, "replay flood: only {got} of 20 pings came back");

    // Fresh initiations from one address: past the load threshold they are
    // limited or answered with cookies (the flooder never uses them).
    let (before, after, sent, got) = flood(&lan, &a, &key, "fresh", true, &logs)?;
    let delta = |f: &dyn Fn(&Value) -> u64| f(&after) - f(&before);
    let computed = delta(&|s| handshakes(s, "initiations_computed"));
    let cookies = delta(&|s| handshakes(s, "cookie_replies_sent"));
    let stopped = delta(&|s| drops(s, "cookie_required") + drops(s, "initiation_flood"));
    ensure!(sent > 1000, "the flooder sent only {sent}");
    ensure!(
        stopped > 0 && cookies > 0,
        "fresh flood not limited: {after}"
    );
    // The seconds of the flood and one of slack, the load bucket's depth.
    let bound = (LOAD + RATE) * (FLOOD_SECS + 2) + LOAD;
    ensure!(
        computed <= bound,
        "{computed} Diffie-Hellmans in a {FLOOD_SECS} s flood (bound {bound})"
    );
    ensure!(got >= 10, "fresh flood: only {got} of 20 pings came back");

    // Garbage: malformed, no Diffie-Hellman.
    let (before, after, sent, got) = flood(&lan, &a, &key, "garbage", false, &logs)?;
    let malformed = drops(&after, "malformed") - drops(&before, "malformed");
    let computed =
        handshakes(&after, "initiations_computed") - handshakes(&before, "initiations_computed");
    ensure!(
        sent > 1000 && malformed > 0,
        "garbage: {malformed} of {sent} counted"
    );
    ensure!(computed <= 1, "{computed} Diffie-Hellmans for garbage");
    ensure!(got >= 10, "garbage flood: only {got} of 20 pings came back");

    ensure!(a.status()?.is_connected_to(&b_id), "A lost B");
    Ok(())
}
