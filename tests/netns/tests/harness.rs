//! Self-tests of the harness: namespaces, the bridged LAN, processes and
//! cleanup. They need root, `ping` and `iperf3`, but not the `tessel` binary.

use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::traffic::{iperf_tcp, ping, ping_all, ping_fails};
use tessel_netns::{Lan, Netns, Process, TempDir};

fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

// Topology:
//
//             switch ns (br0)
//        +----------+----------+
//        |          |          |
//    ns a: eth0  ns b: eth0  ns c: eth0
//    .1 / ::1    .2 / ::2    .3 / ::3
/// Hosts on the LAN reach each other over IPv4 and IPv6, and everything is
/// gone after drop.
#[test]
fn lan_hosts_ping_each_other_and_vanish_on_drop() -> Result<()> {
    let lan = Lan::new(&["a", "b", "c"])?;
    let names: Vec<String> = lan
        .hosts()
        .iter()
        .map(|h| h.ns.name().to_owned())
        .chain([lan.switch().name().to_owned()])
        .collect();
    let mut pairs = Vec::new();
    for from in lan.hosts() {
        for to in lan.hosts() {
            if from.role != to.role {
                for v6 in [true, false] {
                    let label = format!("{} -> {} ({})", from.role, to.role, to.addr(v6));
                    pairs.push((label, &*from.ns, to.addr(v6)));
                }
            }
        }
    }
    ping_all(&pairs)?;
    let loopback: IpAddr = "127.0.0.1".parse()?;
    ping(&lan.host(0).ns, loopback)?;
    // Nothing leaves the LAN: no default route anywhere.
    ping_fails(&lan.host(0).ns, "192.0.2.1".parse()?)?;
    drop(lan);
    for n in &names {
        ensure!(!netns_exists(n), "namespace {n} still exists after drop");
    }
    Ok(())
}

/// Two tests' LANs use the same addresses without interfering.
#[test]
fn parallel_lans_reuse_addresses() -> Result<()> {
    let one = Lan::new(&["a", "b"])?;
    let two = Lan::new(&["a"])?;
    ping(&one.host(0).ns, one.host(1).addr(true))?;
    // Host .2 exists only in the first LAN.
    ping_fails(&two.host(0).ns, one.host(1).addr(false))?;
    Ok(())
}

/// Dropping a namespace kills the processes still running inside it.
#[test]
fn netns_drop_kills_its_processes() -> Result<()> {
    let ns = Netns::new("kill")?;
    let name = ns.name().to_owned();
    let logs = TempDir::new("harness")?;
    let mut cmd = ns.command("sleep");
    cmd.arg("300");
    let mut p = Process::spawn(cmd, "sleep", logs.path())?;
    tessel_netns::wait::poll(
        "sleep to enter the namespace",
        Duration::from_secs(5),
        || Ok(ns.pids().contains(&(p.pid() as i32)).then_some(())),
    )?;
    drop(ns);
    ensure!(!netns_exists(&name), "namespace {name} still exists");
    let status = p
        .wait_timeout(Duration::from_secs(5))?
        .context("process survived its namespace")?;
    ensure!(
        status.signal() == Some(libc::SIGKILL),
        "ended with {status}"
    );
    Ok(())
}

/// `stop` ends a process with SIGTERM; `kill` with SIGKILL; signalling a
/// reaped process is refused.
#[test]
fn process_stop_and_kill() -> Result<()> {
    let logs = TempDir::new("harness")?;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "echo started; echo oops >&2; exec sleep 300"]);
    let mut p = Process::spawn(cmd, "sh", logs.path())?;
    tessel_netns::wait::poll("output", Duration::from_secs(5), || {
        Ok((p.stdout() == "started\n" && p.stderr() == "oops\n").then_some(()))
    })?;
    let stopped = p.stop(Duration::from_secs(5))?;
    ensure!(!stopped.forced, "SIGTERM was not enough");
    ensure!(
        stopped.status.signal() == Some(libc::SIGTERM),
        "{:?}",
        stopped
    );
    ensure!(p.signal(libc::SIGTERM).is_err(), "signalled a reaped PID");

    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "trap '' TERM; exec sleep 300"]);
    let mut q = Process::spawn(cmd, "stubborn", logs.path())?;
    let status = q.kill()?;
    ensure!(status.signal() == Some(libc::SIGKILL), "{status:?}");
    Ok(())
}

/// A socket bound from inside a namespace occupies the port there only.
#[test]
fn sockets_bound_inside_a_namespace() -> Result<()> {
    let one = Netns::new("sock1")?;
    let two = Netns::new("sock2")?;
    let _s = one.run_inside(|| std::net::UdpSocket::bind(("::", 9740)))??;
    ensure!(
        one.run_inside(|| std::net::UdpSocket::bind(("::", 9740)))?
            .is_err(),
        "port 9740 bound twice in one namespace"
    );
    two.run_inside(|| std::net::UdpSocket::bind(("::", 9740)))?
        .context("port 9740 in another namespace")?;
    Ok(())
}

/// iperf3 between two LAN hosts over the underlay.
#[test]
fn iperf_over_the_lan() -> Result<()> {
    let lan = Lan::new(&["a", "b"])?;
    let logs = TempDir::new("harness")?;
    iperf_tcp(
        &lan.host(1).ns,
        &lan.host(0).ns,
        lan.host(1).addr(true),
        "2M",
        logs.path(),
    )?;
    iperf_tcp(
        &lan.host(0).ns,
        &lan.host(1).ns,
        lan.host(0).addr(false),
        "2M",
        logs.path(),
    )?;
    Ok(())
}
