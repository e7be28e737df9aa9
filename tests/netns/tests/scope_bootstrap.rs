//! The DNS bootstrap of the scopes: `tessel scope bootstrap` finds the root
//! runtimes named by TXT records (`tessel-root=tessel-node-…`) at a name,
//! through a given DNS server or the system's resolver (the namespace's
//! resolv.conf), and says clearly when the name is missing, has no TXT
//! record, or names no root runtime. The server is Debian's dnsmasq,
//! authoritative for example.org and nothing else.
//!
//! Needs root, `dnsmasq` (package dnsmasq-base) and the `tessel` binary
//! (`cargo build -p tessel-overlay --bin tessel`, or set `TESSEL_BIN`).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::netns::is_root;
use tessel_netns::services::DnsServer;
use tessel_netns::tessel::run_once;
use tessel_netns::{Lan, Netns, TempDir};
use tessel_overlay::identity::NodeKey;
use tessel_overlay::wire::bootstrap;

const NAME: &str = "_tessel-root.example.org";
const SERVER: &str = "192.0.2.53:53";
/// Long enough for two queries that time out, so a missing answer shows
/// as the CLI's own error rather than as this bound.
const CLI: Duration = Duration::from_secs(20);

/// The lab: a DNS server and a client on one LAN, with addresses in
/// 192.0.2.0/24 besides the LAN's own.
struct Lab {
    lan: Lan,
    dns: DnsServer,
    roots: BTreeSet<String>,
    _logs: TempDir,
}

// Topology:
//
//              switch ns (br0)
//          +-------+-------+
//          |               |
//      ns dns: eth0     ns client: eth0
//      192.0.2.53       192.0.2.10
//      dnsmasq          tessel scope bootstrap --dns NAME [--dns-server 192.0.2.53:53]
fn lab() -> Result<Lab> {
    let lan = Lan::new(&["dns", "client"])?;
    for (i, ip) in [(0, "192.0.2.53/24"), (1, "192.0.2.10/24")] {
        lan.host(i).ns.ip(&["addr", "add", ip, "dev", "eth0"])?;
    }
    let (a, b) = (
        NodeKey::from_seed([0x51; 32]).id(),
        NodeKey::from_seed([0x52; 32]).id(),
    );
    let (text_a, text_b) = (bootstrap::write(&a), bootstrap::write(&b));
    // B's record is cut into two character-strings, as long TXT values are.
    let (b_head, b_tail) = text_b.split_at(30);
    let malformed = format!("tessel-root={}", &a.to_string()[..40]);
    let logs = TempDir::new("tessel-dns")?;
    let dns = DnsServer::start(
        &lan.host(0).ns,
        SERVER.parse()?,
        "example.org",
        &[
            (NAME, &[&text_a]),
            (NAME, &[b_head, b_tail]),
            (NAME, &["v=spf1 -all"]),
            (NAME, &[&malformed]),
            ("_other.example.org", &["v=spf1 -all"]),
        ],
        &[("a-only.example.org", Ipv4Addr::new(192, 0, 2, 99))],
        logs.path(),
    )?;
    Ok(Lab {
        lan,
        dns,
        roots: [a.to_string(), b.to_string()].into(),
        _logs: logs,
    })
}

impl Lab {
    fn client(&self) -> &Netns {
        &self.lan.host(1).ns
    }

    fn bootstrap(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["scope", "bootstrap"];
        all.extend_from_slice(args);
        run_once(Some(self.client()), &all, CLI)
    }
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The node IDs a successful `--json` run printed.
fn roots_of(out: &Output) -> Result<BTreeSet<String>> {
    ensure!(out.status.success(), "bootstrap failed: {}", said(out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("bootstrap --json output")?;
    Ok(v["roots"]
        .as_array()
        .context("no roots in the output")?
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect())
}

/// Through a given server: the two root runtimes, and nothing from the
/// other service's record or the malformed one (which is reported); a
/// missing name, a name without TXT and a name whose TXT names no root
/// runtime fail with their own message.
#[test]
fn roots_come_from_txt_records_and_failures_say_why() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let lab = lab()?;
    let out = lab.bootstrap(&["--dns", NAME, "--dns-server", SERVER, "--json"])?;
    ensure!(
        roots_of(&out)? == lab.roots,
        "wrong roots: {}\ndnsmasq: {}",
        said(&out),
        lab.dns.log()
    );
    ensure!(
        said(&out).contains("malformed scope bootstrap record"),
        "the malformed record went unreported: {}",
        said(&out)
    );

    for (name, expect) in [
        ("_tessel-root.nowhere.example.org", "no such name"),
        ("a-only.example.org", "no TXT record"),
        ("_other.example.org", "names a root runtime"),
    ] {
        let out = lab.bootstrap(&["--dns", name, "--dns-server", SERVER])?;
        ensure!(!out.status.success(), "{name}: succeeded: {}", said(&out));
        ensure!(
            said(&out).contains(expect) && said(&out).contains(name),
            "{name}: unclear message: {}",
            said(&out)
        );
    }
    Ok(())
}

/// `ip netns exec` puts /etc/netns/NS/resolv.conf in place of
/// /etc/resolv.conf for commands in NS; removed on drop.
struct NetnsResolvConf(PathBuf);

impl NetnsResolvConf {
    fn new(ns: &Netns, server: SocketAddr) -> Result<Self> {
        let dir = PathBuf::from("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let guard = Self(dir);
        std::fs::write(
            guard.0.join("resolv.conf"),
            format!("nameserver {}\n", server.ip()),
        )?;
        Ok(guard)
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Without `--dns-server`, the system's resolver configuration is used.
#[test]
fn roots_come_through_the_systems_resolver() -> Result<()> {
    if !is_root() {
        eprintln!("skipped: needs root");
        return Ok(());
    }
    let lab = lab()?;
    let _conf = NetnsResolvConf::new(lab.client(), lab.dns.addr())?;
    let out = lab.bootstrap(&["--dns", NAME, "--json"])?;
    ensure!(
        roots_of(&out)? == lab.roots,
        "wrong roots: {}\ndnsmasq: {}",
        said(&out),
        lab.dns.log()
    );
    Ok(())
}
