//! The SOCKS5 proxy over a loopback overlay: curl through it, a hand-written
//! client for CONNECT and UDP ASSOCIATE over IPv4 and IPv6, failures with
//! their reply codes, garbage clients, and the client limit.

// The proxies speak over loopback sockets here, so these tests run on the
// real clock; they measure only lower bounds (a wait is bounded to fail).
#![allow(clippy::disallowed_methods)]

mod proxy_support;

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    process::Command,
    time::{Duration, Instant},
};

use proxy_support::{
    blackhole, closed_port, echo_tcp, echo_udp, host_unreachable, read_to_close, spawn_guarded,
    split_echo, within, AbortOnDrop, Loopback, STEP,
};
use tessel_stack::proxy::{Socks5Config, Socks5Error, Socks5Server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
};

/// Starts a proxy on `listen` with `config`'s other settings.
async fn proxy(listen: &str, config: Socks5Config) -> (SocketAddr, AbortOnDrop) {
    let config = Socks5Config {
        listen: listen.parse().unwrap(),
        ..config
    };
    let server = Socks5Server::bind(config, Loopback).await.unwrap();
    let addr = server.local_addr();
    (addr, spawn_guarded(server.run()))
}

/// A proxy on 127.0.0.1 with short timeouts.
async fn quick_proxy() -> (SocketAddr, AbortOnDrop) {
    proxy(
        "127.0.0.1:0",
        Socks5Config {
            handshake_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(300),
            ..Socks5Config::default()
        },
    )
    .await
}

// A client written from RFC 1928, independent of the crate's wire module.

fn encode_addr(a: SocketAddr) -> Vec<u8> {
    let mut out = match a.ip() {
        IpAddr::V4(ip) => [&[1u8][..], &ip.octets()].concat(),
        IpAddr::V6(ip) => [&[4u8][..], &ip.octets()].concat(),
    };
    out.extend_from_slice(&a.port().to_be_bytes());
    out
}

/// Decodes an IPv4 or IPv6 address field; returns it and its length.
fn decode_addr(b: &[u8]) -> (SocketAddr, usize) {
    let (ip, len): (IpAddr, usize) = match b[0] {
        1 => (<[u8; 4]>::try_from(&b[1..5]).unwrap().into(), 4),
        4 => (<[u8; 16]>::try_from(&b[1..17]).unwrap().into(), 16),
        t => panic!("unexpected address type {t}"),
    };
    let port = u16::from_be_bytes([b[1 + len], b[2 + len]]);
    (SocketAddr::new(ip, port), 3 + len)
}

/// Connects to the proxy and negotiates "no authentication".
async fn negotiate(proxy: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(&[5, 1, 0]).await.unwrap();
    let mut choice = [0u8; 2];
    within(STEP, "method selection", s.read_exact(&mut choice))
        .await
        .unwrap();
    assert_eq!(choice, [5, 0]);
    s
}

/// Reads a reply; returns REP and BND.
async fn read_reply(s: &mut TcpStream) -> (u8, SocketAddr) {
    let mut head = [0u8; 4];
    within(STEP, "reply", s.read_exact(&mut head))
        .await
        .unwrap();
    assert_eq!(head[0], 5, "reply version");
    assert_eq!(head[2], 0, "reply reserved byte");
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        t => panic!("unexpected address type {t}"),
    };
    let mut b = vec![head[3]];
    b.resize(1 + rest, 0);
    within(STEP, "reply address", s.read_exact(&mut b[1..]))
        .await
        .unwrap();
    (head[1], decode_addr(&b).0)
}

/// Sends a request with an IP destination and reads the reply.
async fn request(s: &mut TcpStream, cmd: u8, to: SocketAddr) -> (u8, SocketAddr) {
    let mut req = vec![5, cmd, 0];
    req.extend_from_slice(&encode_addr(to));
    s.write_all(&req).await.unwrap();
    read_reply(s).await
}

fn run_curl(args: Vec<String>) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("http_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .expect("running curl (install it: apt-get install curl)")
}

/// A one-response-per-connection HTTP server; returns its address.
async fn http_server(addr: &str, body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    local
}

#[tokio::test]
async fn curl_fetches_through_the_proxy() {
    let v4 = http_server("127.0.0.1:0", "hello over socks, ipv4\n").await;
    let v6 = http_server("[::1]:0", "hello over socks, ipv6\n").await;
    let (proxy, _guard) = quick_proxy().await;
    let cases = [
        // curl sends the IPv4 address (ATYP 1).
        (
            "--socks5",
            format!("http://{v4}/"),
            Some("hello over socks, ipv4\n"),
        ),
        // curl sends the IPv6 address (ATYP 4).
        (
            "--socks5",
            format!("http://{v6}/"),
            Some("hello over socks, ipv6\n"),
        ),
        // curl resolves nothing and sends "127.0.0.1" as it is: accepted.
        (
            "--socks5-hostname",
            format!("http://{v4}/"),
            Some("hello over socks, ipv4\n"),
        ),
        // A real name: "address type not supported", curl fails.
        (
            "--socks5-hostname",
            format!("http://localhost:{}/", v4.port()),
            None,
        ),
    ];
    for (flag, url, want) in cases {
        let args = vec![flag.to_owned(), proxy.to_string(), url.clone()];
        let out = within(
            Duration::from_secs(12),
            "curl",
            tokio::task::spawn_blocking(move || run_curl(args)),
        )
        .await
        .unwrap();
        match want {
            Some(body) => {
                assert!(
                    out.status.success(),
                    "curl {flag} {url}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(String::from_utf8_lossy(&out.stdout), body);
            }
            None => {
                assert!(!out.status.success(), "curl {flag} {url} should fail");
                assert!(out.stdout.is_empty());
            }
        }
    }
}

#[tokio::test]
async fn connect_round_trips_over_ipv4_and_ipv6() {
    let echo4 = echo_tcp("127.0.0.1:0").await;
    let echo6 = echo_tcp("[::1]:0").await;
    let (proxy4, _g4) = quick_proxy().await;
    let (proxy6, _g6) = proxy("[::1]:0", Socks5Config::default()).await;
    for (proxy, echo) in [
        (proxy4, echo4),
        (proxy4, echo6),
        (proxy6, echo6),
        (proxy6, echo4),
    ] {
        let mut s = negotiate(proxy).await;
        // Data right behind the request must not be lost.
        let mut req = vec![5, 1, 0];
        req.extend_from_slice(&encode_addr(echo));
        req.extend_from_slice(b"early ");
        s.write_all(&req).await.unwrap();
        let (rep, bound) = read_reply(&mut s).await;
        assert_eq!(rep, 0, "CONNECT {echo} via {proxy}");
        // The bound address is the overlay connection's local end.
        assert_eq!(bound.ip(), echo.ip());
        assert_ne!(bound.port(), 0);
        s.write_all(b"and late").await.unwrap();
        s.shutdown().await.unwrap();
        let got = read_to_close(&mut s, STEP).await;
        assert_eq!(got, b"early and late");
    }
}

#[tokio::test]
async fn connect_failures_get_their_reply_codes() {
    let (proxy, _guard) = quick_proxy().await;
    let refused = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), closed_port().await);
    for (to, want) in [
        (refused, 5),
        (host_unreachable(80), 4),
        // Never answers: the 300 ms connect timeout gives "TTL expired".
        (blackhole(80), 6),
    ] {
        let mut s = negotiate(proxy).await;
        let (rep, _) = request(&mut s, 1, to).await;
        assert_eq!(rep, want, "CONNECT {to}");
        assert!(read_to_close(&mut s, STEP).await.is_empty());
    }
}

/// A SOCKS UDP datagram to or from `addr`.
fn udp_datagram(addr: SocketAddr, frag: u8, data: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, frag];
    d.extend_from_slice(&encode_addr(addr));
    d.extend_from_slice(data);
    d
}

/// Receives one datagram on `s` and splits the SOCKS header off.
async fn recv_socks_udp(s: &UdpSocket) -> (SocketAddr, Vec<u8>) {
    let mut buf = vec![0u8; 65_536];
    let n = within(STEP, "UDP reply", s.recv(&mut buf)).await.unwrap();
    assert_eq!(&buf[..3], &[0, 0, 0], "RSV and FRAG");
    let (from, len) = decode_addr(&buf[3..n]);
    (from, buf[3 + len..n].to_vec())
}

#[tokio::test]
async fn udp_associate_round_trips_over_ipv4_and_ipv6() {
    let echo4 = echo_udp("127.0.0.1:0").await;
    let echo6 = echo_udp("[::1]:0").await;
    let (proxy4, _g4) = quick_proxy().await;
    let (proxy6, _g6) = proxy("[::1]:0", Socks5Config::default()).await;
    for (proxy, client_ip) in [(proxy4, "127.0.0.1:0"), (proxy6, "[::1]:0")] {
        let mut control = negotiate(proxy).await;
        let (rep, relay) = request(&mut control, 3, "0.0.0.0:0".parse().unwrap()).await;
        assert_eq!(rep, 0);
        assert_eq!(
            relay.ip(),
            proxy.ip(),
            "the relay is where the client reached the proxy"
        );
        let client = UdpSocket::bind(client_ip).await.unwrap();
        client.connect(relay).await.unwrap();
        for echo in [echo4, echo6] {
            let payload = format!("ping {echo} via {proxy}");
            client
                .send(&udp_datagram(echo, 0, payload.as_bytes()))
                .await
                .unwrap();
            let (from, data) = recv_socks_udp(&client).await;
            assert_eq!(from, echo, "the header names the sender");
            let (seen, echoed) = split_echo(&data);
            assert_eq!(echoed, payload.as_bytes());
            assert_eq!(seen.ip(), echo.ip());
        }
        drop(control);
    }
}

#[tokio::test]
async fn udp_associate_drops_fragments_strangers_and_unknown_names() {
    let echo = echo_udp("127.0.0.1:0").await;
    let (proxy, _guard) = quick_proxy().await;
    let mut control = negotiate(proxy).await;
    let (rep, relay) = request(&mut control, 3, "0.0.0.0:0".parse().unwrap()).await;
    assert_eq!(rep, 0);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(relay).await.unwrap();
    client.send(&udp_datagram(echo, 0, b"first")).await.unwrap();
    assert_eq!(split_echo(&recv_socks_udp(&client).await.1).1, b"first");

    // Each of these would be echoed back to the client before "second" if relayed.
    client
        .send(&udp_datagram(echo, 1, b"fragment"))
        .await
        .unwrap();
    let mut named = vec![0, 0, 0, 3, 9];
    named.extend_from_slice(b"localhost");
    named.extend_from_slice(&echo.port().to_be_bytes());
    named.extend_from_slice(b"by name");
    client.send(&named).await.unwrap();
    client.send(&[0, 0, 0, 1, 127]).await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    stranger
        .send_to(&udp_datagram(echo, 0, b"stranger"), relay)
        .await
        .unwrap();
    // A literal IP address as a name is relayed.
    let mut literal = vec![0, 0, 0, 3, 9];
    literal.extend_from_slice(b"127.0.0.1");
    literal.extend_from_slice(&echo.port().to_be_bytes());
    literal.extend_from_slice(b"second");
    client.send(&literal).await.unwrap();
    let (from, data) = recv_socks_udp(&client).await;
    assert_eq!(from, echo);
    assert_eq!(split_echo(&data).1, b"second");
    drop(control);
}

#[tokio::test]
async fn udp_association_ends_with_the_control_connection() {
    let echo = echo_udp("127.0.0.1:0").await;
    let (proxy, _guard) = quick_proxy().await;
    let mut control = negotiate(proxy).await;
    let (_, relay) = request(&mut control, 3, "0.0.0.0:0".parse().unwrap()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(relay).await.unwrap();
    client.send(&udp_datagram(echo, 0, b"alive")).await.unwrap();
    recv_socks_udp(&client).await;
    drop(control);
    // Once the relay socket is closed, the kernel answers with "port
    // unreachable", which a connected socket reports as "connection refused".
    within(STEP, "relay socket closing", async {
        let mut buf = [0u8; 1500];
        loop {
            let _ = client.send(&udp_datagram(echo, 0, b"still there?")).await;
            match tokio::time::timeout(Duration::from_millis(200), client.recv(&mut buf)).await {
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
                _ => continue,
            }
        }
    })
    .await;
}

/// Connects, sends `bytes`, optionally half-closes, and returns what the
/// proxy sent before it closed, failing if it does not close within `limit`.
async fn garbage(proxy: SocketAddr, bytes: &[u8], half_close: bool, limit: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(bytes).await.unwrap();
    if half_close {
        s.shutdown().await.unwrap();
    }
    read_to_close(&mut s, limit).await
}

#[tokio::test]
async fn garbage_gets_errors_and_closed_connections() {
    let (proxy, _guard) = quick_proxy().await;
    let quick = Duration::from_millis(1500);
    let ok = [5u8, 0];
    let fail = |rep: u8| [5u8, rep, 0, 1, 0, 0, 0, 0, 0, 0];
    let req = |cmd: u8, atyp_and_addr: &[u8]| [&[5u8, 1, 0, 5, cmd, 0][..], atyp_and_addr].concat();
    let to = encode_addr("127.0.0.1:9".parse().unwrap());

    // Wrong version (a SOCKS4 CONNECT): no reply, closed.
    let socks4 = [4, 1, 0, 80, 127, 0, 0, 1, b'u', 0];
    assert!(garbage(proxy, &socks4, false, quick).await.is_empty());
    // HTTP instead of SOCKS.
    assert!(garbage(proxy, b"GET / HTTP/1.1\r\n\r\n", false, quick)
        .await
        .is_empty());
    // Only username/password offered: "no acceptable methods".
    assert_eq!(garbage(proxy, &[5, 1, 2], false, quick).await, [5, 0xff]);
    // No methods at all.
    assert_eq!(garbage(proxy, &[5, 0], false, quick).await, [5, 0xff]);
    // BIND: "command not supported".
    assert_eq!(
        garbage(proxy, &req(2, &to), false, quick).await,
        [&ok[..], &fail(7)].concat()
    );
    // An unknown command.
    assert_eq!(
        garbage(proxy, &req(9, &to), false, quick).await,
        [&ok[..], &fail(7)].concat()
    );
    // An unknown address type.
    assert_eq!(
        garbage(proxy, &req(1, &[7, 1, 2, 3, 4, 0, 80]), false, quick).await,
        [&ok[..], &fail(8)].concat()
    );
    // A name that is not an IP address.
    let name = [&[3u8, 11][..], b"example.com", &[0, 80]].concat();
    assert_eq!(
        garbage(proxy, &req(1, &name), false, quick).await,
        [&ok[..], &fail(8)].concat()
    );
    // A request with the wrong version: "general failure".
    let bad_version = [&[5u8, 1, 0, 4, 1, 0][..], &to].concat();
    assert_eq!(
        garbage(proxy, &bad_version, false, quick).await,
        [&ok[..], &fail(1)].concat()
    );
    // Truncated greeting and request, then end of stream: closed at once.
    assert!(garbage(proxy, &[5, 3, 0], true, quick).await.is_empty());
    assert_eq!(
        garbage(proxy, &[5, 1, 0, 5, 1, 0, 1, 127], true, quick).await,
        ok
    );
    // Truncated greeting, connection left open: closed by the 1 s handshake timeout.
    let start = Instant::now();
    assert!(garbage(proxy, &[5, 3, 0], false, Duration::from_secs(3))
        .await
        .is_empty());
    assert!(start.elapsed() >= Duration::from_millis(900));
    // Silence: closed by the handshake timeout too.
    assert!(garbage(proxy, &[], false, Duration::from_secs(3))
        .await
        .is_empty());

    // Random bytes (a fixed xorshift sequence): always closed within the
    // handshake timeout, with nothing or a SOCKS answer.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut clients = Vec::new();
    for i in 0..64 {
        let len = 1 + (i * 7) % 200;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        clients.push(tokio::spawn(async move {
            let got = garbage(proxy, &bytes, i % 2 == 0, Duration::from_secs(3)).await;
            assert!(got.is_empty() || got[0] == 5, "{bytes:?} got {got:?}");
        }));
    }
    for c in clients {
        c.await.unwrap();
    }

    // The proxy still serves.
    let echo = echo_tcp("127.0.0.1:0").await;
    let mut s = negotiate(proxy).await;
    assert_eq!(request(&mut s, 1, echo).await.0, 0);
}

#[tokio::test]
async fn clients_beyond_the_limit_are_closed() {
    let (proxy, _guard) = proxy(
        "127.0.0.1:0",
        Socks5Config {
            max_clients: 2,
            ..Socks5Config::default()
        },
    )
    .await;
    let first = negotiate(proxy).await;
    let _second = negotiate(proxy).await;
    // Well within the 10 s handshake timeout the two others still run into.
    assert!(garbage(proxy, &[5, 1, 0], false, Duration::from_secs(2))
        .await
        .is_empty());
    drop(first);
    // Once the first client is gone, a new one is served.
    within(STEP, "a slot to free up", async {
        loop {
            let mut s = TcpStream::connect(proxy).await.unwrap();
            if s.write_all(&[5, 1, 0]).await.is_err() {
                continue;
            }
            let mut choice = [0u8; 2];
            if s.read_exact(&mut choice).await.is_ok() {
                assert_eq!(choice, [5, 0]);
                return;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn non_loopback_listen_address_needs_permission() {
    let config = Socks5Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Socks5Config::default()
    };
    let err = Socks5Server::bind(config.clone(), Loopback)
        .await
        .unwrap_err();
    assert!(matches!(err, Socks5Error::NotLoopback(_)));
    assert!(
        err.to_string().contains("only on loopback addresses"),
        "{err}"
    );
    let allowed = Socks5Config {
        allow_non_loopback: true,
        ..config
    };
    Socks5Server::bind(allowed, Loopback).await.unwrap();
    // IPv6 loopback is loopback.
    let v6 = Socks5Config {
        listen: SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0),
        ..Socks5Config::default()
    };
    Socks5Server::bind(v6, Loopback).await.unwrap();
}

/// With credentials set, the proxy takes only username/password (RFC 1929):
/// curl with the right ones fetches through it, a hand-written client with
/// a wrong password gets status 1 and a closed connection, and one that
/// offers only "no authentication" gets "no acceptable methods".
#[tokio::test]
async fn credentials_are_required_when_set() {
    use tessel_stack::proxy::Credentials;
    let web = http_server("127.0.0.1:0", "behind a password\n").await;
    let (proxy, _guard) = proxy(
        "127.0.0.1:0",
        Socks5Config {
            handshake_timeout: Duration::from_secs(2),
            credentials: Some(Credentials::parse("alice:s3:cret").unwrap()),
            ..Socks5Config::default()
        },
    )
    .await;
    for (user, ok) in [("alice:s3:cret", true), ("alice:wrong", false)] {
        let args = vec![
            "--socks5".to_owned(),
            proxy.to_string(),
            "--proxy-user".to_owned(),
            user.to_owned(),
            format!("http://{web}/"),
        ];
        let out = within(
            Duration::from_secs(12),
            "curl",
            tokio::task::spawn_blocking(move || run_curl(args)),
        )
        .await
        .unwrap();
        assert_eq!(out.status.success(), ok, "curl as {user}");
        if ok {
            assert_eq!(String::from_utf8_lossy(&out.stdout), "behind a password\n");
        }
    }

    // By hand: a wrong password.
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(&[5, 1, 2]).await.unwrap();
    let mut choice = [0u8; 2];
    within(STEP, "method selection", s.read_exact(&mut choice))
        .await
        .unwrap();
    assert_eq!(choice, [5, 2]);
    s.write_all(b"\x01\x05alice\x05wrong").await.unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert_eq!(got, [1, 1]);

    // Only "no authentication" offered.
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(&[5, 1, 0]).await.unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert_eq!(got, [5, 0xff]);

    assert!(Credentials::parse("nocolon").is_err());
    assert!(Credentials::parse(":pass").is_err());
    assert!(format!("{:?}", Credentials::parse("u:secret").unwrap()).contains("u:"));
    assert!(!format!("{:?}", Credentials::parse("u:secret").unwrap()).contains("secret"));
}
