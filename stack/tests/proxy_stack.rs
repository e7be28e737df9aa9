//! The proxies over the real userspace stack: two stacks wired to each other
//! packet for packet; node B exposes local echo services on its overlay
//! ports, node A reaches them through its SOCKS5 proxy and a forward.

mod proxy_support;

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use proxy_support::{
    echo_tcp, echo_udp, read_to_close, spawn_guarded, split_echo, within, AbortOnDrop, STEP,
};
use tessel_stack::{
    proxy::{
        Expose, ExposeSpec, Forward, ForwardOptions, ForwardSpec, Protocol, Socks5Config,
        Socks5Server,
    },
    StackConfig, StackHandle,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

const A4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xa);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb);

/// Two stacks whose packets go straight to each other; the guards stop them.
fn two_stacks() -> (StackHandle, StackHandle, Vec<AbortOnDrop>) {
    let (stack_a, a, mut link_a) = tessel_stack::new(StackConfig::new(A6, A4));
    let (stack_b, b, mut link_b) = tessel_stack::new(StackConfig::new(B6, B4));
    let to_b = link_b.from_node.clone();
    let to_a = link_a.from_node.clone();
    let guards = vec![
        spawn_guarded(stack_a.run()),
        spawn_guarded(stack_b.run()),
        spawn_guarded(async move {
            while let Some(p) = link_a.to_node.recv().await {
                let _ = to_b.send(p).await;
            }
        }),
        spawn_guarded(async move {
            while let Some(p) = link_b.to_node.recv().await {
                let _ = to_a.send(p).await;
            }
        }),
    ];
    (a, b, guards)
}

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

fn encode_addr(a: SocketAddr) -> Vec<u8> {
    let mut out = match a {
        SocketAddr::V4(a) => [&[1u8][..], &a.ip().octets()].concat(),
        SocketAddr::V6(a) => [&[4u8][..], &a.ip().octets()].concat(),
    };
    out.extend_from_slice(&a.port().to_be_bytes());
    out
}

/// Sends a request; returns REP and the bound address.
async fn request(s: &mut TcpStream, cmd: u8, to: SocketAddr) -> (u8, SocketAddr) {
    s.write_all(&[&[5, cmd, 0][..], &encode_addr(to)].concat())
        .await
        .unwrap();
    let mut head = [0u8; 4];
    within(STEP, "reply", s.read_exact(&mut head))
        .await
        .unwrap();
    let mut rest = vec![0u8; if head[3] == 4 { 18 } else { 6 }];
    s.read_exact(&mut rest).await.unwrap();
    let port = u16::from_be_bytes([rest[rest.len() - 2], rest[rest.len() - 1]]);
    let ip: std::net::IpAddr = if head[3] == 4 {
        <[u8; 16]>::try_from(&rest[..16]).unwrap().into()
    } else {
        <[u8; 4]>::try_from(&rest[..4]).unwrap().into()
    };
    (head[1], SocketAddr::new(ip, port))
}

#[tokio::test]
async fn socks5_and_forwards_over_the_userspace_stack() {
    let (a, b, _stacks) = two_stacks();
    let options = ForwardOptions {
        connect_timeout: Duration::from_secs(3),
        ..ForwardOptions::default()
    };

    // Node B: overlay port 80 (TCP) and 53 (UDP) to local echo services.
    let tcp_service = echo_tcp("127.0.0.1:0").await;
    let udp_service = echo_udp("127.0.0.1:0").await;
    let mut guards = Vec::new();
    for (protocol, port, local) in [
        (Protocol::Tcp, 80, tcp_service),
        (Protocol::Udp, 53, udp_service),
    ] {
        let spec = ExposeSpec {
            protocol,
            port,
            local,
        };
        let e = Expose::bind(spec, b.clone(), options.clone())
            .await
            .unwrap();
        assert_eq!(e.overlay_port(), port);
        guards.push(spawn_guarded(e.run()));
    }

    // Node A: a SOCKS5 proxy.
    let config = Socks5Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        connect_timeout: Duration::from_secs(3),
        ..Socks5Config::default()
    };
    let server = Socks5Server::bind(config, a.clone()).await.unwrap();
    let proxy = server.local_addr();
    guards.push(spawn_guarded(server.run()));

    // CONNECT to B over IPv4 and IPv6.
    for (to, local_ip) in [
        (SocketAddr::from((B4, 80)), std::net::IpAddr::from(A4)),
        (SocketAddr::from((B6, 80)), A6.into()),
    ] {
        let mut s = negotiate(proxy).await;
        let (rep, bound) = request(&mut s, 1, to).await;
        assert_eq!(rep, 0, "CONNECT {to}");
        assert_eq!(bound.ip(), local_ip, "bound to A's overlay address");
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        s.write_all(&data).await.unwrap();
        s.shutdown().await.unwrap();
        assert!(read_to_close(&mut s, STEP).await == data, "echo via {to}");
    }

    // Nothing listens on port 81: "connection refused".
    let mut s = negotiate(proxy).await;
    assert_eq!(request(&mut s, 1, SocketAddr::from((B4, 81))).await.0, 5);

    // UDP ASSOCIATE to B's port 53.
    let mut control = negotiate(proxy).await;
    let (rep, relay) = request(&mut control, 3, "0.0.0.0:0".parse().unwrap()).await;
    assert_eq!(rep, 0);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(relay).await.unwrap();
    for to in [SocketAddr::from((B4, 53)), SocketAddr::from((B6, 53))] {
        let datagram = [&[0u8, 0, 0][..], &encode_addr(to), b"query"].concat();
        client.send(&datagram).await.unwrap();
        let mut buf = [0u8; 2048];
        let n = within(STEP, "UDP reply", client.recv(&mut buf))
            .await
            .unwrap();
        let header = [&[0u8, 0, 0][..], &encode_addr(to)].concat();
        assert_eq!(&buf[..header.len()], &header[..], "from {to}");
        assert_eq!(split_echo(&buf[header.len()..n]).1, b"query");
    }
    drop(control);

    // A forward from a local port on A to B's port 80.
    let spec = ForwardSpec {
        protocol: Protocol::Tcp,
        local: "127.0.0.1:0".parse().unwrap(),
        remote: SocketAddr::from((B4, 80)),
    };
    let f = Forward::bind(spec, a.clone(), options).await.unwrap();
    let local = f.local_addr();
    guards.push(spawn_guarded(f.run()));
    let mut s = TcpStream::connect(local).await.unwrap();
    s.write_all(b"through the forward").await.unwrap();
    s.shutdown().await.unwrap();
    assert_eq!(read_to_close(&mut s, STEP).await, b"through the forward");
}
