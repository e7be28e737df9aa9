//! The local sockets and who may use them. A node's runtime dir is 0750 and
//! its sockets (`tessel.sock`, `engines.sock`, `tile.sock`) 0660, all with
//! the socket group; an unprivileged member of that group runs `tessel
//! status`, `whois`, `ping`, `engine list` and `tile status` (not `tessel
//! network rotate`, whose answer holds the network key, nor `tessel down`:
//! the node answers `permission_denied`), any other user is refused and
//! told to join the group. A second node on the same runtime dir
//! is refused, and the sockets a crashed node left behind are replaced.
//!
//! The group is a bare GID given with `--socket-group` (no entry in
//! /etc/group is needed, so the test changes nothing on the machine); the
//! users are `nobody` (65534) with and without it, through `setpriv`.
//!
//! Needs root and the `tessel` binary (`cargo build -p tessel-overlay --bin
//! tessel`, or set `TESSEL_BIN`).

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::netns::is_root;
use tessel_netns::process::run_bounded;
use tessel_netns::tessel::{self, bin};
use tessel_netns::{Lan, Netns, NodeConfig, TempDir, TesselNode};
use tessel_overlay::identity::NodeKey;

/// The socket group of the test (an otherwise unused GID).
const GROUP: u32 = 4242;
/// `nobody` and `nogroup`.
const NOBODY: u32 = 65534;
const CLI: Duration = Duration::from_secs(10);
const SOCKETS: [&str; 3] = ["tessel.sock", "engines.sock", "tile.sock"];

/// `tessel ARGS --runtime-dir DIR` in `ns` as `nobody` with the
/// supplementary `groups`.
fn as_nobody(ns: &Netns, groups: &[u32], dir: &Path, args: &[&str]) -> Result<Output> {
    let mut cmd = ns.command_as_member(NOBODY, NOBODY, groups, bin()?);
    cmd.args(args).arg("--runtime-dir").arg(dir);
    Ok(run_bounded(cmd, CLI)?)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Mode bits and group of `path`.
fn mode_and_group(path: &Path) -> Result<(u32, u32)> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    Ok((meta.permissions().mode() & 0o7777, meta.gid()))
}

// Topology:
//
//      ns a (one host on a bridged LAN)
//      tessel up --runtime-dir SCRATCH/run --socket-group 4242 --tile ET=…
//      `nobody` with group 4242, and `nobody` without it, run the CLI
/// A member of the socket group uses the node without root; anyone else
/// gets "permission denied" and is told to join the group.
#[test]
fn the_socket_group_may_use_the_node_and_no_one_else() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let scratch = TempDir::new("tessel-rundir")?;
    // `nobody` must reach the runtime dir through its parent.
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
    let dir = scratch.path().join("run");
    // A tile, so that tile.sock exists too; its neighbour never shows up.
    let neighbour = NodeKey::from_seed([0x42; 32]).id().to_string();
    let config = NodeConfig::new(&key)
        .runtime_dir(&dir)
        .lan_discovery(false)
        .port_mapping("off")
        .extra_args([
            "--socket-group".to_owned(),
            GROUP.to_string(),
            "--tile".to_owned(),
            format!("ET={neighbour}"),
        ]);
    let a = TesselNode::start("a", lan.host(0).ns.clone(), config)?;
    let ns = a.ns().clone();

    ensure!(
        mode_and_group(&dir)? == (0o750, GROUP),
        "runtime dir: mode and group {:o}, {}",
        mode_and_group(&dir)?.0,
        mode_and_group(&dir)?.1
    );
    for name in SOCKETS {
        let path = dir.join(name);
        ensure!(
            std::fs::metadata(&path)?.file_type().is_socket(),
            "{name} is not a socket"
        );
        let (mode, gid) = mode_and_group(&path)?;
        ensure!(
            (mode, gid) == (0o660, GROUP),
            "{name}: mode {mode:o}, group {gid}"
        );
    }

    // A member: status, engines and the tile, without root.
    let out = as_nobody(&ns, &[GROUP], &dir, &["status", "--json"])?;
    ensure!(out.status.success(), "member: status: {}", text(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        status["node_id"].as_str() == Some(a.node_id()?.as_str()),
        "member: status of another node: {status}"
    );
    let id = a.node_id()?;
    let out = as_nobody(&ns, &[GROUP], &dir, &["whois", &id, "--json"])?;
    ensure!(out.status.success(), "member: whois: {}", text(&out));
    let whois: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    ensure!(
        whois["this_node"] == true,
        "member: whois of the node: {whois}"
    );
    // A ping is the node's to try: this one finds no such member.
    let stranger = NodeKey::from_seed([0x43; 32]).id().to_string();
    let out = as_nobody(&ns, &[GROUP], &dir, &["ping", &stranger, "-c", "1"])?;
    ensure!(
        !out.status.success() && text(&out).contains("no member"),
        "member: ping: {}",
        text(&out)
    );
    let out = as_nobody(&ns, &[GROUP], &dir, &["engine", "list", "--json"])?;
    ensure!(out.status.success(), "member: engine list: {}", text(&out));
    let out = as_nobody(&ns, &[GROUP], &dir, &["tile", "status", "--json"])?;
    ensure!(out.status.success(), "member: tile status: {}", text(&out));
    // But not rotate the network key: the answer would hold it.
    let out = as_nobody(&ns, &[GROUP], &dir, &["network", "rotate"])?;
    ensure!(
        !out.status.success()
            && text(&out).contains("permission denied: only root or the daemon's user"),
        "member: network rotate: {}",
        text(&out)
    );
    // Nor stop it.
    let out = as_nobody(&ns, &[GROUP], &dir, &["down"])?;
    ensure!(
        !out.status.success() && text(&out).contains("only root or the daemon's user"),
        "member: down: {}",
        text(&out)
    );
    let out = as_nobody(&ns, &[GROUP], &dir, &["engine", "cast", "no-such", "x"])?;
    ensure!(
        !text(&out).contains("ermission denied"),
        "member: the engine socket is closed to the group: {}",
        text(&out)
    );

    // Not a member: refused, with the way in.
    for args in [
        &["status"][..],
        &["whois", "100.64.0.1"][..],
        &["engine", "list"][..],
        &["tile", "status"][..],
    ] {
        for groups in [&[][..], &[GROUP + 1][..]] {
            let out = as_nobody(&ns, groups, &dir, args)?;
            let said = text(&out);
            ensure!(
                !out.status.success(),
                "outsider (groups {groups:?}) ran {args:?}: {said}"
            );
            ensure!(
                said.contains(&format!("permission denied: add yourself to group {GROUP}"))
                    && said.contains(&format!("usermod -aG {GROUP}")),
                "outsider (groups {groups:?}), {args:?}: unclear message: {said}"
            );
        }
    }
    Ok(())
}

// Topology:
//
//      ns a: tessel up --runtime-dir SCRATCH/run (TUN)
//            tessel up --userspace --runtime-dir SCRATCH/run (refused)
//            SIGKILL, then tessel up again
/// A second node on a runtime dir in use is refused and disturbs nothing;
/// after a crash, the next start replaces the stale sockets.
#[test]
fn one_node_per_runtime_dir_and_stale_sockets_are_replaced() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let scratch = TempDir::new("tessel-rundir")?;
    let dir = scratch.path().join("run");
    let config = NodeConfig::new(&key)
        .runtime_dir(&dir)
        .lan_discovery(false)
        .port_mapping("off");
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), config)?;
    let id = a.node_id()?;

    let other_state = scratch.path().join("other-state");
    let second = tessel::run_once(
        Some(a.ns()),
        &[
            "up",
            "--userspace",
            "--network",
            &key,
            "--state-dir",
            &other_state.display().to_string(),
            "--runtime-dir",
            &dir.display().to_string(),
            "--listen",
            "127.0.0.1:0",
            "--no-lan-discovery",
            "--no-port-mapping",
        ],
        Duration::from_secs(15),
    )
    .context("a second node on the same runtime dir should exit by itself")?;
    let said = text(&second);
    ensure!(
        !second.status.success(),
        "a second node started on the same runtime dir: {said}"
    );
    ensure!(
        said.contains("another tessel is running with --runtime-dir"),
        "unclear refusal: {said}"
    );
    ensure!(
        a.node_id()? == id,
        "the first node no longer answers on its socket"
    );

    // A crash leaves the sockets behind; the next start replaces them.
    a.kill()?;
    let control = dir.join("tessel.sock");
    ensure!(
        control.exists(),
        "the killed node's socket is gone (nothing stale to replace)"
    );
    let stale = std::os::unix::net::UnixStream::connect(&control);
    ensure!(stale.is_err(), "someone still answers on the stale socket");
    a.restart()?;
    ensure!(a.node_id()? == id, "the restarted node is another node");
    Ok(())
}
