//! TCP and UDP forwards and exposes over a loopback overlay: data both ways,
//! per-client UDP mappings and their idle timeout, unreachable targets, limits.

// The proxies speak over loopback sockets here, so these tests run on the
// real clock; they measure only lower bounds (a wait is bounded to fail).
#![allow(clippy::disallowed_methods)]

mod proxy_support;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use proxy_support::{
    blackhole, closed_port, echo_tcp, echo_udp, host_unreachable, read_to_close, spawn_guarded,
    split_echo, within, AbortOnDrop, Loopback, STEP,
};
use tessel_stack::proxy::{Expose, ExposeSpec, Forward, ForwardOptions, ForwardSpec, Protocol};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream, UdpSocket},
};

fn quick() -> ForwardOptions {
    ForwardOptions {
        connect_timeout: Duration::from_millis(300),
        ..ForwardOptions::default()
    }
}

async fn forward(
    protocol: Protocol,
    remote: SocketAddr,
    options: ForwardOptions,
) -> (SocketAddr, AbortOnDrop) {
    let spec = ForwardSpec {
        protocol,
        local: "127.0.0.1:0".parse().unwrap(),
        remote,
    };
    let f = Forward::bind(spec, Loopback, options).await.unwrap();
    assert_eq!(f.spec(), &spec);
    let addr = f.local_addr();
    (addr, spawn_guarded(f.run()))
}

async fn expose(protocol: Protocol, local: SocketAddr) -> (SocketAddr, AbortOnDrop) {
    let spec = ExposeSpec {
        protocol,
        port: 0,
        local,
    };
    let e = Expose::bind(spec, Loopback, quick()).await.unwrap();
    assert_eq!(e.spec(), &spec);
    // The loopback overlay listens on 127.0.0.1.
    let addr = SocketAddr::from(([127, 0, 0, 1], e.overlay_port()));
    (addr, spawn_guarded(e.run()))
}

/// Sends `data` over a new connection to `addr`, half-closes and returns
/// everything received until the other side closes.
async fn tcp_round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&data).await.unwrap();
    s.shutdown().await.unwrap();
    read_to_close(&mut s, STEP).await
}

/// Checks that several concurrent connections through `addr` come back whole.
async fn check_tcp(addr: SocketAddr) {
    let rounds: Vec<_> = (0..4u8)
        .map(|i| {
            let data: Vec<u8> = (0..200_000u32).map(|j| (j as u8) ^ i).collect();
            tokio::spawn(async move {
                let got = tcp_round_trip(addr, data.clone()).await;
                assert!(got == data, "connection {i}: {} bytes back", got.len());
            })
        })
        .collect();
    for r in rounds {
        r.await.unwrap();
    }
}

#[tokio::test]
async fn tcp_forward_moves_data_both_ways() {
    for service in ["127.0.0.1:0", "[::1]:0"] {
        let peer_service = echo_tcp(service).await;
        let (local, _guard) = forward(Protocol::Tcp, peer_service, quick()).await;
        check_tcp(local).await;
    }
}

#[tokio::test]
async fn tcp_expose_moves_data_both_ways() {
    let local_service = echo_tcp("127.0.0.1:0").await;
    let (overlay_port, _guard) = expose(Protocol::Tcp, local_service).await;
    check_tcp(overlay_port).await;
}

/// Sends `data` from `client` to `to` and returns the echo server's view:
/// the source it saw and the data.
async fn udp_round_trip(client: &UdpSocket, to: SocketAddr, data: &[u8]) -> (SocketAddr, Vec<u8>) {
    client.send_to(data, to).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, from) = within(STEP, "UDP reply", client.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(from, to, "the reply comes from where the client sent to");
    let (seen, echoed) = split_echo(&buf[..n]);
    (seen, echoed.to_vec())
}

#[tokio::test]
async fn udp_forward_keeps_a_mapping_per_client() {
    let peer_service = echo_udp("127.0.0.1:0").await;
    let (local, _guard) = forward(Protocol::Udp, peer_service, quick()).await;
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a1, data) = udp_round_trip(&a, local, b"from a").await;
    assert_eq!(data, b"from a");
    let (b1, data) = udp_round_trip(&b, local, b"from b").await;
    assert_eq!(data, b"from b");
    assert_ne!(a1, b1, "each client has its own mapping");
    let (a2, data) = udp_round_trip(&a, local, &[7; 1400]).await;
    assert_eq!(data, [7; 1400]);
    assert_eq!(a1, a2, "a client keeps its mapping");
}

#[tokio::test]
async fn udp_forward_mapping_expires_when_idle() {
    let peer_service = echo_udp("127.0.0.1:0").await;
    let idle = Duration::from_millis(200);
    let options = ForwardOptions {
        udp_idle_timeout: idle,
        ..quick()
    };
    let (local, _guard) = forward(Protocol::Udp, peer_service, options).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (first, _) = udp_round_trip(&client, local, b"one").await;
    let (again, _) = udp_round_trip(&client, local, b"two").await;
    assert_eq!(first, again);
    // Silence for well over the idle timeout (and its sweep period) is the
    // condition under test.
    tokio::time::sleep(idle * 4).await;
    let (after, data) = udp_round_trip(&client, local, b"three").await;
    assert_eq!(data, b"three");
    assert_ne!(first, after, "an idle mapping is replaced by a new one");
}

#[tokio::test]
async fn udp_expose_moves_data_both_ways() {
    let local_service = echo_udp("127.0.0.1:0").await;
    let (overlay_port, _guard) = expose(Protocol::Udp, local_service).await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let other_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (seen, data) = udp_round_trip(&peer, overlay_port, b"hello service").await;
    assert_eq!(data, b"hello service");
    assert!(seen.ip().is_loopback());
    let (other_seen, _) = udp_round_trip(&other_peer, overlay_port, b"me too").await;
    assert_ne!(seen, other_seen);
}

#[tokio::test]
async fn unreachable_forward_target_closes_the_local_connection_promptly() {
    let refused = SocketAddr::new([127, 0, 0, 1].into(), closed_port().await);
    // Refused and unreachable: closed at once; never answering: closed after
    // the 300 ms connect timeout, not before. (On the real clock: only
    // the lower bound is measured, and STEP bounds every wait.)
    for target in [refused, host_unreachable(80), blackhole(80)] {
        let (local, _guard) = forward(Protocol::Tcp, target, quick()).await;
        let start = Instant::now();
        let mut s = TcpStream::connect(local).await.unwrap();
        let got = read_to_close(&mut s, STEP).await;
        assert!(got.is_empty(), "{target}");
        if target == blackhole(80) {
            assert!(start.elapsed() >= Duration::from_millis(250));
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let peer_service = echo_tcp("127.0.0.1:0").await;
    let options = ForwardOptions {
        max_connections: 1,
        ..quick()
    };
    let (local, _guard) = forward(Protocol::Tcp, peer_service, options).await;
    let mut held = TcpStream::connect(local).await.unwrap();
    held.write_all(b"x").await.unwrap();
    let mut x = [0u8; 1];
    within(
        STEP,
        "first connection",
        tokio::io::AsyncReadExt::read_exact(&mut held, &mut x),
    )
    .await
    .unwrap();
    let mut refused = TcpStream::connect(local).await.unwrap();
    assert!(read_to_close(&mut refused, Duration::from_secs(2))
        .await
        .is_empty());
    drop(held);
    within(STEP, "a slot to free up", async {
        loop {
            let mut s = TcpStream::connect(local).await.unwrap();
            if s.write_all(b"y").await.is_ok()
                && tokio::io::AsyncReadExt::read_exact(&mut s, &mut x)
                    .await
                    .is_ok()
            {
                return;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn specs_parse_and_bind_errors_name_the_spec() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let spec: ForwardSpec = format!("tcp:{}=100.64.0.7:80", taken.local_addr().unwrap())
        .parse()
        .unwrap();
    let err = Forward::bind(spec, Loopback, ForwardOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&spec.to_string()), "{err}");

    let spec: ExposeSpec = "udp:53=127.0.0.1:5353".parse().unwrap();
    assert_eq!(spec.protocol, Protocol::Udp);
    assert_eq!(spec.port, 53);
    let err = "udp:53=localhost:5353".parse::<ExposeSpec>().unwrap_err();
    assert!(
        err.to_string().contains("tcp:PORT=LOCAL_ADDR:PORT"),
        "{err}"
    );
}
