//! The TCP transport with real kernel NAT: a member behind a firewall that
//! drops all UDP joins over TCP and carries real traffic; a member whose UDP
//! works never uses TCP; garbage and floods on the TCP port are dropped
//! without harm; `--no-tcp` turns the transport off.
//!
//! ```text
//!                 Internet (core namespace, br0)
//!          _______________|___________________
//!         |                                   |
//!   R 198.51.100.1                   NAT 203.0.113.1: UDP blocked
//!   tessel up (UDP and TCP 9740)     (or a port-restricted cone, or none)
//!                                    lan0 198.18.1.1/24
//!                                             |
//!                                    B 198.18.1.2: tessel up --peer R
//! ```
//!
//! Needs root (namespaces, veth, bridges, nftables, TUN), `nft`, `ping`,
//! `iperf3`, `ss`, `bash` and the `tessel` binary (`cargo build -p
//! tessel-overlay --bin tessel`, or set `TESSEL_BIN`).

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use tessel_netns::lab::{Internet, NatKind, NatRouter};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::traffic::{iperf_tcp_via, ping_all, ping_stats, IPERF_PORT};
use tessel_netns::{wait, Netns, NodeConfig, Process, Status, TempDir, TesselNode};

/// Bound on B and R reaching each other (B dials TCP after 3 s alone).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Bound on the other waits (counters, closed connections).
const WAIT: Duration = Duration::from_secs(40);

/// Bytes of each TCP transfer over the overlay (iperf3 `-n`).
const TRANSFER: &str = "8M";
const TRANSFER_BYTES: u64 = 8 << 20;

/// How long a member whose UDP works is watched for TCP connections: more
/// than the 3 s a node waits without a session before it dials.
const NO_TCP_WINDOW: Duration = Duration::from_secs(5);

/// Connections a node keeps open at once from one address
/// (`MAX_ACCEPTED_PER_ADDRESS` in `overlay/src/node/tcp_policy.rs`; the
/// bound on all of them, 256, is the policy's unit tests' to check).
const MAX_PER_ADDRESS: usize = 8;

/// Connections opened at once by the flood: more than a node accepts.
const FLOOD: usize = 300;

/// R public, B behind a NAT of `kind` (or public) with `--peer R`.
struct Lab {
    r: TesselNode,
    b: TesselNode,
    r_endpoint: SocketAddr,
    /// The address R sees B's connections come from.
    b_public: IpAddr,
    _nat: Option<NatRouter>,
    _internet: Internet,
}

impl Lab {
    fn start(
        b_nat: Option<NatKind>,
        r_config: impl FnOnce(NodeConfig) -> NodeConfig,
    ) -> Result<Self> {
        let internet = Internet::new()?;
        let key = tessel::new_network_key()?;
        let r_host = internet.add_host("r")?;
        let r_endpoint = SocketAddr::new(r_host.ipv4.into(), DEFAULT_PORT);
        let r = TesselNode::start("r", r_host.ns.clone(), r_config(NodeConfig::new(&key)))?;
        let (b_ns, b_public, nat) = match b_nat {
            Some(kind) => {
                let nat = internet.add_nat("nat-b", kind)?;
                let host = nat.add_host("b")?;
                (host.ns, IpAddr::from(nat.wan_addr()), Some(nat))
            }
            None => {
                let host = internet.add_host("b")?;
                (host.ns, IpAddr::from(host.ipv4), None)
            }
        };
        let cfg = NodeConfig::new(&key).peer(r_endpoint.to_string());
        let b = TesselNode::start("b", b_ns, cfg)?;
        Ok(Self {
            r,
            b,
            r_endpoint,
            b_public,
            _nat: nat,
            _internet: internet,
        })
    }

    /// Waits until R and B list each other as connected.
    fn wait_connected(&mut self) -> Result<()> {
        let r_id = self.r.node_id()?;
        let b_id = self.b.node_id()?;
        self.b
            .wait_until("B to be connected to R", CONNECT_TIMEOUT, |s| {
                s.is_connected_to(&r_id)
            })?;
        self.r
            .wait_until("R to be connected to B", CONNECT_TIMEOUT, |s| {
                s.is_connected_to(&b_id)
            })?;
        Ok(())
    }

    /// Ping R <-> B both ways over both overlay families.
    fn ping_both_ways(&self) -> Result<()> {
        let (r_ips, b_ips) = (self.r.ip()?, self.b.ip()?);
        let (r_ns, b_ns) = (self.r.ns().as_ref(), self.b.ns().as_ref());
        ping_all(&[
            ("ping B -> R (IPv6)".to_owned(), b_ns, r_ips.v6.into()),
            ("ping B -> R (IPv4)".to_owned(), b_ns, r_ips.v4.into()),
            ("ping R -> B (IPv6)".to_owned(), r_ns, b_ips.v6.into()),
            ("ping R -> B (IPv4)".to_owned(), r_ns, b_ips.v4.into()),
        ])
    }

    /// iperf3 over the overlay, R serving on its overlay IPv6 address: B
    /// sends, or with `reverse` R sends. Returns the client's report.
    fn transfer(&self, reverse: bool) -> Result<String> {
        let r_v6: IpAddr = self.r.ip()?.v6.into();
        let logs = TempDir::new("tcp-iperf")?;
        iperf_tcp_via(
            self.r.ns(),
            r_v6,
            self.b.ns(),
            SocketAddr::new(r_v6, IPERF_PORT),
            TRANSFER,
            reverse,
            logs.path(),
        )
    }
}

/// The `tcp` object of a status.
fn tcp(s: &Status) -> &Value {
    &s.0["tcp"]
}

fn counter(s: &Status, name: &str) -> Result<u64> {
    tcp(s)["counters"][name]
        .as_u64()
        .with_context(|| format!("status has no tcp.counters.{name}: {}", tcp(s)))
}

fn connections(s: &Status) -> Vec<Value> {
    tcp(s)["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The one open connection with this direction, failing unless there is
/// exactly one.
fn only_connection(s: &Status, direction: &str) -> Result<Value> {
    let all: Vec<Value> = connections(s)
        .into_iter()
        .filter(|c| c["direction"] == direction)
        .collect();
    ensure!(
        all.len() == 1,
        "expected one {direction} TCP connection, status has {}",
        tcp(s)
    );
    Ok(all[0].clone())
}

fn field_u64(v: &Value, key: &str) -> Result<u64> {
    v[key].as_u64().with_context(|| format!("no {key} in {v}"))
}

/// The receiver's throughput line of an iperf3 client report.
fn receiver_line(report: &str) -> &str {
    report
        .lines()
        .find(|l| l.contains("receiver"))
        .unwrap_or("(no receiver line)")
        .trim()
}

/// TCP connections in `ns` to or from port 9740 that are established, as
/// `ss` lists them.
fn established_on_overlay_port(ns: &Netns) -> Result<Vec<String>> {
    let out = ns.exec_ok(&["ss", "-Htn", "state", "established"])?;
    let port = format!(":{DEFAULT_PORT}");
    Ok(out
        .lines()
        .filter(|l| l.split_whitespace().any(|f| f.ends_with(&port)))
        .map(str::to_owned)
        .collect())
}

/// Opens a TCP connection from `ns` to `to`, writes `bytes` (a bash
/// `printf` format) and reads until the far end closes; fails if the
/// connection cannot be opened, or stays open for longer than the command
/// timeout.
fn send_garbage(ns: &Netns, to: SocketAddr, bytes: &str) -> Result<()> {
    let script = format!(
        "exec 3<>/dev/tcp/{}/{} || exit 90; printf '{bytes}' >&3; cat <&3 >/dev/null; exit 0",
        to.ip(),
        to.port()
    );
    let out = ns.exec(&["bash", "-c", &script])?;
    ensure!(
        out.status.success(),
        "garbage {bytes:?} to {to}: could not connect ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// A member behind a firewall that drops all UDP, given only `--peer R`,
/// joins over TCP: both list the session, ping works both ways over both
/// overlay families, and TCP transfers both ways go through the TCP
/// connection (its byte counters cover them).
#[test]
fn udp_blocked_member_joins_over_tcp() -> Result<()> {
    let started = Instant::now();
    let mut lab = Lab::start(Some(NatKind::UdpBlocked), |c| c)?;
    lab.wait_connected()?;
    let connect_secs = started.elapsed().as_secs_f64();

    let b = lab.b.status()?;
    let dialed = only_connection(&b, "dialed")?;
    ensure!(
        dialed["remote"] == lab.r_endpoint.to_string(),
        "B's dialed connection goes to {}, not to R at {}",
        dialed["remote"],
        lab.r_endpoint
    );
    ensure!(counter(&b, "dials")? >= 1, "B never dialed: {}", tcp(&b));
    let r = lab.r.status()?;
    let accepted = only_connection(&r, "accepted")?;
    let from: SocketAddr = accepted["remote"]
        .as_str()
        .context("remote is not a string")?
        .parse()?;
    ensure!(
        from.ip() == lab.b_public,
        "R's connection comes from {from}, not from B's NAT {}",
        lab.b_public
    );

    lab.ping_both_ways()?;
    let up = lab
        .transfer(false)
        .context("TCP transfer B -> R over the overlay")?;
    let down = lab
        .transfer(true)
        .context("TCP transfer R -> B over the overlay")?;

    // Both transfers crossed the TCP connection: everything each side
    // received from the other came through it, and each way it carried at
    // least half a transfer (iperf3 stops counting once the sender has
    // written its bytes).
    for (node, other, direction) in [(&lab.b, &lab.r, "dialed"), (&lab.r, &lab.b, "accepted")] {
        let s = node.status()?;
        let conn = only_connection(&s, direction)?;
        let (tx, rx) = (field_u64(&conn, "tx_bytes")?, field_u64(&conn, "rx_bytes")?);
        let other_id = other.node_id()?;
        let peer = s
            .peer(&other_id)
            .context("the other member is not listed")?;
        let from_peer = peer.rx_bytes().unwrap_or(u64::MAX);
        ensure!(
            rx >= from_peer,
            "{} received {from_peer} bytes from {}, only {rx} over TCP: {conn}",
            node.label(),
            other.label()
        );
        ensure!(
            tx >= TRANSFER_BYTES / 2 && rx >= TRANSFER_BYTES / 2,
            "{}'s TCP connection carried {tx} bytes out and {rx} in, less than the \
             transfers: {conn}",
            node.label()
        );
    }
    let r = lab.r.status()?;
    ensure!(
        counter(&r, "closed_rejected")? + counter(&r, "closed_bad_frame")? == 0,
        "R closed a connection of B's for bad input: {}",
        tcp(&r)
    );
    println!(
        "TCP transport: B joined in {connect_secs:.1} s; B -> R {}; R -> B {}",
        receiver_line(&up),
        receiver_line(&down)
    );
    Ok(())
}

/// When the member it dialed restarts, the member behind the UDP-blocking
/// firewall dials again (with backoff), and its traffic, which the restarted
/// member cannot decrypt, makes it shake hands again (after 15 s without an
/// answer) over the new connection.
#[test]
fn udp_blocked_member_reconnects_after_a_restart() -> Result<()> {
    let mut lab = Lab::start(Some(NatKind::UdpBlocked), |c| c)?;
    lab.wait_connected()?;
    lab.ping_both_ways()?;
    lab.r.stop()?;
    let stopped = Instant::now();
    lab.r.restart()?;
    let (b_ns, r_v6) = (lab.b.ns().clone(), lab.r.ip()?.v6);
    wait::poll("a ping from B to reach R again", CONNECT_TIMEOUT, || {
        let s = ping_stats(&b_ns, r_v6.into(), 1, "1")?;
        Ok((s.received == 1).then_some(()))
    })?;
    lab.wait_connected()?;
    let back_secs = stopped.elapsed().as_secs_f64();
    lab.ping_both_ways()?;
    let b = lab.b.status()?;
    ensure!(
        counter(&b, "dials")? >= 2 && counter(&b, "closed_by_peer")? >= 1,
        "B did not lose and dial its connection again: {}",
        tcp(&b)
    );
    only_connection(&b, "dialed")?;
    println!("TCP transport: B back in touch {back_secs:.1} s after R stopped");
    Ok(())
}

/// Once the firewall lets UDP through again, the member's STUN check
/// reaches R over UDP, it closes its TCP connection, and the session
/// carries on over UDP.
#[test]
fn tcp_connection_is_closed_once_udp_works() -> Result<()> {
    let mut lab = Lab::start(Some(NatKind::UdpBlocked), |c| c)?;
    lab.wait_connected()?;
    lab.ping_both_ways()?;
    let nat = lab._nat.as_ref().context("B has a NAT")?;
    let rules = nat
        .ns()
        .exec_ok(&["nft", "-a", "list", "chain", "ip", "lab", "forward"])?;
    let handle = rules
        .lines()
        .find(|l| l.contains("l4proto udp") && l.contains("drop"))
        .and_then(|l| l.rsplit("# handle ").next())
        .map(str::trim)
        .with_context(|| format!("no UDP drop rule in {rules}"))?
        .to_owned();
    nat.ns().exec_ok(&[
        "nft", "delete", "rule", "ip", "lab", "forward", "handle", &handle,
    ])?;
    let unblocked = Instant::now();
    lab.b.wait_until(
        "B to close its TCP connection (STUN checks run every 30 s)",
        Duration::from_secs(90),
        |s| counter(s, "closed_udp_works").is_ok_and(|n| n == 1) && connections(s).is_empty(),
    )?;
    let closed_secs = unblocked.elapsed().as_secs_f64();
    // B's next datagram over UDP moves R's side of the session there.
    let (b_ns, r_v6) = (lab.b.ns().clone(), lab.r.ip()?.v6);
    wait::poll("a ping from B to reach R over UDP", WAIT, || {
        let s = ping_stats(&b_ns, r_v6.into(), 1, "1")?;
        Ok((s.received == 1).then_some(()))
    })?;
    lab.ping_both_ways()?;
    let r_id = lab.r.node_id()?;
    let b = lab.b.status()?;
    ensure!(
        b.is_connected_to(&r_id) && connections(&b).is_empty(),
        "B: {b}"
    );
    lab.r
        .wait_until("R to let go of B's connection", WAIT, |s| {
            connections(s).is_empty()
        })?;
    println!("TCP transport: B left TCP {closed_secs:.1} s after UDP was let through");
    Ok(())
}

/// A member whose UDP works (behind a port-restricted cone NAT) talks over
/// UDP and never opens a TCP connection, though both nodes run the
/// transport.
#[test]
fn member_with_working_udp_does_not_use_tcp() -> Result<()> {
    let mut lab = Lab::start(Some(NatKind::PortRestrictedCone), |c| c)?;
    lab.wait_connected()?;
    lab.ping_both_ways()?;
    lab.transfer(false)
        .context("TCP transfer B -> R over the overlay")?;

    // Long enough for B to have dialed (3 s without a session) had it
    // missed its UDP session.
    wait::holds_for(NO_TCP_WINDOW, || {
        for node in [&lab.b, &lab.r] {
            let s = node.status()?;
            ensure!(
                tcp(&s)["enabled"] == true && tcp(&s)["listen"].is_string(),
                "node {} does not run the TCP transport: {}",
                node.label(),
                tcp(&s)
            );
            ensure!(
                connections(&s).is_empty()
                    && counter(&s, "dials")? == 0
                    && counter(&s, "accepted")? == 0,
                "node {} used TCP although UDP works: {}",
                node.label(),
                tcp(&s)
            );
            let open = established_on_overlay_port(node.ns())?;
            ensure!(
                open.is_empty(),
                "node {} has TCP connections on port {DEFAULT_PORT}: {open:?}",
                node.label()
            );
        }
        Ok(())
    })?;
    Ok(())
}

/// Bytes that are not the protocol, sent to R's TCP port, close the
/// connection and are counted: a frame that is no datagram of the protocol,
/// an empty frame, an HTTP request (a frame that never completes). A flood
/// of connections is bounded. R keeps working for B all along.
#[test]
fn garbage_on_the_tcp_port_is_dropped_without_harm() -> Result<()> {
    let mut lab = Lab::start(None, |c| c)?;
    lab.wait_connected()?;
    let attacker = lab.b.ns().clone();
    let r = lab.r_endpoint;

    // 16 bytes of an unknown message type: the node drops it, R closes.
    send_garbage(&attacker, r, r"\x00\x10AAAAAAAAAAAAAAAA")?;
    // A frame announcing an empty datagram.
    send_garbage(&attacker, r, r"\x00\x00")?;
    // An HTTP request: its first two bytes announce an 18,245-byte frame
    // that never completes; R closes it for bringing no datagram in time.
    send_garbage(&attacker, r, r"GET / HTTP/1.0\r\n\r\n")?;
    let s = lab.r.status()?;
    for name in ["closed_rejected", "closed_bad_frame", "closed_silent"] {
        ensure!(
            counter(&s, name)? == 1,
            "R's tcp.counters.{name} is not 1 after the garbage: {}",
            tcp(&s)
        );
    }
    ensure!(
        s.drops("malformed")? >= 1,
        "R did not count the unknown message as malformed: {s}"
    );

    // A flood from one address: FLOOD connections held open at once; R
    // keeps 8 of them and closes the rest at once.
    let flood = format!(
        "for i in $(seq {FLOOD}); do exec {{fd}}<>/dev/tcp/{}/{} || exit 90; done; \
         echo open; exec sleep 600",
        r.ip(),
        r.port()
    );
    let logs = TempDir::new("tcp-flood")?;
    let mut cmd = attacker.command("bash");
    cmd.args(["-c", &flood]);
    let mut flooder = Process::spawn(cmd, "flood", logs.path())?;
    wait::poll("the flood's connections to open", WAIT, || {
        ensure!(
            flooder.try_status()?.is_none(),
            "the flood ended early: {}",
            flooder.stderr()
        );
        Ok(flooder.stdout().contains("open").then_some(()))
    })?;
    let s = lab
        .r
        .wait_until("R to refuse the connections beyond its bound", WAIT, |s| {
            counter(s, "refused_per_address").is_ok_and(|n| n as usize >= FLOOD - MAX_PER_ADDRESS)
        })?;
    ensure!(
        connections(&s).len() == MAX_PER_ADDRESS,
        "R holds {} connections during the flood, expected {MAX_PER_ADDRESS}",
        connections(&s).len()
    );
    flooder.kill()?;
    lab.r
        .wait_until("R to have no TCP connection left", WAIT, |s| {
            connections(s).is_empty()
        })?;

    lab.r.ensure_running()?;
    lab.ping_both_ways()?;
    let b_id = lab.b.node_id()?;
    ensure!(
        lab.r.status()?.is_connected_to(&b_id),
        "R lost its session with B"
    );
    Ok(())
}

/// `--no-tcp`: the node does not listen on its TCP port, and says so.
#[test]
fn no_tcp_turns_the_transport_off() -> Result<()> {
    let mut lab = Lab::start(None, |c| c.tcp(false))?;
    lab.wait_connected()?;
    let s = lab.r.status()?;
    ensure!(
        tcp(&s)["enabled"] == false && tcp(&s)["listen"].is_null(),
        "R runs the TCP transport despite --no-tcp: {}",
        tcp(&s)
    );
    let script = format!(
        "exec 3<>/dev/tcp/{}/{}",
        lab.r_endpoint.ip(),
        lab.r_endpoint.port()
    );
    let out = lab.b.ns().exec(&["bash", "-c", &script])?;
    ensure!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Connection refused"),
        "connecting to R's TCP port did not fail with `Connection refused`: {:?} {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let b = lab.b.status()?;
    ensure!(tcp(&b)["enabled"] == true, "B: {}", tcp(&b));
    Ok(())
}
