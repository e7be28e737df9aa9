//! The node as the systemd unit runs it (packaging/tessel.service): an
//! unprivileged user with only the capabilities that the unit's
//! `AmbientCapabilities=` grants (read from the unit itself), no_new_privs,
//! and a runtime dir made for it beforehand (as `RuntimeDirectory=` does).
//! It creates its TUN device, sets its addresses, binds its ports, serves
//! its control socket to root, carries pings both ways with a root node,
//! and stops on `tessel down`, removing its interface.
//!
//! This machine's /dev/net/tun may be root's alone (mode 0600, no udev):
//! the node gets a 0666 node of the same device in its own mount
//! namespace, as a host's udev makes it.
//!
//! Needs root (namespaces, TUN, mknod, setpriv with capabilities), `ping`,
//! and the `tessel` binary (`cargo build -p tessel-overlay --bin tessel`,
//! or set `TESSEL_BIN`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::netns::is_root;
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::ping;
use tessel_netns::{Lan, NodeConfig, TempDir, TesselNode};

/// `nobody`, and a group of the test's own (no entry in /etc/group).
const USER: (u32, u32) = (65534, 4243);

/// The values of `key=` lines in the unit's `[Service]` section, split
/// on spaces.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .flat_map(|v| v.split_whitespace().map(str::to_owned))
        .collect()
}

/// The capabilities the unit grants, as setpriv names them.
fn unit_capabilities() -> Result<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/tessel.service");
    let unit = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let ambient = unit_values(&unit, "AmbientCapabilities");
    let mut bounding = unit_values(&unit, "CapabilityBoundingSet");
    let mut sorted = ambient.clone();
    sorted.sort();
    bounding.sort();
    ensure!(
        !ambient.is_empty() && sorted == bounding,
        "the unit's ambient capabilities {ambient:?} are not its bounding set {bounding:?}"
    );
    ensure!(
        unit_values(&unit, "NoNewPrivileges") == ["yes"],
        "the unit does not set NoNewPrivileges=yes"
    );
    ambient
        .iter()
        .map(|c| {
            c.strip_prefix("CAP_")
                .map(str::to_lowercase)
                .with_context(|| format!("capability {c}"))
        })
        .collect()
}

/// A field of /proc/PID/status (`Uid`, `CapEff`, …).
fn proc_status(pid: u32, field: &str) -> Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

// Topology:
//
//      ns a (nobody, the unit's capabilities) ── LAN ── ns b (root)
/// The unit's user and capabilities suffice for a TUN node.
#[test]
fn the_node_runs_with_the_units_user_and_capabilities() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let caps = unit_capabilities()?;
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let scratch = TempDir::new("tessel-unit-user")?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))?;
    // /dev/net/tun is character device 10:200.
    let tun = scratch.path().join("tun");
    let made = std::process::Command::new("mknod")
        .args(["-m", "0666"])
        .arg(&tun)
        .args(["c", "10", "200"])
        .status()?;
    ensure!(made.success(), "mknod {}", tun.display());
    // What RuntimeDirectory= makes: the user's, mode 0750.
    let run = scratch.path().join("run");
    std::fs::create_dir(&run)?;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o750))?;
    std::os::unix::fs::chown(&run, Some(USER.0), Some(USER.1))?;

    let a_config = NodeConfig::new(&key)
        .lan_discovery(false)
        .port_mapping("off")
        .runtime_dir(&run)
        .run_as(USER.0, USER.1)
        .capabilities(caps.clone())
        .tun_node(&tun);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), a_config)?;
    let b_config = NodeConfig::new(&key)
        .lan_discovery(false)
        .port_mapping("off")
        .peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_config)?;

    let pid = a.pid().context("a has no process")?;
    let uid = proc_status(pid, "Uid")?;
    ensure!(
        uid.split_whitespace().all(|u| u == USER.0.to_string()),
        "a runs as uids {uid}"
    );
    // net_admin is bit 12, net_bind_service bit 10.
    let expected: u64 = caps
        .iter()
        .map(|c| match c.as_str() {
            "net_admin" => 1 << 12,
            "net_bind_service" => 1 << 10,
            other => panic!("a capability the test does not know: {other}"),
        })
        .sum();
    let eff = u64::from_str_radix(&proc_status(pid, "CapEff")?, 16)?;
    ensure!(
        eff == expected,
        "a's effective capabilities {eff:#x}, not {expected:#x}"
    );
    ensure!(
        proc_status(pid, "NoNewPrivs")? == "1",
        "a may gain privileges"
    );

    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let (a_ips, b_ips) = (a.ip()?, b.ip()?);
    ping(a.ns(), b_ips.v6.into())?;
    ping(b.ns(), a_ips.v4.into())?;
    ping(a.ns(), b_ips.v4.into())?;
    // Root stops it over its control socket; it removes its interface.
    a.down()?;
    b.stop()
}
