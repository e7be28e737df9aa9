//! End-to-end tests of the userspace mode: `tessel up --userspace` (no TUN
//! device, no root) with its SOCKS5 proxy, `--forward` and `--expose`, and a
//! program that embeds a node (`overlay/examples/embedded.rs`), all talking
//! to ordinary TUN nodes in real network namespaces.
//!
//! Needs root (namespaces, veth, bridges, the TUN nodes), `curl`, `iperf3`,
//! `ping`, `python3` and `setpriv`, and the binaries under test:
//! `cargo build -p tessel-overlay --bin tessel --example embedded` builds
//! `tessel` and `examples/embedded` side by side in `target/debug/`; a test
//! build of the workspace (`cargo test --workspace` or
//! `cargo nextest run --workspace`) builds both too. `TESSEL_BIN` points at
//! another `tessel`; the example is then looked for in `examples/` next to it.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::process::{describe, run_bounded};
use tessel_netns::services::{curl, HttpServer, UdpEcho};
use tessel_netns::tessel::{self, DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp_via, ping_all, IPERF_PORT};
use tessel_netns::{wait, Lan, Netns, NodeConfig, OverlayIps, TempDir, TesselNode};

/// The unprivileged user and group that userspace nodes run as to show that
/// they need no root (`nobody`:`nogroup` on Debian).
const NOBODY: (u32, u32) = (65534, 65534);

/// Where the userspace nodes run their SOCKS5 proxy.
const SOCKS5: &str = "127.0.0.1:1080";

/// The port of the HTTP servers.
const HTTP_PORT: u16 = 8000;

/// How fast a connection to a closed port must fail: the refusal crosses
/// the overlay and back, which takes milliseconds.
const FAST_FAIL: Duration = Duration::from_secs(3);

/// A directory with one page, `/index.html`: 64 KiB of numbered lines that
/// name the test, so a truncated or mixed-up body cannot pass for it.
struct Site {
    dir: TempDir,
    body: Vec<u8>,
}

impl Site {
    fn new(name: &str) -> Result<Self> {
        let dir = TempDir::new(&format!("site-{name}"))?;
        let mut body = String::new();
        let mut n = 0;
        while body.len() < 64 * 1024 {
            body.push_str(&format!("line {n} of the page of {name}\n"));
            n += 1;
        }
        std::fs::write(dir.path().join("index.html"), &body)?;
        Ok(Self {
            dir,
            body: body.into_bytes(),
        })
    }

    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Fails unless `got` is the page, byte for byte.
    fn check(&self, got: &[u8], how: &str) -> Result<()> {
        if got == self.body.as_slice() {
            return Ok(());
        }
        let at = got
            .iter()
            .zip(&self.body)
            .position(|(x, y)| x != y)
            .unwrap_or(got.len().min(self.body.len()));
        bail!(
            "{how}: got {} bytes, not the {}-byte page; they differ from byte {at}: {:?}",
            got.len(),
            self.body.len(),
            String::from_utf8_lossy(&got[at..got.len().min(at + 120)])
        );
    }
}

fn sock(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

/// Starts TUN node A on host 0; returns it with its overlay addresses, which
/// B's forwards need before B starts.
fn start_tun_a(lan: &Lan, key: &str) -> Result<(TesselNode, OverlayIps)> {
    let a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::new(key))?;
    let ips = a.ip()?;
    Ok((a, ips))
}

/// Starts userspace node B (`b_config`) on host 1 with A as `--peer`, and
/// waits until A and B are connected.
fn join_userspace_b(
    lan: &Lan,
    mut a: TesselNode,
    b_config: NodeConfig,
) -> Result<(TesselNode, TesselNode)> {
    ensure!(b_config.userspace, "B must be a userspace node");
    let b_config = b_config.peer(lan.host(0).v4_endpoint(DEFAULT_PORT));
    let mut b = TesselNode::start("b", lan.host(1).ns.clone(), b_config)?;
    wait_full_mesh(&mut [&mut a, &mut b], MESH_TIMEOUT)?;
    Ok((a, b))
}

/// The real and effective user IDs of a running process.
fn uids(pid: u32) -> Result<(u32, u32)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .context("no Uid line")?;
    let ids: Vec<u32> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    ensure!(ids.len() >= 2, "unexpected {line:?}");
    Ok((ids[0], ids[1]))
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns b: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          B: --userspace --socks5 127.0.0.1:1080
//        http.server on            as nobody (uid 65534), --peer A
//        [A6]:8000, A4:8000        curl --socks5 127.0.0.1:1080
//
//  curl in b --SOCKS5--> B's proxy --userspace stack--> overlay --> A
/// curl through a userspace node's SOCKS5 proxy fetches a page from an HTTP
/// server bound to a TUN node's overlay address, over IPv6 and IPv4; the
/// userspace node runs as an unprivileged user.
#[test]
fn socks5_proxy_fetches_from_a_tun_node_over_both_families() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let b_config = NodeConfig::new(&key)
        .socks5(SOCKS5)
        .run_as(NOBODY.0, NOBODY.1);
    let (a, a_ips) = start_tun_a(&lan, &key)?;
    let (a, b) = join_userspace_b(&lan, a, b_config)?;
    let pid = b.pid().context("B is not running")?;
    ensure!(
        uids(pid)? == (NOBODY.0, NOBODY.0),
        "B (PID {pid}) does not run as uid {}: {:?}",
        NOBODY.0,
        uids(pid)?
    );
    ensure!(
        b.ns().tun_links()?.is_empty(),
        "userspace node B made a TUN device"
    );

    let site = Site::new("a")?;
    let logs = TempDir::new("userspace-socks5")?;
    for ip in [IpAddr::from(a_ips.v6), a_ips.v4.into()] {
        let server = HttpServer::start(a.ns(), sock(ip, HTTP_PORT), &site.root(), logs.path())?;
        let url = server.url("/index.html");
        let run = curl(b.ns(), &["--socks5", SOCKS5, &url])?;
        run.ensure_ok()
            .with_context(|| format!("curl --socks5 {SOCKS5} {url} in b"))?;
        site.check(&run.body, &format!("{url} through SOCKS5"))?;
        println!("{url} through B's SOCKS5 proxy: {:?}", run.elapsed);
        server.stop()?;
    }
    Ok(())
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns b: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          B: --userspace, --peer A
//        curl http://[B6]:80/        --expose tcp:80=127.0.0.1:8000
//        curl http://B4:80/        http.server on 127.0.0.1:8000
//
//  curl in a --> tessel0 --> overlay --> B's stack, port 80 --> 127.0.0.1:8000
/// A TUN node reaches a local HTTP server that a userspace node exposes on
/// its overlay port 80, at both of the userspace node's overlay addresses.
#[test]
fn tun_node_reaches_a_service_a_userspace_node_exposes() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let local = format!("127.0.0.1:{HTTP_PORT}");
    let b_config = NodeConfig::new(&key).expose(format!("tcp:80={local}"));
    let (a, _) = start_tun_a(&lan, &key)?;
    let (a, b) = join_userspace_b(&lan, a, b_config)?;

    let site = Site::new("b")?;
    let logs = TempDir::new("userspace-expose")?;
    let _server = HttpServer::start(b.ns(), local.parse()?, &site.root(), logs.path())?;
    let b_ips = b.ip()?;
    for ip in [IpAddr::from(b_ips.v6), b_ips.v4.into()] {
        let url = format!("http://{}/index.html", sock(ip, 80));
        let run = curl(a.ns(), &[&url])?;
        run.ensure_ok()
            .with_context(|| format!("curl {url} in a"))?;
        site.check(&run.body, &format!("{url} exposed by B"))?;
        println!("{url} from A: {:?}", run.elapsed);
    }
    Ok(())
}

/// Sends `count` distinct datagrams on `sock` to `to`, each until it comes
/// back, for at most `timeout` in all: a lost datagram is sent again, not a
/// failure.
fn udp_round_trips(
    sock: &UdpSocket,
    to: SocketAddr,
    count: usize,
    timeout: Duration,
) -> Result<()> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 2048];
    for i in 0..count {
        // From 1 byte up to the largest payload that fits the overlay MTU
        // toward an IPv4 address (1420 - 20 - 8).
        let len = [1, 100, 1200, 1392][i % 4];
        let payload: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
        let left = deadline.saturating_duration_since(Instant::now());
        wait::poll(&format!("echo of datagram {i} ({len} bytes)"), left, || {
            sock.send_to(&payload, to)?;
            loop {
                match sock.recv_from(&mut buf) {
                    Ok((n, _)) if buf[..n] == payload[..] => return Ok(Some(())),
                    Ok(_) => continue, // a late echo of an earlier try
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        return Ok(None)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        })?;
    }
    Ok(())
}

/// The port of the counting sink.
const SINK_PORT: u16 = 9000;

/// Where B's forward to the sink listens.
fn sink_local() -> SocketAddr {
    sock([127, 0, 0, 1], SINK_PORT)
}

/// FNV-1a, 64 bits, over everything fed to it.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn feed(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Sends `len` bytes of a pattern from `client` to `connect`, which must
/// lead to `bind` in `server`, where a sink reads to the end and answers
/// with the count and hash of what it got; fails unless they match what was
/// sent. Returns how long the transfer took.
fn counted_transfer(
    server: &Netns,
    bind: SocketAddr,
    client: &Netns,
    connect: SocketAddr,
    len: usize,
) -> Result<Duration> {
    let limit = Duration::from_secs(30);
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut sent = Fnv::new();
    sent.feed(&data);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let sink = s.spawn(move || {
            server.run_inside(move || -> Result<()> {
                let listener = TcpListener::bind(bind)?;
                listener.set_nonblocking(true)?;
                let _ = ready_tx.send(());
                let (mut conn, _) =
                    wait::poll("the sink's connection", limit, || match listener.accept() {
                        Ok(c) => Ok(Some(c)),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
                        Err(e) => Err(e.into()),
                    })?;
                conn.set_nonblocking(false)?;
                conn.set_read_timeout(Some(limit))?;
                let (mut n, mut hash, mut buf) = (0usize, Fnv::new(), vec![0u8; 1 << 16]);
                loop {
                    let got = conn.read(&mut buf)?;
                    if got == 0 {
                        break;
                    }
                    n += got;
                    hash.feed(&buf[..got]);
                }
                conn.write_all(format!("{n} {:x}\n", hash.0).as_bytes())?;
                Ok(())
            })?
        });
        ready_rx
            .recv_timeout(limit)
            .context("the sink did not start listening")?;
        let result = client.run_inside(|| -> Result<Duration> {
            let started = Instant::now();
            let mut c = TcpStream::connect_timeout(&connect, limit)?;
            c.set_write_timeout(Some(limit))?;
            c.set_read_timeout(Some(limit))?;
            c.write_all(&data)?;
            c.shutdown(std::net::Shutdown::Write)?;
            let mut reply = String::new();
            c.read_to_string(&mut reply)?;
            let took = started.elapsed();
            let expected = format!("{len} {:x}", sent.0);
            ensure!(
                reply.trim() == expected,
                "the sink got {:?}, expected {expected:?} (count, FNV-1a)",
                reply.trim()
            );
            Ok(took)
        })?;
        let sink = sink
            .join()
            .map_err(|_| anyhow::anyhow!("sink thread panicked"))?;
        // The client's error says more than the sink's, which follows from it.
        let took = result?;
        sink.context("the sink")?;
        Ok(took)
    })
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns b: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          B: --userspace, --peer A
//        iperf3 -s -B A6 (:5201)     --forward tcp:127.0.0.1:5201=[A6]:5201
//        UDP echo on A4:7007         --forward udp:127.0.0.1:5300=A4:7007
//        sink on [A6]:9000           --forward tcp:127.0.0.1:9000=[A6]:9000
//                                  iperf3 -c 127.0.0.1 -p 5201 [-R]
//                                  8 MiB to 127.0.0.1:9000, counted
//                                  datagrams to 127.0.0.1:5300
//
//  client in b --> B's forward --userspace stack--> overlay --> A's service
/// TCP and UDP forwards of a userspace node carry iperf3 both ways and a
/// counted 8 MiB (IPv6 targets), and UDP datagrams there and back (IPv4
/// target).
#[test]
fn forwards_carry_iperf3_both_ways_and_udp() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let (a, a_ips) = start_tun_a(&lan, &key)?;
    let a6 = IpAddr::from(a_ips.v6);
    let tcp_local = sock([127, 0, 0, 1], IPERF_PORT);
    let udp_local = sock([127, 0, 0, 1], 5300);
    let udp_target = sock(a_ips.v4, 7007);
    let b_config = NodeConfig::new(&key)
        .forward(format!("tcp:{tcp_local}={}", sock(a6, IPERF_PORT)))
        .forward(format!("udp:{udp_local}={udp_target}"))
        .forward(format!("tcp:{}={}", sink_local(), sock(a6, SINK_PORT)));
    let (a, mut b) = join_userspace_b(&lan, a, b_config)?;

    let logs = TempDir::new("userspace-forward")?;
    for reverse in [false, true] {
        let report = iperf_tcp_via(a.ns(), a6, b.ns(), tcp_local, "4M", reverse, logs.path())?;
        let summary: Vec<&str> = report
            .lines()
            .filter(|l| l.contains("sender") || l.contains("receiver"))
            .collect();
        println!(
            "iperf3 through B's forward (reverse: {reverse}):\n{}",
            summary.join("\n")
        );
    }
    // With -R, A sent 4 MB that B's stack received. (Without -R, iperf3
    // ends once the client queued its bytes in the local forward, and the
    // server stops reading: what had crossed by then may be a few segments.
    // The counted transfer below covers that direction.)
    let a_id = a.node_id()?;
    let s = b.wait_until(
        "B's counters to show A's 4 MB",
        Duration::from_secs(5),
        |s| {
            s.peer(&a_id)
                .and_then(|p| p.rx_bytes())
                .is_some_and(|n| n > 4_000_000)
        },
    )?;
    println!(
        "B's peer entry for A: {}",
        s.peer(&a_id).map(|p| p.0.clone()).unwrap_or_default()
    );

    // The forward direction gets a count of its own: 8 MiB through the
    // forward, counted and hashed by a sink on A's overlay address.
    let took = counted_transfer(a.ns(), sock(a6, SINK_PORT), b.ns(), sink_local(), 8 << 20)?;
    println!("8 MiB through B's forward to A's sink in {took:?}");

    let _echo = UdpEcho::start(a.ns(), udp_target, logs.path())?;
    b.ns()
        .run_inside(|| -> Result<()> {
            let s = UdpSocket::bind("127.0.0.1:0")?;
            udp_round_trips(&s, udp_local, 8, Duration::from_secs(15))
        })?
        .context("UDP through B's forward to A's echo")?;
    Ok(())
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns app: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          examples/embedded, as nobody:
//        http.server on              --peer 198.51.100.1:9740
//        [A6]:8000                   --get [A6]:8000 --path /index.html
//
//  The node lives inside the example's process: no daemon, no TUN, no root.
/// A program that embeds a node joins the network and fetches a page from
/// a TUN node's HTTP server over the overlay.
#[test]
fn embedded_program_fetches_from_a_tun_node() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "app"])?;
    let a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::new(&key))?;
    let a6 = a.ip()?.v6;
    let site = Site::new("a")?;
    let logs = TempDir::new("userspace-embedded")?;
    let server = HttpServer::start(a.ns(), sock(a6, HTTP_PORT), &site.root(), logs.path())?;

    let example = tessel::example_bin("embedded")?;
    let state = TempDir::new("embedded-state")?;
    std::os::unix::fs::chown(state.path(), Some(NOBODY.0), Some(NOBODY.1))?;
    let app = &lan.host(1).ns;
    let mut cmd = app.command_as(NOBODY.0, NOBODY.1, &example);
    cmd.arg("--network")
        .arg(&key)
        .arg("--peer")
        .arg(lan.host(0).v4_endpoint(DEFAULT_PORT))
        .arg("--state-dir")
        .arg(state.path())
        .arg("--get")
        .arg(server.addr().to_string())
        .args(["--path", "/index.html"]);
    cmd.env("RUST_LOG", "info");
    let started = Instant::now();
    // The example retries its connection for 20 s and bounds its read to
    // 20 s; allow for both.
    let out = run_bounded(cmd, Duration::from_secs(50))?;
    let elapsed = started.elapsed();
    let stdout = out.stdout;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(
        out.status.success(),
        "the embedded example failed ({}) after {elapsed:?}:\n{stderr}",
        describe(out.status)
    );
    let head_end = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers in the example's output")?;
    let head = String::from_utf8_lossy(&stdout[..head_end]);
    ensure!(head.starts_with("HTTP/1.0 200"), "the example got {head:?}");
    site.check(
        &stdout[head_end + 4..],
        "the page fetched by the embedded example",
    )?;
    println!("the embedded example fetched the page in {elapsed:?}");

    // It was a member: A knows its node and sent it the page.
    let id = stderr
        .split_whitespace()
        .find(|w| w.starts_with("tessel-node-"))
        .with_context(|| format!("the example printed no node ID:\n{stderr}"))?;
    let s = a.status()?;
    let p = s
        .peer(id)
        .with_context(|| format!("A does not list the embedded node {id}: {s}"))?;
    ensure!(
        p.tx_bytes().unwrap_or(0) > site.body.len() as u64,
        "A sent the embedded node less than the page: {}",
        p.0
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
//      A: tessel0 (TUN)   B: --userspace     C: tessel0 (TUN)
//                         --peer A           --peer A
//
//  B and C only know A; they must find each other through it.
/// TUN and userspace nodes form one network: each lists the others as
/// connected, and the userspace node's stack answers pings to both of its
/// overlay addresses from both TUN nodes.
#[test]
fn tun_and_userspace_nodes_form_one_network() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b", "c"])?;
    let a_ep = lan.host(0).v4_endpoint(DEFAULT_PORT);
    let mut a = TesselNode::start("a", lan.host(0).ns.clone(), NodeConfig::new(&key))?;
    let mut b = TesselNode::start(
        "b",
        lan.host(1).ns.clone(),
        NodeConfig::new(&key).userspace(true).peer(a_ep.clone()),
    )?;
    let mut c = TesselNode::start(
        "c",
        lan.host(2).ns.clone(),
        NodeConfig::new(&key).peer(a_ep),
    )?;
    wait_full_mesh(&mut [&mut a, &mut b, &mut c], MESH_TIMEOUT)?;

    let b_ips = b.ip()?;
    let b_status = b.status()?;
    b_status
        .check_shape()
        .with_context(|| format!("status of userspace node B: {b_status}"))?;
    ensure!(
        b_status.ipv6()? == b_ips.v6 && b_status.ipv4()? == b_ips.v4,
        "B's `tessel ip` ({b_ips:?}) disagrees with its status: {b_status}"
    );
    let b_id = b_status.node_id()?.to_owned();
    for tun in [&a, &c] {
        let s = tun.status()?;
        let p = s
            .peer(&b_id)
            .with_context(|| format!("{} does not list B: {s}", tun.label()))?;
        ensure!(
            p.connected() && p.ipv6()? == b_ips.v6,
            "{} lists B wrongly: {}",
            tun.label(),
            p.0
        );
        ensure!(
            tun.ns().has_link(DEFAULT_INTERFACE)?,
            "TUN node {} has no {DEFAULT_INTERFACE}",
            tun.label()
        );
    }
    ensure!(
        b.ns().tun_links()?.is_empty(),
        "userspace node B made a TUN device: {:?}",
        b.ns().tun_links()?
    );

    let mut pairs = Vec::new();
    for from in [&a, &c] {
        for to in [IpAddr::from(b_ips.v6), b_ips.v4.into()] {
            let label = format!("ping {} -> B ({to})", from.label());
            pairs.push((label, &**from.ns(), to));
        }
    }
    ping_all(&pairs)?;

    b.stop().context("stopping userspace node B")?;
    Ok(())
}

/// Connects to `to` from inside `ns`, sends `bytes`, and reads until the
/// other side closes; returns what came back and how long it took. Fails if
/// the connection is still open after `limit`.
fn send_and_wait_for_close(
    ns: &Netns,
    to: SocketAddr,
    bytes: &'static [u8],
    limit: Duration,
) -> Result<(Vec<u8>, Duration)> {
    ns.run_inside(move || -> Result<(Vec<u8>, Duration)> {
        let started = Instant::now();
        let mut s = TcpStream::connect_timeout(&to, limit)?;
        s.write_all(bytes)?;
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let left = limit.saturating_sub(started.elapsed());
            if left.is_zero() {
                bail!("{to} kept the connection open for {limit:?} after {bytes:?}");
            }
            s.set_read_timeout(Some(left))?;
            match s.read(&mut buf) {
                Ok(0) => return Ok((got, started.elapsed())),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Ok((got, started.elapsed()))
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e.into()),
            }
        }
    })?
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns b: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          B: --userspace, --peer A
//        http.server on              --socks5 127.0.0.1:1080
//        [A6]:8000                   --forward tcp:127.0.0.1:8081=[A6]:8001
//        nothing on :8001          garbage and dead ends from b
/// Bad input gets a prompt answer, never a hang: garbage sent to the SOCKS5
/// proxy gets its connection closed (and the proxy keeps serving others),
/// and a connection to a closed overlay port fails within 3 s (in practice
/// milliseconds), through the proxy and through a forward.
#[test]
fn bad_input_is_refused_promptly() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let (a, a_ips) = start_tun_a(&lan, &key)?;
    let closed = sock(a_ips.v6, HTTP_PORT + 1);
    let forward_local = sock([127, 0, 0, 1], 8081);
    let b_config = NodeConfig::new(&key)
        .socks5(SOCKS5)
        .forward(format!("tcp:{forward_local}={closed}"));
    let (a, b) = join_userspace_b(&lan, a, b_config)?;
    let site = Site::new("a")?;
    let logs = TempDir::new("userspace-bad-input")?;
    let server = HttpServer::start(a.ns(), sock(a_ips.v6, HTTP_PORT), &site.root(), logs.path())?;
    let proxy: SocketAddr = SOCKS5.parse()?;

    // Garbage instead of a greeting (wrong version: no reply, just closed);
    // a valid greeting, then a request with an unknown command (an error
    // reply, then closed).
    let limit = Duration::from_secs(5);
    let (got, took) = send_and_wait_for_close(b.ns(), proxy, b"garbage\r\n\r\n", limit)?;
    println!(
        "garbage greeting: {} bytes back, closed after {took:?}",
        got.len()
    );
    let bad_request: &[u8] = b"\x05\x01\x00\x05\x09\x00\x01\x7f\x00\x00\x01\x00\x50";
    let (got, took) = send_and_wait_for_close(b.ns(), proxy, bad_request, limit)?;
    println!("unknown command: {got:02x?} back, closed after {took:?}");
    ensure!(
        got.len() >= 4 && got[..2] == [0x05, 0x00] && got[2] == 0x05 && got[3] != 0x00,
        "expected \"no auth\" then an error reply to an unknown command, got {got:02x?}"
    );

    // The proxy still serves a well-behaved client.
    let run = curl(b.ns(), &["--socks5", SOCKS5, &server.url("/index.html")])?;
    run.ensure_ok()
        .context("curl through the proxy after the garbage")?;
    site.check(&run.body, "the page through the proxy after the garbage")?;

    // A closed port behind the proxy and behind a forward.
    let url = format!("http://{closed}/");
    let run = curl(b.ns(), &["--socks5", SOCKS5, &url])?;
    ensure!(
        !run.status.success(),
        "curl --socks5 to closed {closed} succeeded"
    );
    ensure!(
        run.elapsed < FAST_FAIL,
        "curl --socks5 to closed {closed} took {:?}: {}",
        run.elapsed,
        run.stderr.trim()
    );
    println!(
        "SOCKS5 to a closed port failed in {:?}: {}",
        run.elapsed,
        run.stderr.trim()
    );
    let url = format!("http://{forward_local}/");
    let run = curl(b.ns(), &[&url])?;
    ensure!(
        !run.status.success(),
        "curl {url} (forward to closed {closed}) succeeded"
    );
    ensure!(
        run.elapsed < FAST_FAIL,
        "curl {url} (forward to closed {closed}) took {:?}: {}",
        run.elapsed,
        run.stderr.trim()
    );
    println!(
        "forward to a closed port failed in {:?}: {}",
        run.elapsed,
        run.stderr.trim()
    );
    Ok(())
}

/// An address in the network's /48 that no member owns.
fn non_member(a6: Ipv6Addr) -> Ipv6Addr {
    let s = a6.segments();
    Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 1)
}

// Topology:
//
//                  switch ns (br0)
//            +------------+------------+
//            |                         |
//        ns a: eth0                ns b: eth0
//        198.51.100.1              198.51.100.2
//        A: tessel0 (TUN)          B: --userspace, --peer A
//                                    --forward tcp:127.0.0.1:8082=[P48::1]:80
//                                  (P48::1: in the network's /48, no member)
/// A forward to an overlay address that no member owns fails as fast as one
/// to a closed port: the node counts the packet as `no_route` and answers
/// with an ICMPv6 Destination Unreachable, which fails the stack's connect
/// at once.
#[test]
fn forward_to_a_non_member_fails_fast() -> Result<()> {
    let key = tessel::new_network_key()?;
    let lan = Lan::new(&["a", "b"])?;
    let (a, a_ips) = start_tun_a(&lan, &key)?;
    let nowhere = sock(non_member(a_ips.v6), 80);
    let forward_local = sock([127, 0, 0, 1], 8082);
    let b_config = NodeConfig::new(&key).forward(format!("tcp:{forward_local}={nowhere}"));
    let (_a, b) = join_userspace_b(&lan, a, b_config)?;
    let before = b.status()?.drops("no_route")?;
    let url = format!("http://{forward_local}/");
    let run = curl(b.ns(), &[&url])?;
    let after = b.status()?.drops("no_route")?;
    println!(
        "forward to non-member {nowhere}: {} after {:?} ({}); B's no_route drops {before} -> {after}",
        describe(run.status),
        run.elapsed,
        run.stderr.trim()
    );
    ensure!(
        !run.status.success(),
        "curl {url} to a non-member succeeded"
    );
    ensure!(
        run.elapsed < FAST_FAIL,
        "a forward to non-member {nowhere} took {:?} to fail (a closed port takes \
         milliseconds); B counted {} no_route drops meanwhile",
        run.elapsed,
        after - before
    );
    Ok(())
}
