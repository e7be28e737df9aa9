//! Real traffic between namespaces: `ping` and `iperf3` TCP transfers
//! (directly, or through a port forward).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use tessel_lab::ping::family_flag;

use crate::netns::Netns;
use crate::process::{describe, run_bounded, Process};
use crate::wait;

/// The port `iperf3` listens on.
pub const IPERF_PORT: u16 = 5201;

/// Time limit of one iperf3 client run.
const IPERF_TIMEOUT: Duration = Duration::from_secs(60);

/// `ping -6|-4 -c 3 -W 2 <to>` from `from`; fails unless it exits 0.
pub fn ping(from: &Netns, to: IpAddr) -> Result<()> {
    let to_s = to.to_string();
    let out = from.exec(&["ping", family_flag(to), "-c", "3", "-W", "2", &to_s])?;
    ensure!(
        out.status.success(),
        "ping from {} to {to} failed ({}):\n{}{}",
        from.name(),
        describe(out.status),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Like [`ping`] but expects no reply: fails if ping exits 0.
pub fn ping_fails(from: &Netns, to: IpAddr) -> Result<()> {
    let to_s = to.to_string();
    let out = from.exec(&["ping", family_flag(to), "-c", "3", "-W", "2", &to_s])?;
    ensure!(
        !out.status.success(),
        "ping from {} to {to} unexpectedly succeeded:\n{}",
        from.name(),
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

pub use tessel_lab::ping::{ping_stats, PingStats};

/// Transfers `bytes` (iperf3 syntax, e.g. "2M") over TCP from `client` to
/// `server_addr` in `server`: `iperf3 -s -1 -B <addr>` against
/// `iperf3 -c <addr> -n <bytes>`. Both must exit 0. Returns the client's
/// report.
pub fn iperf_tcp(
    server: &Netns,
    client: &Netns,
    server_addr: IpAddr,
    bytes: &str,
    log_dir: &Path,
) -> Result<String> {
    let to = SocketAddr::new(server_addr, IPERF_PORT);
    iperf_tcp_via(server, server_addr, client, to, bytes, false, log_dir)
}

/// Like [`iperf_tcp`], but the client connects to `connect` (e.g. a local
/// port forward that leads to the server), and with `reverse` the server
/// sends (`iperf3 -R`). The server listens on `bind`, port [`IPERF_PORT`].
pub fn iperf_tcp_via(
    server: &Netns,
    bind: IpAddr,
    client: &Netns,
    connect: SocketAddr,
    bytes: &str,
    reverse: bool,
    log_dir: &Path,
) -> Result<String> {
    let addr = bind.to_string();
    let mut cmd = server.command("iperf3");
    cmd.args(["-s", "-1", "-B", &addr]);
    let name = format!("iperf3-server-{}", server.name());
    let mut srv = Process::spawn(cmd, &name, log_dir)?;
    wait::poll(
        &format!("iperf3 to listen on {addr} in {}", server.name()),
        Duration::from_secs(10),
        || {
            if let Some(s) = srv.try_status()? {
                bail!(
                    "iperf3 server exited early ({}): {}{}",
                    describe(s),
                    srv.stdout(),
                    srv.stderr()
                );
            }
            let ss = server.exec_ok(&["ss", "-Htln"])?;
            let port = format!(":{IPERF_PORT}");
            Ok(ss
                .lines()
                .any(|l| l.split_whitespace().any(|f| f.ends_with(&port)))
                .then_some(()))
        },
    )?;
    let mut cmd = client.command("iperf3");
    let (host, port) = (connect.ip().to_string(), connect.port().to_string());
    cmd.args([
        "-c",
        &host,
        "-p",
        &port,
        "-n",
        bytes,
        "--connect-timeout",
        "5000",
    ]);
    if reverse {
        cmd.arg("-R");
    }
    let what = format!(
        "iperf3 client {} -> {connect}{}",
        client.name(),
        if reverse { " (-R)" } else { "" }
    );
    let out = run_bounded(cmd, IPERF_TIMEOUT).with_context(|| what.clone())?;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "{what} failed ({}):\n{report}{}",
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = srv
        .wait_timeout(Duration::from_secs(10))?
        .with_context(|| format!("iperf3 server on {addr} still running after the test"))?;
    ensure!(
        status.success(),
        "iperf3 server on {addr} failed ({}): {}{}",
        describe(status),
        srv.stdout(),
        srv.stderr()
    );
    Ok(report)
}

/// Runs [`ping`] for every `(label, from, to)` concurrently and reports
/// every failure, each under its label.
pub fn ping_all(pairs: &[(String, &Netns, IpAddr)]) -> Result<()> {
    let failures: Vec<String> = std::thread::scope(|s| {
        let jobs: Vec<_> = pairs
            .iter()
            .map(|(label, from, to)| s.spawn(move || ping(from, *to).context(label.clone())))
            .collect();
        jobs.into_iter()
            .filter_map(|j| match j.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some("ping thread panicked".to_owned()),
            })
            .collect()
    });
    ensure!(
        failures.is_empty(),
        "{} of {} pings failed:\n{}",
        failures.len(),
        pairs.len(),
        failures.join("\n")
    );
    Ok(())
}
