//! Real traffic between namespaces: `ping` and `iperf3` TCP transfers
//! (directly, or through a port forward).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::netns::Netns;
use crate::process::{describe, run_bounded, Process};
use crate::wait;

/// The port `iperf3` listens on.
pub const IPERF_PORT: u16 = 5201;

/// Time limit of one iperf3 client run.
const IPERF_TIMEOUT: Duration = Duration::from_secs(60);

fn family_flag(addr: IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "-6"
    } else {
        "-4"
    }
}

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

/// What `ping -q` reported.
#[derive(Debug, Clone, PartialEq)]
pub struct PingStats {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Shortest round trip, if any reply came.
    pub min_rtt_ms: Option<f64>,
    /// Mean round trip, if any reply came.
    pub avg_rtt_ms: Option<f64>,
}

/// `ping -c <count> -i <interval> -W 1 -q <to>` from `from`, whatever its
/// exit status (lost replies are the point of some tests); fails only if
/// ping printed no summary.
pub fn ping_stats(from: &Netns, to: IpAddr, count: u32, interval: &str) -> Result<PingStats> {
    let out = from.exec(&[
        "ping",
        family_flag(to),
        "-q",
        "-c",
        &count.to_string(),
        "-i",
        interval,
        "-W",
        "1",
        &to.to_string(),
    ])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_ping_summary(&text).with_context(|| format!("ping from {} to {to}:\n{text}", from.name()))
}

/// Parses the summary lines of `ping -q`:
/// `N packets transmitted, M received, …` and
/// `rtt min/avg/max/mdev = 30.1/31.2/34.1/0.5 ms`.
fn parse_ping_summary(text: &str) -> Result<PingStats> {
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .context("no summary line")?;
    let count_before = |word: &str| -> Result<u32> {
        line.split(word)
            .next()
            .and_then(|before| before.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("no count before {word:?} in {line:?}"))
    };
    let rtt: Vec<f64> = text
        .lines()
        .find(|l| l.starts_with("rtt"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.split(" ms").next())
        .map(|v| v.trim().split('/').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    Ok(PingStats {
        sent: count_before(" packets transmitted")?,
        received: count_before(" received")?,
        min_rtt_ms: rtt.first().copied(),
        avg_rtt_ms: rtt.get(1).copied(),
    })
}

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

#[cfg(test)]
mod tests {
    use super::parse_ping_summary;

    #[test]
    fn parses_ping_summaries() {
        let s = parse_ping_summary(
            "--- 198.51.100.1 ping statistics ---\n\
             200 packets transmitted, 141 received, 29.5% packet loss, time 1990ms\n\
             rtt min/avg/max/mdev = 30.120/31.198/34.137/0.541 ms, pipe 3\n",
        )
        .unwrap();
        assert_eq!((s.sent, s.received), (200, 141));
        assert_eq!((s.min_rtt_ms, s.avg_rtt_ms), (Some(30.120), Some(31.198)));
        let none = parse_ping_summary(
            "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2003ms\n",
        )
        .unwrap();
        assert_eq!((none.received, none.avg_rtt_ms), (0, None));
        assert!(parse_ping_summary("ping: connect: Network is unreachable").is_err());
    }
}
