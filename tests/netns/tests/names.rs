//! Names and the DNS responder in real namespaces: two named members
//! resolve each other with `dig` against the node's responder, and reach
//! each other by name with the system resolver (`ping NAME`, `curl
//! http://NAME.tessel.internal:PORT/`).
//!
//! Needs root, `dig` (bind9-dnsutils), `ping`, `curl` and `python3`, and the
//! `tessel` binary. To make the system resolver ask the node inside a
//! namespace, the test writes `/etc/netns/<ns>/resolv.conf`, which `ip
//! netns exec` mounts over `/etc/resolv.conf`; it removes it at the end,
//! even on failure.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::services::{curl, HttpServer};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::{wait, Lan, Netns, NodeConfig, TempDir, TesselNode};

/// The node's default DNS address (`tessel up --dns-listen`).
const DNS: &str = "127.0.0.77";
/// How long a name may take to resolve once the members are connected.
const RESOLVES: Duration = Duration::from_secs(20);

/// `/etc/netns/<ns>/resolv.conf` pointing the namespace's resolver at the
/// node; removed when dropped.
struct NetnsResolvConf {
    dir: PathBuf,
}

impl NetnsResolvConf {
    fn new(ns: &Netns) -> Result<Self> {
        let dir = PathBuf::from("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let guard = Self { dir };
        std::fs::write(
            guard.dir.join("resolv.conf"),
            format!("nameserver {DNS}\nsearch tessel.internal\noptions timeout:2 attempts:2\n"),
        )?;
        Ok(guard)
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // Leave /etc/netns as it was when nothing else is in it.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// `dig +short` for `name` and `qtype` at the node's responder in `ns`;
/// returns the status and the answers.
fn dig(ns: &Netns, name: &str, qtype: &str) -> Result<(String, Vec<String>)> {
    let server = format!("@{DNS}");
    let out = ns.exec(&["dig", &server, "+tries=1", "+time=5", name, qtype])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(out.status.success(), "dig {name} {qtype} failed:\n{text}");
    let status = text
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .and_then(|s| s.split(',').next())
        .with_context(|| format!("no status in dig's output:\n{text}"))?
        .to_owned();
    // The answer section: `NAME TTL IN TYPE ADDRESS` lines.
    let answers = text
        .lines()
        .skip_while(|l| !l.starts_with(";; ANSWER SECTION"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_owned))
        .collect();
    Ok((status, answers))
}

// Topology: one LAN (198.51.100.0/24).
//
//   ns a: A "alpha"  <---->  ns b: B "beta" (--peer A)
//   each answers DNS on 127.0.0.77:53 in its own namespace
/// Two named members resolve each other with `dig` (AAAA, A, NXDOMAIN,
/// REFUSED), then ping and curl each other by name through the system
/// resolver.
#[test]
fn named_members_reach_each_other_by_name() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let logs = TempDir::new("names")?;
    let named = |name: &str| NodeConfig::new(&key).extra_args(["--name", name]);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), named("Alpha"))?;
    let a_ep = lan.host(0).v4_endpoint(DEFAULT_PORT);
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), named("beta").peer(a_ep))?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    let (a_ip, b_ip) = (a.ip()?, b.ip()?);

    // Status shows each node's name and the peer's.
    let s = a.status()?;
    ensure!(
        s.0["name"]["name"] == "alpha",
        "A's status: {}",
        s.0["name"]
    );
    ensure!(
        s.0["name"]["held_by"].is_null(),
        "A lost its name: {}",
        s.0["name"]
    );
    wait::poll("A's status to show B's name", RESOLVES, || {
        let s = a.status()?;
        Ok(s.peers()
            .iter()
            .any(|p| p.0["name"] == "beta")
            .then_some(()))
    })?;

    // whois by name, with or without the domain.
    for target in ["beta", "beta.tessel.internal"] {
        let out = a.cli(&["whois", target, "--json"]).output()?;
        ensure!(
            out.status.success(),
            "whois {target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let who: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        ensure!(
            who["node_id"] == b.node_id()? && who["name"] == "beta",
            "whois {target}: {who}"
        );
    }

    // dig against the node's responder, from each side.
    let b_ns = lan.host(1).ns.clone();
    let a_ns = lan.host(0).ns.clone();
    let aaaa = wait::poll("B to resolve alpha", RESOLVES, || {
        let (status, answers) = dig(&b_ns, "alpha.tessel.internal", "AAAA")?;
        Ok((status == "NOERROR" && !answers.is_empty()).then_some(answers))
    })?;
    ensure!(
        aaaa == [a_ip.v6.to_string()],
        "AAAA alpha: {aaaa:?}, A is {}",
        a_ip.v6
    );
    let (status, a4) = dig(&b_ns, "ALPHA.tessel.internal", "A")?;
    ensure!(
        status == "NOERROR" && a4 == [a_ip.v4.to_string()],
        "A alpha: {status} {a4:?}, A is {}",
        a_ip.v4
    );
    let (status, b6) = dig(&a_ns, "beta.tessel.internal", "AAAA")?;
    ensure!(
        status == "NOERROR" && b6 == [b_ip.v6.to_string()],
        "AAAA beta: {status} {b6:?}, B is {}",
        b_ip.v6
    );
    let (status, answers) = dig(&b_ns, "gamma.tessel.internal", "AAAA")?;
    ensure!(
        status == "NXDOMAIN" && answers.is_empty(),
        "gamma: {status} {answers:?}"
    );
    let (status, _) = dig(&b_ns, "example.com", "A")?;
    ensure!(status == "REFUSED", "example.com: {status}");
    // The same over TCP.
    let server = format!("@{DNS}");
    let tcp = b_ns.exec_ok(&[
        "dig",
        &server,
        "+tcp",
        "+short",
        "alpha.tessel.internal",
        "AAAA",
    ])?;
    ensure!(
        tcp.trim() == a_ip.v6.to_string(),
        "AAAA alpha over TCP: {tcp:?}"
    );

    // The system resolver, pointed at the node for the domain.
    let _b_conf = NetnsResolvConf::new(&b_ns)?;
    let _a_conf = NetnsResolvConf::new(&a_ns)?;
    let out = b_ns.exec(&["ping", "-c", "1", "-W", "5", "alpha"])?;
    ensure!(
        out.status.success(),
        "ping alpha from B failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = a_ns.exec(&["ping", "-c", "1", "-W", "5", "beta.tessel.internal"])?;
    ensure!(
        out.status.success(),
        "ping beta.tessel.internal from A failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let root = logs.subdir("www")?;
    std::fs::write(root.join("index.html"), "served by alpha\n")?;
    let http = HttpServer::start(
        &a_ns,
        SocketAddr::new(IpAddr::V6(a_ip.v6), 8080),
        &root,
        logs.path(),
    )?;
    let run = curl(&b_ns, &["http://alpha.tessel.internal:8080/"])?;
    run.ensure_ok()?;
    ensure!(
        run.text() == "served by alpha\n",
        "curl by name: {:?}",
        run.text()
    );
    http.stop()?;
    Ok(())
}
