//! `tessel demo` end to end: the whole run with `--json` and `--map` (every pair
//! connected, the pairs that go direct in the NAT matrix direct, the
//! UDP-blocked member over TCP, traffic through every pair, an engine
//! called by name across two NATs answering with the request, a signed
//! tile file live with the published version on both other tiles of the
//! row), and that it leaves nothing behind; `--keep` then `--down`; and
//! the refusal without root.
//!
//! The demo has fixed names (`tdemo-*` namespaces, `/run/tessel-demo`), so
//! these tests run one at a time: nextest puts them in a test group of one
//! thread (`.config/nextest.toml`), and a lock keeps threads of one process
//! apart.
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `ip`, `nft`,
//! `ping`, `setpriv` and the `tessel` binary (`cargo build -p
//! tessel-overlay --bin tessel`, or set `TESSEL_BIN`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::netns::{is_root, names_with_prefix};
use tessel_netns::process::run_bounded;
use tessel_netns::tessel;

/// Prefix of the demo's namespaces.
const PREFIX: &str = "tdemo-";

/// The demo's directory.
const DIR: &str = "/run/tessel-demo";

/// A bound on one whole demo run (it takes well under a minute).
const RUN_TIMEOUT: Duration = Duration::from_secs(150);

/// Members and pairs of the demo.
const MEMBERS: usize = 7;

/// Bytes of each pair's transfer.
const TRANSFER_BYTES: u64 = 2 << 20;

/// One demo at a time within this process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn demo(args: &[&str]) -> Result<Output> {
    let mut cmd = tessel::command()?;
    cmd.arg("demo").args(args);
    Ok(run_bounded(cmd, RUN_TIMEOUT)?)
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Links of this (the root) namespace, by name.
fn root_links() -> Result<BTreeSet<String>> {
    let out = run_bounded(
        {
            let mut c = Command::new("ip");
            c.args(["-o", "link", "show"]);
            c
        },
        Duration::from_secs(10),
    )?;
    Ok(text(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_owned())
        .collect())
}

/// PIDs of processes whose command line names the demo's directory (its
/// nodes, started with `--state-dir /run/tessel-demo/…`).
fn demo_processes() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(DIR))
        })
        .collect()
}

/// Nothing of a demo is left: no namespace, no node process, no state, no
/// link that was not there before.
fn nothing_left(links_before: &BTreeSet<String>) -> Result<()> {
    let names = names_with_prefix(PREFIX);
    ensure!(names.is_empty(), "namespaces left behind: {names:?}");
    // A killed node may take a moment to be reaped by its new parent.
    let procs =
        tessel_netns::wait::poll("demo processes to be gone", Duration::from_secs(5), || {
            Ok(demo_processes().is_empty().then_some(()))
        });
    procs.with_context(|| format!("demo processes left: {:?}", demo_processes()))?;
    for file in ["state.json", "network.key", "nodes"] {
        let path = Path::new(DIR).join(file);
        ensure!(!path.exists(), "{} left behind", path.display());
    }
    let links = root_links()?;
    let new: Vec<&String> = links.difference(links_before).collect();
    ensure!(new.is_empty(), "links left in the root namespace: {new:?}");
    Ok(())
}

/// Removes a demo that an earlier failed run of these tests left.
fn clean_slate() -> Result<BTreeSet<String>> {
    if !names_with_prefix(PREFIX).is_empty() || Path::new(DIR).join("state.json").exists() {
        let out = demo(&["--down"])?;
        ensure!(out.status.success(), "--down: {}", text(&out.stderr));
    }
    root_links()
}

/// Where a pair ends, as the README says ("Demo", after the NAT matrix
/// on real kernel NAT): direct, except UDP-blocked members (relayed by the
/// public member over TCP, or straight to it over TCP) and two symmetric
/// NATs of which one is random (relayed). `None`: either, a port-restricted
/// NAT with a sequential one, direct when the predicted ports are the ones
/// the busy sequential NAT gives. The demo's two full-cone members share
/// one NAT and find each other on their LAN.
fn should_be_direct(nat_a: &str, nat_b: &str) -> Option<bool> {
    let pair = |x: &str, y: &str| (nat_a == x && nat_b == y) || (nat_a == y && nat_b == x);
    if nat_a == "udp_blocked" || nat_b == "udp_blocked" {
        return Some(nat_a == "none" || nat_b == "none");
    }
    if pair("port_restricted", "symmetric_sequential") {
        return None;
    }
    Some(
        !pair("symmetric_sequential", "symmetric_random")
            && !pair("symmetric_random", "symmetric_random"),
    )
}

/// Checks the table that `tessel demo --json` printed.
fn check_table(json: &str) -> Result<()> {
    let v: Value = serde_json::from_str(json).with_context(|| format!("not JSON: {json:?}"))?;
    let pairs = v["pairs"].as_array().context("no pairs")?;
    ensure!(
        pairs.len() == MEMBERS * (MEMBERS - 1) / 2,
        "{} pairs, expected every pair of {MEMBERS} members",
        pairs.len()
    );
    let mut direct = 0;
    for p in pairs {
        let name = format!("{} <-> {}", p["a"], p["b"]);
        let (nat_a, nat_b) = (
            p["nat_a"].as_str().context("nat_a")?,
            p["nat_b"].as_str().context("nat_b")?,
        );
        ensure!(p["connected"] == true, "{name} not connected: {p}");
        ensure!(
            p["first_packet_s"].is_number(),
            "{name} has no first packet: {p}"
        );
        let path = p["path"].as_str().context("path")?;
        match should_be_direct(nat_a, nat_b) {
            Some(true) => {
                direct += 1;
                ensure!(
                    path == "direct",
                    "{name} ({nat_a} x {nat_b}) should be direct: {p}"
                );
                ensure!(
                    p["direct_s"].is_number(),
                    "{name} has no time to direct: {p}"
                );
            }
            Some(false) => {
                ensure!(
                    path == "relayed",
                    "{name} ({nat_a} x {nat_b}) should be relayed: {p}"
                );
                // The UDP-blocked member reaches only the public member;
                // other pairs may be relayed by any member that reaches both.
                let blocked = nat_a == "udp_blocked" || nat_b == "udp_blocked";
                ensure!(
                    !blocked || p["relay"] == "public",
                    "{name} should be relayed by public: {p}"
                );
            }
            None => ensure!(
                path == "direct" || path == "relayed",
                "{name} ({nat_a} x {nat_b}): {p}"
            ),
        }
        let blocked = nat_a == "udp_blocked" || nat_b == "udp_blocked";
        ensure!(
            p["tcp"] == blocked,
            "{name}: over TCP is {}, expected {blocked}: {p}",
            p["tcp"]
        );
        ensure!(
            p["ping"]["received"].as_u64().is_some_and(|n| n > 0),
            "{name}: no ping reply: {p}"
        );
        ensure!(
            p["transfer_bytes"].as_u64() == Some(TRANSFER_BYTES),
            "{name}: the transfer did not arrive whole: {p}"
        );
        ensure!(
            p["problems"].as_array().is_some_and(Vec::is_empty),
            "{name}: {p}"
        );
    }
    ensure!(direct == 14, "{direct} pairs must be direct, expected 14");
    Ok(())
}

/// Tiles of the demo's row, west to east; the first publishes.
const TILES: [&str; 3] = ["portres", "symseq", "symrand"];

/// The managed file the demo publishes.
const TILE_FILE: &str = "demo-greeting.txt";

/// Checks the engine call that `tessel demo --json` reported: the echo
/// engine on portres, called by name from symrand, answered with the
/// request, and the name led to that engine.
fn check_engine_call(v: &Value) -> Result<()> {
    let c = &v["engine_call"];
    ensure!(c.is_object(), "no engine_call in {v}");
    ensure!(
        c["host"] == "portres" && c["caller"] == "symrand" && c["name"] == "echo-portres",
        "engine call between other members: {c}"
    );
    let request = c["request"].as_str().context("no request")?;
    ensure!(
        !request.is_empty() && c["reply"].as_str() == Some(request),
        "the reply is not the request: {c}"
    );
    let engine = c["engine"].as_str().context("no engine address")?;
    ensure!(
        engine.len() == 64 && c["resolved"].as_str() == Some(engine),
        "the name did not resolve to the echo engine: {c}"
    );
    ensure!(c["ms"].is_number() && c["resolve_ms"].is_number(), "{c}");
    ensure!(
        c["ok"] == true && c["problems"].as_array().is_some_and(Vec::is_empty),
        "{c}"
    );
    Ok(())
}

/// Checks the tile update that `tessel demo --json` reported: the file
/// published on the first tile is live on the two others with the
/// published version (timestamp and hash) and the same bytes.
fn check_tile_update(v: &Value) -> Result<()> {
    let t = &v["tile_update"];
    ensure!(t.is_object(), "no tile_update in {v}");
    ensure!(
        t["file"] == TILE_FILE && t["publisher"] == TILES[0],
        "another file or publisher: {t}"
    );
    let hash = t["hash"].as_str().context("no hash")?;
    let timestamp = t["timestamp"].as_u64().context("no timestamp")?;
    ensure!(hash.len() == 64 && timestamp > 0, "{t}");
    let arrivals = t["arrivals"].as_array().context("no arrivals")?;
    let tiles: Vec<&str> = arrivals.iter().filter_map(|a| a["tile"].as_str()).collect();
    ensure!(tiles == TILES[1..], "arrivals at {tiles:?}: {t}");
    for (hops, a) in (1..).zip(arrivals) {
        ensure!(
            a["hash"].as_str() == Some(hash) && a["timestamp"].as_u64() == Some(timestamp),
            "another version arrived: {a}"
        );
        ensure!(
            a["bytes_match"] == true && a["ms"].is_number() && a["hops"] == hops,
            "{a}"
        );
    }
    ensure!(
        t["ok"] == true && t["problems"].as_array().is_some_and(Vec::is_empty),
        "{t}"
    );
    Ok(())
}

/// The whole demo, then nothing left of it. With `--map` on a free port
/// and stdin closed, it serves the map and waits for nobody.
#[test]
fn demo_connects_every_pair_and_leaves_nothing_behind() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let links = clean_slate()?;
    let out = demo(&["--json", "--map", "127.0.0.1:0"])?;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    eprintln!("{stderr}");
    ensure!(out.status.success(), "tessel demo failed: {stderr}");
    ensure!(
        stderr.contains("the live map is at http://127.0.0.1:")
            && stderr.contains("the map stays up at http://127.0.0.1:"),
        "no word of the map:\n{stderr}"
    );
    let connections = stderr.matches(": connected, ").count();
    ensure!(
        connections >= MEMBERS * (MEMBERS - 1) / 2
            && stderr.contains("stays relayed through public"),
        "the story does not tell every pair connecting and why some stay relayed:\n{stderr}"
    );
    ensure!(
        stderr.contains("symrand calls echo-portres by name: reply")
            && stderr.contains(&format!("{TILE_FILE} is live and verified on symrand")),
        "the story does not tell the engine call and the tile update:\n{stderr}"
    );
    check_table(&stdout)?;
    let v: Value = serde_json::from_str(&stdout)?;
    check_engine_call(&v)?;
    check_tile_update(&v)?;
    nothing_left(&links)
}

/// `--keep` leaves the demo running and says how to step in; `--down`
/// removes all of it.
#[test]
fn kept_demo_runs_until_down() -> Result<()> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let links = clean_slate()?;
    let out = demo(&["--keep"])?;
    let stdout = text(&out.stdout);
    ensure!(
        out.status.success(),
        "tessel demo --keep failed: {stdout}{}",
        text(&out.stderr)
    );
    ensure!(
        stdout.contains("ip netns exec tdemo-") && stdout.contains("tessel demo --down"),
        "no word on how to step in or remove it:\n{stdout}"
    );
    let names = names_with_prefix(PREFIX);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(DIR).join("state.json"))?)?;
    let pids: Vec<u64> = state["nodes"]
        .as_array()
        .context("no nodes in the state file")?
        .iter()
        .filter_map(|n| n["pid"].as_u64())
        .collect();
    let running = demo_processes();
    let tile_files = kept_tile_files(TILES[2]);
    let down = demo(&["--down"]);
    // Check after --down ran, so that a failed check leaves nothing running.
    ensure!(
        names.len() == 13 && state["kept"] == true && pids.len() == MEMBERS,
        "kept demo: namespaces {names:?}, state {state}"
    );
    ensure!(
        pids.iter()
            .all(|pid| running.iter().any(|r| u64::from(*r) == *pid)),
        "the nodes of the state file {pids:?} were not all running: {running:?}"
    );
    let tile_files = tile_files?;
    ensure!(
        tile_files["files"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == TILE_FILE)),
        "{TILE_FILE} is not among the files of the kept tile {}: {tile_files}",
        TILES[2]
    );
    let down = down?;
    ensure!(
        down.status.success() && text(&down.stdout).contains("7 nodes stopped"),
        "tessel demo --down: {}{}",
        text(&down.stdout),
        text(&down.stderr)
    );
    nothing_left(&links)?;
    let again = demo(&["--down"])?;
    ensure!(
        again.status.success() && text(&again.stdout).contains("no demo"),
        "a second --down: {}",
        text(&again.stdout)
    );
    Ok(())
}

/// `tessel tile files --json` of a kept demo's member `name`, through the
/// dirs the demo gave its node.
fn kept_tile_files(name: &str) -> Result<Value> {
    let node = Path::new(DIR).join("nodes").join(name);
    let mut cmd = tessel::command()?;
    cmd.args(["tile", "files", "--json", "--state-dir"])
        .arg(node.join("state"))
        .arg("--runtime-dir")
        .arg(node.join("run"));
    let out = run_bounded(cmd, Duration::from_secs(10))?;
    ensure!(
        out.status.success(),
        "tessel tile files on {name}: {}",
        text(&out.stderr)
    );
    Ok(serde_json::from_str(&text(&out.stdout))?)
}

/// Without root the demo refuses, saying what to run, and makes nothing.
#[test]
fn demo_refuses_without_root() -> Result<()> {
    ensure!(is_root(), "this test needs root to drop it");
    let bin = tessel::bin()?;
    for args in [&["demo"][..], &["demo", "--down"]] {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(&bin)
            .args(args);
        let out = run_bounded(cmd, Duration::from_secs(10))?;
        let stderr = text(&out.stderr);
        ensure!(
            !out.status.success()
                && stderr.contains("tessel demo needs root")
                && stderr.contains("sudo tessel demo"),
            "tessel {args:?} as nobody: {:?} {stderr}",
            out.status
        );
    }
    Ok(())
}
