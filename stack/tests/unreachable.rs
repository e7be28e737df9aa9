//! ICMP and ICMPv6 Destination Unreachable: a connect to an address that no
//! member owns fails at once, over both families and through the SOCKS5
//! proxy; errors about other sockets, about established connections, and
//! malformed errors change nothing and are counted.
//!
//! Some tests wire two stacks whose wire answers packets for unowned
//! addresses as the node does; others play the node for one stack, to
//! answer its SYNs with hand-made errors.

// The tests read tokio's clock, paused: time advances only when every
// task waits for a timer, so no assertion depends on the machine's speed.
#![allow(clippy::disallowed_methods)]

mod pair;

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use pair::craft::{self, ACK, SYN};
use pair::{
    b_addr, config_a, config_b, pair, pair_with, wait_stats, within, Reporter, Unreachable, Wire,
    A4, A6, B6,
};
use tessel_stack::proxy::{Socks5Config, Socks5Server};
use tessel_stack::{Error, StackHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Well under the 10 s connect timeout, and under smoltcp's 1 s minimum
/// retransmission timeout: an error answered the first SYN.
const AT_ONCE: Duration = Duration::from_millis(500);

/// Another address that neither stack has.
const ELSEWHERE: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x98);
/// A member that has no part in a connection.
const STRANGER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x77);

/// An IPv6 and an IPv4 address that neither stack has.
fn unowned(ipv6: bool, port: u16) -> SocketAddr {
    let ip: IpAddr = if ipv6 {
        "fd00::99".parse().expect("literal")
    } else {
        "100.64.0.99".parse().expect("literal")
    };
    SocketAddr::new(ip, port)
}

/// Two stacks whose wire answers packets for unowned addresses.
fn answering_pair(unreachable: Unreachable) -> pair::Pair {
    let wire = Wire {
        unreachable: Some(unreachable),
        ..Wire::default()
    };
    pair_with(config_a(), config_b(), wire)
}

/// Connects to `to`, expecting failure of `kind` within [`AT_ONCE`].
async fn fails_at_once(handle: &StackHandle, to: SocketAddr, kind: ErrorKind) -> Error {
    let started = Instant::now();
    let err = within("connect", handle.tcp_connect(to))
        .await
        .expect_err("nobody owns the address");
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), kind, "{to}: {err}");
    assert!(elapsed < AT_ONCE, "{to}: took {elapsed:?}");
    err.get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .cloned()
        .expect("the stack's error inside")
}

#[tokio::test(start_paused = true)]
async fn connect_to_an_unowned_address_fails_at_once() {
    // The node's codes (ICMP 1, ICMPv6 0 or 3), from either source it may
    // use, and the other "host" codes.
    for (v4_code, v6_code, reporter) in [
        (1, 3, Reporter::Destination),
        (1, 0, Reporter::Node),
        (0, 1, Reporter::Destination),
        (13, 5, Reporter::Node),
    ] {
        let pair = answering_pair(Unreachable {
            v4_code,
            v6_code,
            reporter,
        });
        for ipv6 in [true, false] {
            let to = unowned(ipv6, 80);
            let detail = fails_at_once(&pair.a, to, ErrorKind::HostUnreachable).await;
            let expected_reporter = match (reporter, ipv6) {
                (Reporter::Destination, _) => to.ip(),
                (Reporter::Node, true) => A6.into(),
                (Reporter::Node, false) => A4.into(),
            };
            assert_eq!(
                detail,
                Error::HostUnreachable {
                    remote: to,
                    reporter: expected_reporter
                }
            );
        }
        let stats = wait_stats(&pair.a, "attempt sockets freed", |s| s.tcp_connections == 0).await;
        assert_eq!(stats.unreachable_failed_connects, 2, "{stats:?}");
        assert_eq!(stats.unreachable_ignored, 0, "{stats:?}");
        assert_eq!(stats.dropped_inbound(), 0, "{stats:?}");
        // No RST followed the SYN: one packet out per attempt.
        assert_eq!(stats.packets_out, 2, "{stats:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn many_attempts_fail_and_free_their_ports() {
    const ATTEMPTS: usize = 64;
    let pair = answering_pair(Unreachable::HOST);
    let listener = pair.b.tcp_listen(7200).await.expect("listen");
    let mut attempts = Vec::new();
    for index in 0..ATTEMPTS {
        let handle = pair.a.clone();
        attempts.push(tokio::spawn(async move {
            handle.tcp_connect(unowned(index % 2 == 0, 80)).await
        }));
    }
    for attempt in attempts {
        let err = within("attempt", attempt)
            .await
            .expect("task")
            .expect_err("unreachable");
        assert_eq!(err.kind(), ErrorKind::HostUnreachable, "{err}");
    }
    let stats = wait_stats(&pair.a, "freed", |s| s.tcp_connections == 0).await;
    assert_eq!(stats.unreachable_failed_connects, ATTEMPTS as u64);
    // The stack still connects where someone listens.
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(true, 7200)), listener.accept())
    })
    .await;
    client.expect("connect");
    server.expect("accept");
}

#[tokio::test(start_paused = true)]
async fn port_unreachable_is_refused() {
    for reporter in [Reporter::Destination, Reporter::Node] {
        let pair = answering_pair(Unreachable {
            v4_code: 3,
            v6_code: 4,
            reporter,
        });
        for ipv6 in [true, false] {
            let to = unowned(ipv6, 22);
            let detail = fails_at_once(&pair.a, to, ErrorKind::ConnectionRefused).await;
            assert_eq!(detail, Error::ConnectionRefused { remote: to });
        }
        wait_stats(&pair.a, "attempt sockets freed", |s| s.tcp_connections == 0).await;
    }
    // ICMP protocol unreachable too.
    let pair = answering_pair(Unreachable {
        v4_code: 2,
        ..Unreachable::HOST
    });
    fails_at_once(&pair.a, unowned(false, 22), ErrorKind::ConnectionRefused).await;
}

/// One stack, with the test as its node.
struct Solo {
    handle: StackHandle,
    to_node: mpsc::Receiver<Vec<u8>>,
    from_node: mpsc::Sender<Vec<u8>>,
}

impl Solo {
    fn new() -> Self {
        let (stack, handle, link) = tessel_stack::new(config_a());
        tokio::spawn(stack.run());
        Self {
            handle,
            to_node: link.to_node,
            from_node: link.from_node,
        }
    }

    /// Starts a connect to `to` and returns it with the SYN it sent.
    async fn connect(&mut self, to: SocketAddr) -> (JoinHandle<std::io::Result<()>>, Vec<u8>) {
        let handle = self.handle.clone();
        let attempt = tokio::spawn(async move { handle.tcp_connect(to).await.map(drop) });
        let syn = within("SYN", async {
            loop {
                let packet = self.to_node.recv().await.expect("stack running");
                if let Some((_, remote, flags)) = craft::tcp_of(&packet) {
                    if remote == to && flags & (SYN | ACK) == SYN {
                        return packet;
                    }
                }
            }
        })
        .await;
        (attempt, syn)
    }

    async fn deliver(&self, packet: Vec<u8>) {
        self.from_node.send(packet).await.expect("stack running");
    }
}

/// The quote of `syn` with bytes `at` replaced by `with`.
fn altered(syn: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut quote = syn.to_vec();
    quote[at..at + with.len()].copy_from_slice(with);
    quote
}

#[tokio::test(start_paused = true)]
async fn errors_about_other_sockets_change_nothing() {
    let mut solo = Solo::new();
    let to6 = unowned(true, 80);
    let to4 = unowned(false, 80);
    let (attempt6, syn6) = solo.connect(to6).await;
    let (attempt4, syn4) = solo.connect(to4).await;
    let (local6, _, _) = craft::tcp_of(&syn6).expect("TCP");
    let (local4, _, _) = craft::tcp_of(&syn4).expect("TCP");
    // Ephemeral ports are handed out in turn: a neighbour of one attempt's
    // port may be the other's.
    let other_port = (1024u16..)
        .find(|&port| port != local6.port() && port != local4.port())
        .expect("a free port")
        .to_be_bytes();

    let ignored = [
        // Another local port.
        craft::unreachable(to6.ip(), A6.into(), 3, &altered(&syn6, 40, &other_port)),
        // Another remote port.
        craft::unreachable(to6.ip(), A6.into(), 3, &altered(&syn6, 42, &[0, 81])),
        // Another remote address (reported by it).
        craft::unreachable(
            ELSEWHERE.into(),
            A6.into(),
            3,
            &altered(&syn6, 24, &ELSEWHERE.octets()),
        ),
        // The same ports over UDP.
        craft::unreachable(to6.ip(), A6.into(), 3, &altered(&syn6, 6, &[17])),
        // Another local port, over IPv4.
        craft::unreachable(to4.ip(), A4.into(), 1, &altered(&syn4, 20, &other_port)),
        // Fragmentation needed is no reason to fail.
        craft::unreachable(to4.ip(), A4.into(), 4, &syn4),
    ];
    let count = ignored.len() as u64;
    for packet in ignored {
        solo.deliver(packet).await;
    }
    let stats = wait_stats(&solo.handle, "errors judged", |s| {
        s.unreachable_ignored == count
    })
    .await;
    assert_eq!(stats.unreachable_failed_connects, 0, "{stats:?}");
    assert_eq!(stats.dropped_inbound(), 0, "{stats:?}");
    assert_eq!(stats.tcp_connections, 2, "{stats:?}");
    assert!(!attempt6.is_finished() && !attempt4.is_finished());

    // The right one fails its attempt only.
    solo.deliver(craft::unreachable(to6.ip(), A6.into(), 3, &syn6))
        .await;
    let err = within("failed", attempt6)
        .await
        .expect("task")
        .expect_err("unreachable");
    assert_eq!(err.kind(), ErrorKind::HostUnreachable);
    let stats = wait_stats(&solo.handle, "socket freed", |s| s.tcp_connections == 1).await;
    assert_eq!(stats.unreachable_failed_connects, 1, "{stats:?}");
    assert!(!attempt4.is_finished());

    // Once more: nothing is connecting there any longer.
    solo.deliver(craft::unreachable(to6.ip(), A6.into(), 3, &syn6))
        .await;
    wait_stats(&solo.handle, "repeat ignored", |s| {
        s.unreachable_ignored == count + 1
    })
    .await;

    solo.deliver(craft::unreachable(to4.ip(), A4.into(), 3, &syn4))
        .await;
    let err = within("refused", attempt4)
        .await
        .expect("task")
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    wait_stats(&solo.handle, "all freed", |s| s.tcp_connections == 0).await;
}

#[tokio::test(start_paused = true)]
async fn malformed_errors_are_counted_and_ignored() {
    let mut solo = Solo::new();
    let to6 = unowned(true, 80);
    let to4 = unowned(false, 80);
    let (attempt6, syn6) = solo.connect(to6).await;
    let (attempt4, syn4) = solo.connect(to4).await;

    let mut bad_checksum = craft::unreachable(to6.ip(), A6.into(), 3, &syn6);
    *bad_checksum.last_mut().expect("quote") ^= 0xff;
    let mut short_ip = craft::unreachable(to4.ip(), A4.into(), 1, &syn4);
    short_ip.truncate(short_ip.len() - 4);
    let bad_icmp_errors = [
        // The IPv6 header and 4 bytes of TCP.
        craft::unreachable(to6.ip(), A6.into(), 3, &syn6[..44]),
        // The IPv4 header only.
        craft::unreachable(to4.ip(), A4.into(), 1, &syn4[..20]),
        // Nothing quoted.
        craft::unreachable(to4.ip(), A4.into(), 1, &[]),
        // A quote of a packet that is not from us.
        craft::unreachable(
            to6.ip(),
            A6.into(),
            3,
            &altered(&syn6, 8, &STRANGER.octets()),
        ),
        // From a third party.
        craft::unreachable(STRANGER.into(), A6.into(), 3, &syn6),
        // An IPv6 quote in an ICMP error.
        craft::unreachable(to4.ip(), A4.into(), 1, &syn6),
    ];
    let bad = bad_icmp_errors.len() as u64;
    for packet in bad_icmp_errors {
        solo.deliver(packet).await;
    }
    solo.deliver(bad_checksum).await;
    solo.deliver(short_ip).await;
    let stats = wait_stats(&solo.handle, "errors judged", |s| {
        s.dropped_icmp_error == bad && s.dropped_checksum == 1 && s.dropped_malformed == 1
    })
    .await;
    assert_eq!(stats.dropped_inbound(), bad + 2, "{stats:?}");
    assert_eq!(stats.unreachable_failed_connects, 0, "{stats:?}");
    assert_eq!(stats.unreachable_ignored, 0, "{stats:?}");
    assert_eq!(stats.tcp_connections, 2, "{stats:?}");
    assert!(!attempt6.is_finished() && !attempt4.is_finished());

    // Still listening for the real thing.
    solo.deliver(craft::unreachable(to6.ip(), A6.into(), 0, &syn6))
        .await;
    solo.deliver(craft::unreachable(to4.ip(), A4.into(), 1, &syn4))
        .await;
    for attempt in [attempt6, attempt4] {
        let err = within("failed", attempt)
            .await
            .expect("task")
            .expect_err("unreachable");
        assert_eq!(err.kind(), ErrorKind::HostUnreachable);
    }
    wait_stats(&solo.handle, "freed", |s| s.tcp_connections == 0).await;
}

#[tokio::test(start_paused = true)]
async fn established_connections_survive_an_error() {
    let pair = pair();
    let listener = pair.b.tcp_listen(7300).await.expect("listen");
    let mut sent = 0;
    for ipv6 in [true, false] {
        let (client, server) = within("connect", async {
            tokio::join!(pair.a.tcp_connect(b_addr(ipv6, 7300)), listener.accept())
        })
        .await;
        let (mut client, (mut server, _)) = (client.expect("connect"), server.expect("accept"));
        let quote = craft::tcp_segment(client.local_addr(), client.peer_addr(), ACK);
        let (host, port) = if ipv6 { (0, 4) } else { (1, 3) };
        for code in [host, port] {
            for reporter in [client.peer_addr().ip(), client.local_addr().ip()] {
                let error = craft::unreachable(reporter, client.local_addr().ip(), code, &quote);
                pair.into_a.send(error).await.expect("A running");
                sent += 1;
            }
        }
        let stats = wait_stats(&pair.a, "errors judged", |s| s.unreachable_ignored == sent).await;
        assert_eq!(stats.unreachable_failed_connects, 0, "{stats:?}");
        assert_eq!(stats.dropped_inbound(), 0, "{stats:?}");

        client.write_all(b"still there?").await.expect("write");
        let mut buf = [0u8; 12];
        within("read", server.read_exact(&mut buf))
            .await
            .expect("read");
        assert_eq!(&buf, b"still there?");
        server.write_all(b"yes").await.expect("write");
        let mut buf = [0u8; 3];
        within("read", client.read_exact(&mut buf))
            .await
            .expect("read");
        assert_eq!(&buf, b"yes");
    }
    // smoltcp still answers echo requests.
    within("ping", pair.a.ping(B6.into(), 32, Duration::from_secs(5)))
        .await
        .expect("echo reply");
}

/// SOCKS5 CONNECT through a proxy on `proxy` (no authentication); returns
/// the reply code.
async fn socks5_connect(proxy: SocketAddr, to: SocketAddr) -> u8 {
    let mut s = tokio::net::TcpStream::connect(proxy)
        .await
        .expect("proxy up");
    s.write_all(&[5, 1, 0]).await.expect("greeting");
    let mut choice = [0u8; 2];
    within("method", s.read_exact(&mut choice))
        .await
        .expect("method");
    assert_eq!(choice, [5, 0]);
    let mut request = vec![5, 1, 0];
    match to.ip() {
        IpAddr::V4(ip) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
    }
    request.extend_from_slice(&to.port().to_be_bytes());
    s.write_all(&request).await.expect("request");
    let mut head = [0u8; 2];
    within("reply", s.read_exact(&mut head))
        .await
        .expect("reply");
    assert_eq!(head[0], 5);
    head[1]
}

// On the real clock: the proxy's client speaks over loopback sockets, which a
// paused clock would not wait for. The reply code tells the answer from the
// connect timeout (which would give 0x06), so no time is measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_answers_unreachable_and_refused_at_once() {
    let port_unreachable = Unreachable {
        v4_code: 3,
        v6_code: 4,
        ..Unreachable::HOST
    };
    for (unreachable, expected) in [(Unreachable::HOST, 0x04), (port_unreachable, 0x05)] {
        let pair = answering_pair(unreachable);
        let config = Socks5Config {
            listen: "127.0.0.1:0".parse().expect("literal"),
            ..Socks5Config::default()
        };
        let server = Socks5Server::bind(config, pair.a.clone())
            .await
            .expect("bind");
        let proxy = server.local_addr();
        let task = tokio::spawn(server.run());
        for ipv6 in [true, false] {
            let to = unowned(ipv6, 80);
            let reply = socks5_connect(proxy, to).await;
            assert_eq!(reply, expected, "CONNECT {to}");
        }
        task.abort();
    }
}
