//! Services for the overlay to carry, and a client for them: python3's
//! `http.server` and a UDP echo bound to one address in a namespace (each
//! stopped by its PID), bounded `curl` runs, and a DNS server (Debian's
//! dnsmasq) answering from records the test gives it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};

use crate::netns::Netns;
use crate::process::{describe, run_ok, Process};
use crate::wait;

/// How long a service may take to start listening.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Time limit of one `curl` run (its own `--max-time`).
pub const CURL_MAX_TIME: Duration = Duration::from_secs(20);

/// How long a stopped service may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Transport protocol of a listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// TCP (a listening socket).
    Tcp,
    /// UDP (a bound socket).
    Udp,
}

/// The real python3 interpreter. `python3` on `PATH` may be a wrapper (a
/// pyenv shim) that runs the interpreter as its child, and then its PID is
/// not the server's: ask the interpreter where it lives, once.
pub fn python3() -> Result<PathBuf> {
    static PATH: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", "import sys; print(sys.executable)"]);
        let out = run_ok(cmd, Duration::from_secs(10)).map_err(|e| format!("{e:#}"))?;
        let path = PathBuf::from(out.trim());
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "python3 reports sys.executable {out:?}, not a file"
            ))
        }
    })
    .clone()
    .map_err(|e| anyhow!("locating python3: {e}"))
}

/// Whether a socket of `proto` in `ns` is bound to exactly `addr`
/// (`ss -Htln` or `-Huln`, local address column).
pub fn is_listening(ns: &Netns, proto: Proto, addr: SocketAddr) -> Result<bool> {
    let flags = match proto {
        Proto::Tcp => "-Htln",
        Proto::Udp => "-Huln",
    };
    let out = ns.exec_ok(&["ss", flags])?;
    Ok(out.lines().any(|l| {
        l.split_whitespace()
            .nth(3)
            .and_then(|local| local.parse::<SocketAddr>().ok())
            == Some(addr)
    }))
}

/// Waits until `process` listens on `addr` in `ns`, failing early (with its
/// output) if it exits.
fn wait_listening(ns: &Netns, proto: Proto, addr: SocketAddr, process: &mut Process) -> Result<()> {
    let what = format!(
        "{} to listen on {proto:?} {addr} in {}",
        process.name(),
        ns.name()
    );
    wait::poll(&what, LISTEN_TIMEOUT, || {
        if let Some(s) = process.try_status()? {
            bail!(
                "{} exited early ({}):\n{}{}",
                process.name(),
                describe(s),
                process.stdout(),
                process.stderr()
            );
        }
        Ok(is_listening(ns, proto, addr)?.then_some(()))
    })
}

/// `python3 -m http.server` serving a directory on one address and port.
#[derive(Debug)]
pub struct HttpServer {
    process: Process,
    addr: SocketAddr,
}

impl HttpServer {
    /// Serves `root` on `addr` in `ns` and waits until it listens. Its log
    /// goes to `log_dir`.
    pub fn start(ns: &Netns, addr: SocketAddr, root: &Path, log_dir: &Path) -> Result<Self> {
        let mut cmd = ns.command(python3()?);
        cmd.args(["-m", "http.server", "--bind"])
            .arg(addr.ip().to_string())
            .arg("--directory")
            .arg(root)
            .arg(addr.port().to_string());
        let name = format!("http-{}-{}", ns.name(), addr.port());
        let mut process = Process::spawn(cmd, &name, log_dir)?;
        wait_listening(ns, Proto::Tcp, addr, &mut process)?;
        Ok(Self { process, addr })
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr><path>` (IPv6 in brackets).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops it (SIGTERM to its PID, SIGKILL after a grace period).
    pub fn stop(mut self) -> Result<ExitStatus> {
        Ok(self.process.stop(STOP_GRACE)?.status)
    }
}

/// Answers every datagram with itself, from `addr`.
const UDP_ECHO: &str = "\
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
";

/// A UDP echo server (a python3 one-liner) on one address and port.
#[derive(Debug)]
pub struct UdpEcho {
    process: Process,
    addr: SocketAddr,
}

impl UdpEcho {
    /// Starts it on `addr` in `ns` and waits until it is bound.
    pub fn start(ns: &Netns, addr: SocketAddr, log_dir: &Path) -> Result<Self> {
        let mut cmd = ns.command(python3()?);
        cmd.args(["-c", UDP_ECHO])
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string());
        let name = format!("udp-echo-{}-{}", ns.name(), addr.port());
        let mut process = Process::spawn(cmd, &name, log_dir)?;
        wait_listening(ns, Proto::Udp, addr, &mut process)?;
        Ok(Self { process, addr })
    }

    /// The address it answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it by PID.
    pub fn stop(mut self) -> Result<ExitStatus> {
        Ok(self.process.stop(STOP_GRACE)?.status)
    }
}

/// Debian's dnsmasq as an authoritative-only DNS server for one domain:
/// it answers from the records given, NXDOMAIN for any other name in the
/// domain, and forwards nothing.
#[derive(Debug)]
pub struct DnsServer {
    process: Process,
    addr: SocketAddr,
}

impl DnsServer {
    /// Serves `domain` on `addr` in `ns` with `txt` records (a name, then
    /// the record's character-strings; repeat a name for several records)
    /// and `a` records (a name and an IPv4 address), and waits until it
    /// listens. Its log (every query) goes to `log_dir`.
    pub fn start(
        ns: &Netns,
        addr: SocketAddr,
        domain: &str,
        txt: &[(&str, &[&str])],
        a: &[(&str, std::net::Ipv4Addr)],
        log_dir: &Path,
    ) -> Result<Self> {
        let mut cmd = ns.command("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--log-facility=-",
            "--log-queries",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
            "--user=root",
        ])
        .arg(format!("--listen-address={}", addr.ip()))
        .arg(format!("--port={}", addr.port()))
        .arg(format!("--local=/{domain}/"));
        for (name, strings) in txt {
            ensure!(
                strings.iter().all(|s| !s.contains(',') && !s.contains('"')),
                "a TXT string for dnsmasq without commas or quotes, please"
            );
            cmd.arg(format!("--txt-record={name},{}", strings.join(",")));
        }
        for (name, ip) in a {
            cmd.arg(format!("--host-record={name},{ip}"));
        }
        let name = format!("dnsmasq-{}", ns.name());
        let mut process = Process::spawn(cmd, &name, log_dir)?;
        wait_listening(ns, Proto::Udp, addr, &mut process)?;
        Ok(Self { process, addr })
    }

    /// The address it answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it logged (the queries it answered).
    pub fn log(&self) -> String {
        self.process.stderr() + &self.process.stdout()
    }

    /// Stops it by PID.
    pub fn stop(mut self) -> Result<ExitStatus> {
        Ok(self.process.stop(STOP_GRACE)?.status)
    }
}

/// What one `curl` run did.
#[derive(Debug)]
pub struct CurlRun {
    /// curl's exit status.
    pub status: ExitStatus,
    /// The body it printed.
    pub body: Vec<u8>,
    /// Its error messages.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl CurlRun {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Fails, with curl's message, unless it exited 0.
    pub fn ensure_ok(&self) -> Result<&Self> {
        ensure!(
            self.status.success(),
            "curl failed ({}) after {:?}: {}",
            describe(self.status),
            self.elapsed,
            self.stderr.trim()
        );
        Ok(self)
    }
}

/// Runs `curl -sS --max-time 20 <args>` in `ns`, whatever its exit status.
pub fn curl(ns: &Netns, args: &[&str]) -> Result<CurlRun> {
    let max_time = CURL_MAX_TIME.as_secs().to_string();
    let mut full = vec!["curl", "-sS", "--max-time", &max_time];
    full.extend_from_slice(args);
    let started = Instant::now();
    let out = ns
        .exec(&full)
        .with_context(|| format!("curl {args:?} in {}", ns.name()))?;
    Ok(CurlRun {
        status: out.status,
        body: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    })
}
