//! Relaying and multi-hop paths with real `tessel` nodes: namespaces joined
//! only by point-to-point links ([`Topology`]), so that members that are not
//! neighbours can talk only through the members between them.
//!
//! ```text
//!   line of four        a --- b --- c --- d       b --peer a, c --peer b,
//!                                                 d --peer c
//!   ring of four        a --- b                   the same, and d --peer a;
//!                       |     |                   no diagonals
//!                       d --- c
//!   line of three       a --- b --- c             b tampers, or --no-relay
//! ```
//!
//! Each link is a veth pair with its own /28 and no host forwards, so `a`
//! cannot reach the addresses of `c` or `d` at all. Every test builds its
//! own namespaces (unique names, deleted on drop, failure or not).
//!
//! Needs root (namespaces, veth, nftables, TUN), `nft`, `ping`, `curl`,
//! `python3`, and the `tessel` binary built with the overlay's `test-hooks`
//! feature: a test build of the workspace does that (`cargo nextest run
//! --workspace`); alone, `cargo build -p tessel-overlay --bin tessel
//! --features test-hooks`.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::process::{describe, run_bounded};
use tessel_netns::tessel::{self, DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_netns::topology::Topology;
use tessel_netns::traffic::{ping, ping_fails};
use tessel_netns::transfer::{ensure_same, write_pattern, Download};
use tessel_netns::{wait, Netns, NodeConfig, Status, TempDir, TesselNode};

/// How long members may take to learn of each other through gossip, or to
/// get a relayed session going. A bound that fails the test, not a speed
/// requirement.
const LEARN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a TCP transfer cut in the middle may take to complete the
/// other way round (failure bound).
const REROUTE_TIMEOUT: Duration = Duration::from_secs(120);

/// Time limit of one `tessel ping` run.
const CLI_TIMEOUT: Duration = Duration::from_secs(15);

/// Members on a topology: node `i` runs in host `i`.
struct Net {
    nodes: Vec<TesselNode>,
    ids: Vec<String>,
    topo: Topology,
}

impl Net {
    /// Starts one node per host of `topo`; node `i` gets `--peer` for each
    /// `(i, j)` in `peers` (host `j`'s address on their link), and whatever
    /// `tweak(i, config)` adds.
    fn start(
        topo: Topology,
        peers: &[(usize, usize)],
        tweak: impl Fn(usize, NodeConfig) -> NodeConfig,
    ) -> Result<Self> {
        let key = tessel::new_network_key()?;
        let mut nodes = Vec::new();
        for i in 0..topo.host_count() {
            let mut cfg = NodeConfig::new(&key).port_mapping("off");
            for &(_, j) in peers.iter().filter(|(from, _)| *from == i) {
                cfg = cfg.peer(topo.endpoint(j, i, DEFAULT_PORT)?);
            }
            let cfg = tweak(i, cfg);
            nodes.push(TesselNode::start(topo.role(i), topo.host(i).clone(), cfg)?);
        }
        let ids = nodes
            .iter()
            .map(TesselNode::node_id)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { nodes, ids, topo })
    }

    fn ns(&self, i: usize) -> &Netns {
        self.topo.host(i)
    }

    fn status(&self, i: usize) -> Result<Status> {
        self.nodes[i].status()
    }

    /// Overlay address of node `i` in the given family.
    fn addr(&self, i: usize, v6: bool) -> Result<IpAddr> {
        let ips = self.nodes[i].ip()?;
        Ok(if v6 { ips.v6.into() } else { ips.v4.into() })
    }

    /// Waits until node `i` lists node `j` among its members (gossip
    /// brought news of it).
    fn wait_knows(&mut self, i: usize, j: usize) -> Result<()> {
        let id = self.ids[j].clone();
        let what = format!("{} to learn of {}", self.topo.role(i), self.topo.role(j));
        self.nodes[i].wait_until(&what, LEARN_TIMEOUT, |s| s.peer(&id).is_some())?;
        Ok(())
    }

    /// `tessel ping` from node `i` to node `j`, once a reply comes: retries
    /// while the session starts, within [`LEARN_TIMEOUT`].
    fn first_pong(&self, i: usize, j: usize) -> Result<Value> {
        let what = format!(
            "a `tessel ping` reply from {} to {}",
            self.topo.role(i),
            self.topo.role(j)
        );
        wait::poll(&what, LEARN_TIMEOUT, || {
            tessel_ping(&self.nodes[i], &self.ids[j])
        })
    }

    /// Node `i`'s relaying counters.
    fn relay(&self, i: usize) -> Result<Value> {
        let r = self.status(i)?.0["relay"].clone();
        ensure!(
            r.is_object(),
            "{}: status has no relay object",
            self.topo.role(i)
        );
        Ok(r)
    }

    /// Node `i`'s relay counter `key`.
    fn relay_counter(&self, i: usize, key: &str) -> Result<u64> {
        self.relay(i)?[key]
            .as_u64()
            .with_context(|| format!("{}: relay.{key} is not a counter", self.topo.role(i)))
    }
}

/// One `tessel ping PEER -c 1 --json`: the reply, or `None` if none came
/// (or the node does not know the member yet).
fn tessel_ping(node: &TesselNode, peer: &str) -> Result<Option<Value>> {
    let out = run_bounded(node.cli(&["ping", peer, "-c", "1", "--json"]), CLI_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find(|l| !l.trim().is_empty()) else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(line)
        .with_context(|| format!("`tessel ping --json` printed {line:?}"))?;
    Ok(v.get("timeout").is_none().then_some(v))
}

/// `tessel ping PEER -c N --json` that must be answered every time; the
/// replies.
fn tessel_ping_all(node: &TesselNode, peer: &str, count: u32) -> Result<Vec<Value>> {
    let n = count.to_string();
    let out = run_bounded(
        node.cli(&["ping", peer, "-c", &n, "--json"]),
        CLI_TIMEOUT * 2,
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "tessel ping {peer} failed ({}): {stdout}{}",
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    let replies = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()
        .with_context(|| format!("`tessel ping --json` printed {stdout:?}"))?;
    ensure!(
        replies.len() == count as usize && replies.iter().all(|v| v.get("timeout").is_none()),
        "not every ping to {peer} was answered: {stdout}"
    );
    Ok(replies)
}

/// Checks that a `tessel ping` reply came through `relay`.
fn ensure_via(reply: &Value, relay: &str) -> Result<()> {
    ensure!(
        reply["path"] == "relay" && reply["relay"] == relay,
        "expected a reply via relay {relay}, got {reply}"
    );
    Ok(())
}

/// The `path` of node `peer` in a status (`direct` or `relay NODE`).
fn path_of(status: &Status, peer: &str) -> Option<String> {
    status
        .peer(peer)
        .and_then(|p| p.0["path"].as_str().map(str::to_owned))
}

// Topology (each link its own /28, no forwarding):
//
//   ns a ---- ns b ---- ns c ---- ns d
//   A         B         C         D
//             --peer A  --peer B  --peer C
//
// Only neighbours reach each other; A and D must go through B and C.
/// The two ends of a line of four, where only neighbours reach each other,
/// ping each other over both overlay families and move a few MB of TCP,
/// through the two members between them.
#[test]
fn the_ends_of_a_line_of_four_talk_through_the_middle() -> Result<()> {
    let topo = Topology::line(&["a", "b", "c", "d"])?;
    // A has no route at all to the underlay addresses of C or D.
    for addr in topo.addrs(2).into_iter().chain(topo.addrs(3)) {
        let out = topo
            .host(0)
            .exec(&["ping", "-c", "1", "-W", "1", &addr.to_string()])?;
        ensure!(!out.status.success(), "a reaches {addr} across the line");
    }

    let mut net = Net::start(topo, &[(1, 0), (2, 1), (3, 2)], |_, c| c)?;
    net.wait_knows(0, 3)?;
    net.wait_knows(3, 0)?;
    let (a, b, c, d) = (0, 1, 2, 3);

    // `tessel ping` shows the relayed path: A's traffic for D enters the
    // line at B, D's comes back through C.
    let first = net.first_pong(a, d)?;
    println!("first pong a -> d: {first}");
    for reply in tessel_ping_all(&net.nodes[a], &net.ids[d], 3)? {
        ensure_via(&reply, &net.ids[b])?;
    }
    for reply in tessel_ping_all(&net.nodes[d], &net.ids[a], 3)? {
        ensure_via(&reply, &net.ids[c])?;
    }
    let sa = net.status(a)?;
    ensure!(
        path_of(&sa, &net.ids[d]) == Some(format!("relay {}", net.ids[b])),
        "a's status does not show d through b: {sa}"
    );

    for v6 in [true, false] {
        ping(net.ns(a), net.addr(d, v6)?)?;
        ping(net.ns(d), net.addr(a, v6)?)?;
    }
    // A few MB of TCP each way, checked byte for byte: D fetches a file
    // from A over IPv6, A one from D over IPv4.
    let dir = TempDir::new("relay-line")?;
    let logs = dir.subdir("logs")?;
    for (server, client, v6, bytes) in [(a, d, true, 4 << 20), (d, a, false, 2 << 20)] {
        let blob = dir.subdir(&format!("www-{server}"))?.join("blob");
        write_pattern(&blob, bytes)?;
        let out = dir.path().join(format!("fetched-{client}"));
        let addr = SocketAddr::new(net.addr(server, v6)?, 8000);
        let fetch = Download::start(
            net.ns(server),
            addr,
            &blob,
            net.ns(client),
            &out,
            None,
            REROUTE_TIMEOUT,
            &logs,
        )?;
        let took = fetch.finish(REROUTE_TIMEOUT)?;
        ensure_same(&blob, &out)?;
        println!(
            "{} MiB from {} to {} over IPv{}: {:.2} s",
            bytes >> 20,
            net.topo.role(server),
            net.topo.role(client),
            if v6 { 6 } else { 4 },
            took.as_secs_f64()
        );
    }

    for mid in [b, c] {
        let r = net.relay(mid)?;
        println!("relay counters of {}: {r}", net.topo.role(mid));
        ensure!(
            r["forwarded"].as_u64().unwrap_or(0) > 1000
                && r["forwarded_bytes"].as_u64().unwrap_or(0) > 6 << 20,
            "{} did not pass the transfers on: {r}",
            net.topo.role(mid)
        );
    }
    ensure!(net.relay_counter(a, "sent_relayed")? > 0);
    ensure!(net.relay_counter(d, "received_relayed")? > 0);
    Ok(())
}

/// Size of the file fetched across the ring.
const DOWNLOAD_BYTES: usize = 16 << 20;

/// curl's rate cap for it (bytes per second), so that it is still running
/// when the link is cut.
const DOWNLOAD_RATE: &str = "2M";

// Topology (each link its own /28, no forwarding, no diagonals):
//
//   ns a ------ ns b            B --peer A
//    |            |             C --peer B
//   ns d ------ ns c            D --peer C --peer A
//
// A reaches C through B or through D. While C downloads a file from A (the
// data goes A -> C), the link A uses is cut: nftables in both ends drops
// everything arriving on it.
/// A ring of four with the link in use cut during a TCP transfer: the
/// transfer completes the other way round, every byte intact.
#[test]
fn a_ring_of_four_carries_a_transfer_around_a_cut() -> Result<()> {
    let topo = Topology::ring(&["a", "b", "c", "d"])?;
    let mut net = Net::start(topo, &[(1, 0), (2, 1), (3, 2), (3, 0)], |_, c| c)?;
    let (a, c) = (0, 2);
    net.wait_knows(a, c)?;
    net.wait_knows(c, a)?;
    let first = net.first_pong(a, c)?;
    ensure!(
        first["path"] == "relay",
        "a reaches c without a relay: {first}"
    );
    let hop_id = first["relay"]
        .as_str()
        .context("no relay in the reply")?
        .to_owned();
    let hop = net
        .ids
        .iter()
        .position(|id| *id == hop_id)
        .context("the relay is not a member")?;
    ensure!(hop == 1 || hop == 3, "a's first hop toward c is {hop_id}");
    let other = 4 - hop;
    println!(
        "a reaches c through {}; cutting a--{} during the transfer",
        net.topo.role(hop),
        net.topo.role(hop)
    );

    let dir = TempDir::new("relay-ring")?;
    let blob = dir.subdir("www")?.join("blob");
    write_pattern(&blob, DOWNLOAD_BYTES)?;
    let out = dir.path().join("blob.fetched");
    let logs = dir.subdir("logs")?;
    let c_id = net.ids[c].clone();
    let sent_to_c = |net: &Net| -> Result<u64> {
        Ok(net
            .status(a)?
            .peer(&c_id)
            .and_then(|p| p.tx_bytes())
            .unwrap_or(0))
    };
    let before = sent_to_c(&net)?;
    let server_addr = SocketAddr::new(net.addr(a, true)?, 8000);
    let mut download = Download::start(
        net.ns(a),
        server_addr,
        &blob,
        net.ns(c),
        &out,
        Some(DOWNLOAD_RATE),
        REROUTE_TIMEOUT,
        &logs,
    )?;
    // Cut once the transfer is under way (1 MiB through).
    wait::poll("the transfer to get going", LEARN_TIMEOUT, || {
        download.ensure_alive()?;
        Ok((sent_to_c(&net)? > before + (1 << 20)).then_some(()))
    })?;
    net.topo.cut(a, hop)?;
    let cut_at = Instant::now();
    let around = format!("relay {}", net.ids[other]);
    wait::poll(
        "a's path to c to go the other way round",
        REROUTE_TIMEOUT,
        || {
            download.ensure_alive()?;
            Ok((path_of(&net.status(a)?, &c_id).as_ref() == Some(&around)).then_some(()))
        },
    )?;
    println!(
        "a's status shows c through {} {:.1} s after the cut",
        net.topo.role(other),
        cut_at.elapsed().as_secs_f64()
    );
    let took = download.finish(REROUTE_TIMEOUT)?;
    println!(
        "download of {} MiB at {DOWNLOAD_RATE}/s: {:.1} s, {:.1} s of it after the cut",
        DOWNLOAD_BYTES >> 20,
        took.as_secs_f64(),
        cut_at.elapsed().as_secs_f64()
    );
    ensure_same(&blob, &out)?;

    // The path now goes the other way round.
    let reply = net.first_pong(a, c)?;
    ensure_via(&reply, &net.ids[other])?;
    ping(net.ns(a), net.addr(c, true)?)?;
    ping(net.ns(c), net.addr(a, false)?)?;
    ensure!(
        net.relay_counter(other, "forwarded")? > 0,
        "{} passed nothing on",
        net.topo.role(other)
    );
    Ok(())
}

/// Counts the packets that node `from`'s overlay addresses deliver into a
/// namespace through its TUN device (an nftables counter on input).
struct Delivered {
    ns: Arc<Netns>,
}

impl Delivered {
    const TABLE: &'static str = "tessel-delivered";

    fn install(ns: Arc<Netns>, from: &[IpAddr]) -> Result<Self> {
        ns.exec_ok(&["nft", "add", "table", "inet", Self::TABLE])?;
        ns.exec_ok(&[
            "nft",
            "add",
            "chain",
            "inet",
            Self::TABLE,
            "in",
            "{ type filter hook input priority 0 ; }",
        ])?;
        for addr in from {
            let family = if addr.is_ipv6() { "ip6" } else { "ip" };
            ns.exec_ok(&[
                "nft",
                "add",
                "rule",
                "inet",
                Self::TABLE,
                "in",
                "iifname",
                DEFAULT_INTERFACE,
                family,
                "saddr",
                &addr.to_string(),
                "counter",
            ])?;
        }
        Ok(Self { ns })
    }

    /// Packets counted so far.
    fn packets(&self) -> Result<u64> {
        let out = self
            .ns
            .exec_ok(&["nft", "-j", "list", "table", "inet", Self::TABLE])?;
        let v: Value =
            serde_json::from_str(&out).with_context(|| format!("nft printed {out:?}"))?;
        Ok(v["nftables"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["rule"]["expr"].as_array())
            .flatten()
            .filter_map(|e| e["counter"]["packets"].as_u64())
            .sum())
    }
}

// Topology: ns a ---- ns b ---- ns c   (B --peer A, C --peer B)
//
// A and C first talk through an honest B; then B is restarted (same key)
// as a relay that flips the last byte of every frame it passes on.
/// A relay that flips a byte of relayed traffic gets it dropped and
/// counted at the recipient; nothing it altered is delivered.
#[test]
fn a_relay_that_flips_a_byte_causes_counted_drops_only() -> Result<()> {
    let topo = Topology::line(&["a", "b", "c"])?;
    let mut net = Net::start(topo, &[(1, 0), (2, 1)], |_, c| c)?;
    let (a, b, c) = (0, 1, 2);
    net.wait_knows(a, c)?;
    let from_a = [net.addr(a, true)?, net.addr(a, false)?];
    let delivered = Delivered::install(net.topo.host(c).clone(), &from_a)?;

    // Honest B: A's pings reach C, and the counter sees them.
    ensure_via(&net.first_pong(a, c)?, &net.ids[b])?;
    ping(net.ns(a), net.addr(c, true)?)?;
    let honest = delivered.packets()?;
    ensure!(honest >= 3, "the counter saw {honest} packets from a at c");

    // B comes back as a tampering relay.
    net.nodes[b].stop()?;
    net.nodes[b].config_mut().tamper_relayed = true;
    net.nodes[b]
        .restart()
        .context("restarting b with --test-tamper-relayed (is tessel built with the overlay's test-hooks feature?)")?;
    let (ida, idc) = (net.ids[a].clone(), net.ids[c].clone());
    net.nodes[b].wait_until("b to reconnect to a and c", LEARN_TIMEOUT, |s| {
        s.is_connected_to(&ida) && s.is_connected_to(&idc)
    })?;
    ensure!(
        net.nodes[b].log().contains("tampering"),
        "b does not say it tampers"
    );

    let drops_before = net.status(c)?;
    let forwarded_before = net.relay_counter(b, "forwarded")?;
    let delivered_before = delivered.packets()?;
    ping_fails(net.ns(a), net.addr(c, true)?)?;
    ping_fails(net.ns(a), net.addr(c, false)?)?;
    ensure!(
        tessel_ping(&net.nodes[a], &net.ids[c])?.is_none(),
        "`tessel ping` through the tampering relay got a reply"
    );
    let drops_after = net.status(c)?;
    let forwarded = net.relay_counter(b, "forwarded")? - forwarded_before;
    let grew = |reason: &str| -> Result<u64> {
        Ok(drops_after.drops(reason)? - drops_before.drops(reason)?)
    };
    let (decrypt, mac) = (grew("decrypt_failed")?, grew("bad_mac")?);
    println!("b passed on {forwarded} tampered frames; c dropped {decrypt} as decrypt_failed, {mac} as bad_mac");
    ensure!(forwarded >= 6, "b passed on only {forwarded} frames");
    ensure!(
        decrypt >= 6,
        "c counted {decrypt} decrypt failures for {forwarded} tampered frames: {drops_after}"
    );
    let leaked = delivered.packets()? - delivered_before;
    ensure!(
        leaked == 0,
        "{leaked} packets from a were delivered at c through the tampering relay"
    );
    Ok(())
}

// Topology: ns a ---- ns b ---- ns c   (B --peer A --no-relay, C --peer B)
/// A member started with `--no-relay` passes nothing on: the members on
/// either side of it cannot talk, and it counts what it refused.
#[test]
fn a_member_with_no_relay_refuses_to_relay() -> Result<()> {
    let topo = Topology::line(&["a", "b", "c"])?;
    let mut net = Net::start(topo, &[(1, 0), (2, 1)], |i, c| c.relay(i != 1))?;
    let (a, b, c) = (0, 1, 2);
    net.wait_knows(a, c)?;
    net.wait_knows(c, a)?;
    let r = net.relay(b)?;
    ensure!(r["enabled"] == false, "b says it relays: {r}");
    ensure!(
        net.relay(a)?["enabled"] == true,
        "a does not relay by default"
    );

    ping_fails(net.ns(a), net.addr(c, true)?)?;
    ping_fails(net.ns(c), net.addr(a, false)?)?;
    ensure!(
        tessel_ping(&net.nodes[a], &net.ids[c])?.is_none(),
        "`tessel ping` from a to c got a reply"
    );
    let r = net.relay(b)?;
    println!("relay counters of b: {r}");
    ensure!(
        r["refused"].as_u64().unwrap_or(0) > 0 && r["forwarded"] == 0,
        "b did not refuse: {r}"
    );
    ensure!(
        !net.status(a)?.is_connected_to(&net.ids[c]),
        "a has a session with c"
    );
    Ok(())
}
