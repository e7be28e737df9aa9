//! Foundation end-to-end tests: nodes in real network namespaces on a
//! bridged LAN, talking through real TUN devices.
//!
//! Needs root (namespaces, veth, bridges, TUN), `iperf3` and `ping`, and the
//! `tessel` binary (`cargo build -p tessel-overlay --bin tessel`, or set
//! `TESSEL_BIN`).

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::netns::is_root;
use tessel_netns::tessel::{self, DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp, ping, ping_all, ping_fails};
use tessel_netns::{wait, Lan, Netns, NodeConfig, OverlayIps, TempDir, TesselNode};

/// How long to wait for a single status condition.
const WAIT: Duration = Duration::from_secs(20);

/// A LAN of hosts a, b, c with A running alone and B, C pointed at A only.
struct Trio {
    nodes: Vec<TesselNode>,
    lan: Lan,
}

impl Trio {
    /// Starts A, then B and C with `--peer A`, and waits for the full mesh.
    fn start(key: &str) -> Result<Self> {
        let lan = Lan::new(&["a", "b", "c"])?;
        let a_ep = lan.host(0).v4_endpoint(DEFAULT_PORT);
        let mut nodes = vec![TesselNode::start(
            "a",
            lan.host(0).ns.clone(),
            NodeConfig::new(key),
        )?];
        for (i, label) in [(1, "b"), (2, "c")] {
            let cfg = NodeConfig::new(key).peer(a_ep.clone());
            nodes.push(TesselNode::start(label, lan.host(i).ns.clone(), cfg)?);
        }
        let mut trio = Self { nodes, lan };
        trio.wait_mesh()?;
        Ok(trio)
    }

    fn wait_mesh(&mut self) -> Result<()> {
        let mut refs: Vec<&mut TesselNode> = self.nodes.iter_mut().collect();
        wait_full_mesh(&mut refs, MESH_TIMEOUT)
    }
}

/// Overlay address of `ips` in the given family.
fn overlay(ips: &OverlayIps, v6: bool) -> IpAddr {
    if v6 {
        ips.v6.into()
    } else {
        ips.v4.into()
    }
}

/// Checks the overlay interface: MTU 1420, the IPv6 /48 ULA and the IPv4
/// address reported by `tessel ip`.
fn check_interface(node: &TesselNode, ips: &OverlayIps) -> Result<()> {
    let out = node
        .ns()
        .ip(&["-j", "addr", "show", "dev", DEFAULT_INTERFACE])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let link = &v[0];
    ensure!(
        link["mtu"] == 1420,
        "{}: MTU is {}, expected 1420",
        node.label(),
        link["mtu"]
    );
    let addrs = link["addr_info"].as_array().context("no addr_info")?;
    let has = |a: String, len: Option<u64>| {
        addrs.iter().any(|x| {
            x["local"].as_str() == Some(a.as_str())
                && len.is_none_or(|l| x["prefixlen"].as_u64() == Some(l))
        })
    };
    ensure!(
        has(ips.v6.to_string(), Some(48)),
        "{}: {} /48 not on {DEFAULT_INTERFACE}: {out}",
        node.label(),
        ips.v6
    );
    ensure!(
        has(ips.v4.to_string(), None),
        "{}: {} not on {DEFAULT_INTERFACE}: {out}",
        node.label(),
        ips.v4
    );
    Ok(())
}

// Topology:
//
//                       switch ns (br0)
//          +------------------+------------------+
//          |                  |                  |
//      ns a: eth0         ns b: eth0         ns c: eth0
//      198.51.100.1       198.51.100.2       198.51.100.3
//      2001:db8:1::1      2001:db8:1::2      2001:db8:1::3
//      tessel0 (A)        tessel0 (B)        tessel0 (C)
//                         --peer A           --peer A
//
//  B and C only know A; they must find each other through it.
/// Three members on one LAN form a full mesh and carry ping and TCP over
/// both overlay address families.
#[test]
fn three_nodes_reach_each_other() -> Result<()> {
    let key = tessel::new_network_key()?;
    let trio = Trio::start(&key)?;
    let logs = TempDir::new("iperf")?;
    let n = &trio.nodes;

    let ips = n.iter().map(TesselNode::ip).collect::<Result<Vec<_>>>()?;
    let mut network_ids = Vec::new();
    for (node, ip) in n.iter().zip(&ips) {
        let s = node.status()?;
        s.check_shape()
            .with_context(|| format!("status of {}: {s}", node.label()))?;
        ensure!(
            s.ipv6()? == ip.v6 && s.ipv4()? == ip.v4,
            "`tessel ip` disagrees with status"
        );
        network_ids.push(s.network_id()?.to_owned());
        check_interface(node, ip)?;
        let key_mode = std::fs::metadata(node.state_dir().join("node.key"))?
            .permissions()
            .mode();
        ensure!(
            key_mode & 0o777 == 0o600,
            "node.key mode is {:o}",
            key_mode & 0o777
        );
    }
    ensure!(
        network_ids.iter().all(|id| *id == network_ids[0]),
        "network ids differ"
    );
    ensure!(
        ips[0].v6.segments()[..3] == ips[1].v6.segments()[..3]
            && ips[0].v6.segments()[..3] == ips[2].v6.segments()[..3],
        "overlay IPv6 addresses are not in one /48: {ips:?}"
    );

    // Every ordered pair, both families, concurrently (each ping takes ~2 s).
    let mut pairs = Vec::new();
    for (i, from) in n.iter().enumerate() {
        for (j, to) in n.iter().enumerate() {
            for v6 in [true, false] {
                if i != j {
                    let addr = overlay(&ips[j], v6);
                    let label = format!("ping {} -> {} ({addr})", from.label(), to.label());
                    pairs.push((label, &**from.ns(), addr));
                }
            }
        }
    }
    ping_all(&pairs)?;

    // TCP: all ordered pairs over IPv6, and B -> C over IPv4.
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                iperf_tcp(n[j].ns(), n[i].ns(), ips[j].v6.into(), "2M", logs.path()).with_context(
                    || format!("iperf3 {} -> {} over IPv6", n[i].label(), n[j].label()),
                )?;
            }
        }
    }
    iperf_tcp(n[2].ns(), n[1].ns(), ips[2].v4.into(), "2M", logs.path())
        .context("iperf3 b -> c over IPv4")?;

    // The transfers show up in the byte counters. (`iperf3 -n` ends once the
    // bytes are queued, so less than 2 MB may have crossed: assert far more
    // than pings could account for, not the full amount.)
    let a_id = n[0].node_id()?;
    let s = n[1].status()?;
    let p = s.peer(&a_id).context("B lists no peer A")?;
    ensure!(
        p.rx_bytes().unwrap_or(0) > 256 * 1024 && p.tx_bytes().unwrap_or(0) > 256 * 1024,
        "B's byte counters for A barely moved after TCP both ways: {}",
        p.0
    );
    Ok(())
}

// Topology:
//
//                          switch ns (br0)
//        +---------------+-------+--------+---------------+
//        |               |                |               |
//    ns a: eth0      ns b: eth0       ns c: eth0      ns d: eth0
//    198.51.100.1    198.51.100.2     198.51.100.3    198.51.100.4
//    A (key K)       B (key K)        C (key K)       D (key K', --peer A)
//                    --peer A         --peer A
//
//  D knows A's endpoint but holds another network's key.
/// A node with another network key is ignored: no session, no routes, and
/// its datagrams are counted as `bad_mac`.
#[test]
fn outsider_with_another_network_key_gets_nothing() -> Result<()> {
    let key = tessel::new_network_key()?;
    let other_key = tessel::new_network_key()?;
    ensure!(
        key != other_key,
        "`tessel network new` returned the same key twice"
    );
    let mut trio = Trio::start(&key)?;
    let d_host = trio.lan.add_host("d")?.clone();

    let bad_mac_before = trio.nodes[0].status()?.drops("bad_mac")?;
    let a_ep = trio.lan.host(0).v4_endpoint(DEFAULT_PORT);
    let mut d = TesselNode::start(
        "d",
        d_host.ns.clone(),
        NodeConfig::new(&other_key).peer(a_ep),
    )?;
    let d_id = d.node_id()?;
    let d_ips = d.ip()?;
    let a_ips = trio.nodes[0].ip()?;
    ensure!(
        d.status()?.network_id()? != trio.nodes[0].status()?.network_id()?,
        "same network id"
    );

    let a = trio.nodes[0].wait_until("A to count D's datagrams as bad_mac", WAIT, |s| {
        s.drops("bad_mac").is_ok_and(|n| n > bad_mac_before)
    })?;
    println!(
        "A's drops.bad_mac: {bad_mac_before} -> {}",
        a.drops("bad_mac")?
    );

    // For a few seconds: D connects to nobody, and no member lists D.
    wait::holds_for(Duration::from_secs(5), || {
        let s = d.status()?;
        ensure!(
            s.connected_ids().is_empty(),
            "D is connected to someone: {s}"
        );
        for m in &trio.nodes {
            let s = m.status()?;
            ensure!(
                s.peer(&d_id).is_none(),
                "{} lists the outsider D: {s}",
                m.label()
            );
        }
        Ok(())
    })?;

    // Route each side's /48 into the other side's overlay interface, so the
    // pings really enter tessel instead of failing in the kernel for lack of
    // a route.
    let seg = |ip: &OverlayIps| ip.v6.segments();
    let (a, d6) = (seg(&a_ips), seg(&d_ips));
    let a48 = format!("{:x}:{:x}:{:x}::/48", a[0], a[1], a[2]);
    let d48 = format!("{:x}:{:x}:{:x}::/48", d6[0], d6[1], d6[2]);
    d.ns()
        .ip(&["-6", "route", "replace", &a48, "dev", DEFAULT_INTERFACE])?;
    let a_ns = trio.nodes[0].ns().clone();
    a_ns.ip(&["-6", "route", "replace", &d48, "dev", DEFAULT_INTERFACE])?;
    std::thread::scope(|s| {
        let d_to_a = s.spawn(|| ping_fails(d.ns(), a_ips.v6.into()));
        let a_to_d = s.spawn(|| ping_fails(&a_ns, d_ips.v6.into()));
        let d_to_a = d_to_a.join().expect("ping thread panicked");
        let a_to_d = a_to_d.join().expect("ping thread panicked");
        d_to_a
            .context("D pinging A's overlay IPv6")
            .and(a_to_d.context("A pinging D's overlay IPv6"))
    })?;
    ensure!(
        d.status()?.connected_ids().is_empty(),
        "D connected to someone after pinging"
    );
    // Members still talk to each other.
    let b_ips = trio.nodes[1].ip()?;
    ping(trio.nodes[0].ns(), b_ips.v6.into())?;
    d.stop()?;
    Ok(())
}

// Topology:
//
//                       switch ns (br0)
//          +------------------+------------------+
//          |                  |                  |
//      ns a: eth0         ns b: eth0         ns c: eth0
//      198.51.100.1       198.51.100.2       198.51.100.3
//      A                  B  (SIGKILL,       C
//                         restarted with
//                         the same state)
/// A node that crashes and restarts with its state directory rejoins: same
/// identity, fresh handshakes with peers that kept running.
#[test]
fn restart_restores_sessions() -> Result<()> {
    let key = tessel::new_network_key()?;
    let mut trio = Trio::start(&key)?;
    let ids = trio
        .nodes
        .iter()
        .map(TesselNode::node_id)
        .collect::<Result<Vec<_>>>()?;
    let (a_pid, c_pid) = (trio.nodes[0].pid(), trio.nodes[2].pid());
    let hs_before = |node: &TesselNode| -> Result<u64> {
        let s = node.status()?;
        s.peer(&ids[1])
            .and_then(|p| p.last_handshake_unix_ms())
            .with_context(|| format!("{} has no handshake time for B: {s}", node.label()))
    };
    let a_hs = hs_before(&trio.nodes[0])?;
    let c_hs = hs_before(&trio.nodes[2])?;
    let b_ips = trio.nodes[1].ip()?;

    trio.nodes[1].kill()?;
    trio.nodes[1].restart()?;
    ensure!(
        trio.nodes[1].node_id()? == ids[1],
        "B's node id changed across restart"
    );
    ensure!(
        trio.nodes[1].ip()? == b_ips,
        "B's overlay addresses changed across restart"
    );

    trio.nodes[1].wait_until("B to reconnect to A and C", MESH_TIMEOUT, |s| {
        s.is_connected_to(&ids[0]) && s.is_connected_to(&ids[2])
    })?;
    for (idx, before) in [(0, a_hs), (2, c_hs)] {
        let node = &mut trio.nodes[idx];
        let what = format!(
            "{} to show B connected with a newer handshake",
            node.label()
        );
        let s = node.wait_until(&what, MESH_TIMEOUT, |s| {
            s.peer(&ids[1]).is_some_and(|p| {
                p.connected() && p.last_handshake_unix_ms().is_some_and(|t| t > before)
            })
        })?;
        let after = s.peer(&ids[1]).and_then(|p| p.last_handshake_unix_ms());
        println!(
            "{}: last handshake with B {before} -> {after:?}",
            node.label()
        );
    }
    ensure!(
        trio.nodes[0].pid() == a_pid && trio.nodes[2].pid() == c_pid,
        "A or C was restarted"
    );
    trio.nodes[0].ensure_running()?;
    trio.nodes[2].ensure_running()?;

    let c_ips = trio.nodes[2].ip()?;
    let (b_ns, c_ns) = (&**trio.nodes[1].ns(), &**trio.nodes[2].ns());
    let mut pairs = Vec::new();
    for v6 in [true, false] {
        let (to_c, to_b) = (overlay(&c_ips, v6), overlay(&b_ips, v6));
        pairs.push((format!("B -> C ({to_c}) after restart"), b_ns, to_c));
        pairs.push((format!("C -> B ({to_b}) after restart"), c_ns, to_b));
    }
    ping_all(&pairs)?;
    Ok(())
}

// Topology:
//
//              switch ns (br0)
//          +-------+-------+
//          |               |
//      ns a: eth0      ns b: eth0
//      198.51.100.1    198.51.100.2
//      A               B --peer A --network @FILE
/// `tessel down` and SIGINT (SIGTERM in most other tests) make `tessel up`
/// exit 0 and remove its interface, also while a session is up; afterwards
/// `tessel status` fails and `tessel ip` still answers.
#[test]
fn clean_shutdown() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::new(&key))?;
    // B reads the key from a file (`--network @FILE`).
    let key_dir = TempDir::new("tessel-key")?;
    let key_file = key_dir.path().join("network.key");
    std::fs::write(&key_file, format!("{key}\n"))?;
    let b_cfg = NodeConfig::new(&format!("@{}", key_file.display()))
        .peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_cfg)?;
    ensure!(
        a.ns().has_link(DEFAULT_INTERFACE)?,
        "A has no {DEFAULT_INTERFACE} while running"
    );
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;

    let a_ips = a.ip()?;
    b.down().context("stopping B with tessel down")?;
    a.stop_with(libc::SIGINT)
        .context("stopping A with SIGINT")?;
    let dir = a.state_dir().display().to_string();
    let out = tessel::run_once(
        Some(a.ns()),
        &["status", "--json", "--state-dir", &dir],
        Duration::from_secs(10),
    )?;
    ensure!(
        !out.status.success(),
        "`tessel status` succeeds although the node is stopped"
    );
    ensure!(
        a.ip()? == a_ips,
        "`tessel ip` without a running node disagrees"
    );
    Ok(())
}

// Topology:
//
//              switch ns (br0)
//          +-------+-------+
//          |               |
//      ns a: eth0      ns b: eth0
//      198.51.100.1    198.51.100.2
//      2001:db8:1::1   2001:db8:1::2
//      A (no --network) B runs the command that A gave
/// `tessel up` without `--network` starts a new private network, keeps its
/// key in the state dir (mode 0600) and gives the exact commands that
/// another machine runs to join, with one `--peer` per address of A's (not
/// loopback, link-local or the overlay's); its output is no terminal here,
/// so the key is in neither its output nor its log, only in `join.txt` in
/// the state dir (mode 0600), which the output names. The commands work,
/// and A keeps the same network when it restarts.
#[test]
fn up_without_a_key_starts_a_network_and_prints_the_join_command() -> Result<()> {
    let lan = Lan::new(&["a", "b"])?;
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::without_network())?;
    let printed = wait::poll("A to print the join command", WAIT, || {
        Ok(a.stdout()
            .lines()
            .find(|l| l.trim_start().starts_with("tessel up --network "))
            .map(str::to_owned))
    })?;
    let join_file = a.state_dir().join("join.txt");
    ensure!(
        a.stdout().contains(&join_file.display().to_string()),
        "the output does not name {}",
        join_file.display()
    );
    let mode = std::fs::metadata(&join_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "join.txt mode is {mode:o}");
    // The key goes into a file first, never onto a command line.
    let joined = std::fs::read_to_string(&join_file)?;
    let save = joined
        .lines()
        .find(|l| l.starts_with("(umask 077; printf"))
        .context("no line that saves the key in join.txt")?;
    let key = save
        .split('\'')
        .nth(3)
        .context("no quoted key in the line that saves it")?;
    ensure!(
        joined.lines().any(|l| l == printed.trim()),
        "join.txt and the output give different commands:\n{joined}\n{printed}"
    );
    ensure!(
        !a.log().contains(key),
        "the network key is in the output or the log"
    );
    let words: Vec<&str> = printed.split_whitespace().collect();
    ensure!(
        words.len() >= 6 && words[3] == "@tessel-network.key",
        "unexpected join command: {printed:?}"
    );
    let peers: Vec<&str> = words[4..]
        .chunks(2)
        .map(|w| match w {
            ["--peer", p] => Ok(*p),
            _ => anyhow::bail!("unexpected join command: {printed:?}"),
        })
        .collect::<Result<_>>()?;
    ensure!(
        peers.contains(&lan.host(0).v4_endpoint(DEFAULT_PORT).as_str())
            && peers.contains(&lan.host(0).v6_endpoint(DEFAULT_PORT).as_str())
            && peers.len() == 2,
        "the join command names {peers:?}, not A's two LAN addresses"
    );
    let key_file = a.state_dir().join("network.key");
    ensure!(
        std::fs::read_to_string(&key_file)?.trim() == key,
        "the key in join.txt is not the one kept in the state dir"
    );
    let mode = std::fs::metadata(&key_file)?.permissions().mode() & 0o777;
    ensure!(mode == 0o600, "network.key mode is {mode:o}");

    // What another machine does: run the commands.
    let mut config = NodeConfig::new(key);
    for p in &peers {
        config = config.peer(*p);
    }
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), config)?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    ping(b.ns(), a.ip()?.v6.into())?;

    // Restarted without --network, A stays in the same network.
    let network = a.status()?.network_id()?.to_owned();
    a.stop()?;
    a.restart()?;
    ensure!(
        a.status()?.network_id()? == network,
        "A started a different network on restart"
    );
    ensure!(
        !a.stdout().contains("Started a new private network"),
        "A announced a new network on restart"
    );
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    ping(a.ns(), b.ip()?.v6.into())?;
    Ok(())
}

/// Runs `tessel <args>` where it cannot disturb the host: in a scratch
/// namespace when root, else directly (these runs fail before touching the
/// network).
fn run_isolated(args: &[&str]) -> Result<(bool, String)> {
    let ns = if is_root() {
        Some(Netns::new("cli")?)
    } else {
        None
    };
    let out = tessel::run_once(ns.as_ref(), args, Duration::from_secs(15))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// A network key that is not even the right shape is refused with a
/// message about the network key.
#[test]
fn user_error_garbage_network_key() -> Result<()> {
    let state = TempDir::new("tessel-cli")?;
    let dir = state.path().display().to_string();
    let (ok, text) = run_isolated(&["up", "--network", "garbage", "--state-dir", &dir])?;
    ensure!(!ok, "`tessel up --network garbage` succeeded:\n{text}");
    ensure!(
        text.to_lowercase().contains("network key"),
        "message does not mention the network key:\n{text}"
    );
    Ok(())
}

/// A network key with one character changed is refused because of its
/// checksum.
#[test]
fn user_error_network_key_typo() -> Result<()> {
    let key = tessel::new_network_key()?;
    let mut chars: Vec<char> = key.chars().collect();
    let i = "tessel-net-".len() + 5;
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    let typo: String = chars.into_iter().collect();
    let state = TempDir::new("tessel-cli")?;
    let dir = state.path().display().to_string();
    let (ok, text) = run_isolated(&["up", "--network", &typo, "--state-dir", &dir])?;
    ensure!(!ok, "`tessel up` accepted a mistyped key:\n{text}");
    ensure!(
        text.to_lowercase().contains("checksum"),
        "message does not mention the checksum:\n{text}"
    );
    Ok(())
}

/// `tessel up` on a UDP port that is already taken exits non-zero with a
/// message about the port (and leaves no interface behind).
#[test]
fn user_error_port_in_use() -> Result<()> {
    let key = tessel::new_network_key()?;
    let ns = Netns::new("busy")?;
    let _holder = ns
        .run_inside(|| std::net::UdpSocket::bind(("::", DEFAULT_PORT)))?
        .context("binding the UDP port inside the namespace")?;
    let state = TempDir::new("tessel-cli")?;
    let dir = state.path().display().to_string();
    let out = tessel::run_once(
        Some(&ns),
        &["up", "--network", &key, "--state-dir", &dir],
        Duration::from_secs(15),
    )
    .context("`tessel up` on a busy port should exit by itself")?;
    let text = String::from_utf8_lossy(&out.stderr).to_lowercase();
    ensure!(
        !out.status.success(),
        "`tessel up` succeeded on a busy port:\n{text}"
    );
    ensure!(
        text.contains(&DEFAULT_PORT.to_string()) || text.contains("in use"),
        "message does not mention the port:\n{text}"
    );
    ensure!(
        !ns.has_link(DEFAULT_INTERFACE)?,
        "interface left behind after the failure"
    );
    Ok(())
}

// Topology: one host on a bridged LAN; the test holds the notify socket.
/// Under a service manager (`$NOTIFY_SOCKET`, as systemd's `Type=notify`
/// sets it), the node says READY=1 with a status line once it is up, and
/// STOPPING=1 when it stops.
#[test]
fn readiness_and_stopping_are_told_to_the_service_manager() -> Result<()> {
    use std::os::unix::net::UnixDatagram;
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let scratch = TempDir::new("tessel-notify")?;
    let path = scratch.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let config = NodeConfig::new(&key)
        .lan_discovery(false)
        .env("NOTIFY_SOCKET", path.display().to_string());
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), config)?;
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).context("no notification at start")?;
    let said = String::from_utf8_lossy(&buf[..n]).to_string();
    let ipv6 = a.ip()?.v6.to_string();
    ensure!(
        said.lines().any(|l| l == "READY=1") && said.contains(&ipv6),
        "at start: {said:?}"
    );
    a.down()?;
    let n = socket.recv(&mut buf).context("no notification at stop")?;
    let said = String::from_utf8_lossy(&buf[..n]).to_string();
    ensure!(said.lines().any(|l| l == "STOPPING=1"), "at stop: {said:?}");
    Ok(())
}

// Topology: one host on a bridged LAN, where 100.64.0.0/10 already leads to
// one end of a veth pair inside the namespace (as another VPN's route
// would lead to its interface).
/// A node whose overlay IPv4 range is already routed elsewhere says so in
/// its log, naming the route and `--ipv4-range`, and still comes up; with
/// another range it says nothing.
#[test]
fn an_overlay_range_routed_elsewhere_is_reported() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let ns = lan.host(0).ns.clone();
    ns.ip(&[
        "link",
        "add",
        "othervpn0",
        "type",
        "veth",
        "peer",
        "name",
        "othervpn1",
    ])?;
    ns.ip(&["link", "set", "othervpn0", "up"])?;
    ns.ip(&["link", "set", "othervpn1", "up"])?;
    ns.ip(&["route", "add", "100.64.0.0/10", "dev", "othervpn0"])?;
    let mut a = TesselNode::start("a", ns, NodeConfig::new(&key).lan_discovery(false))?;
    let log = a.log();
    ensure!(
        log.contains("already routed here")
            && log.contains("100.64.0.0/10 dev othervpn0")
            && log.contains("--ipv4-range"),
        "no warning about the route in the log"
    );
    a.stop()?;
    a.config_mut()
        .extra
        .extend(["--ipv4-range".to_owned(), "10.213.0.0/16".to_owned()]);
    a.restart()?;
    let log = a.log();
    let second = log.find("--- a run 2").map_or("", |i| &log[i..]);
    ensure!(
        second.contains("tessel is up") && !second.contains("already routed here"),
        "a warning with a range that no route overlaps:\n{second}"
    );
    Ok(())
}

// Topology: one host on a bridged LAN.
/// `--log-format json` writes one JSON object per log line (for
/// collectors): level, target and fields, the startup line included.
#[test]
fn json_logs_are_one_object_per_line() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a"])?;
    let config = NodeConfig::new(&key)
        .lan_discovery(false)
        .extra_args(["--log-format", "json"]);
    let a = TesselNode::start("a", lan.host(0).ns.clone(), config)?;
    let log = a.log();
    let mut up = false;
    for line in log
        .lines()
        .filter(|l| !l.starts_with("--- ") && !l.is_empty())
    {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
        ensure!(v["level"].is_string(), "no level: {line}");
        up |= v["fields"]["message"] == "tessel is up" && v["fields"]["ipv6"].is_string();
    }
    ensure!(
        up,
        "no JSON startup line with the node's address in:\n{log}"
    );
    Ok(())
}
