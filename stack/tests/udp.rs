//! UDP between two stacks wired back to back: datagrams both ways over IPv4
//! and IPv6, ephemeral ports, size limits, and ports freed on drop.

mod pair;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};

use pair::{b_addr, pair, wait_stats, within, A4, A6};

#[tokio::test(start_paused = true)]
async fn datagrams_go_both_ways_over_both_families() {
    let pair = pair();
    let server = pair.b.udp_bind(5353).await.expect("bind");
    let client = pair.a.udp_bind(0).await.expect("bind ephemeral");
    assert_eq!(server.local_port(), 5353);
    assert!(client.local_port() >= 49152, "{}", client.local_port());

    for (ipv6, ours) in [(true, IpAddr::from(A6)), (false, IpAddr::from(A4))] {
        let message = format!("hello over ipv6={ipv6}");
        let sent = client
            .send_to(message.as_bytes(), b_addr(ipv6, 5353))
            .await
            .expect("send");
        assert_eq!(sent, message.len());

        let mut buf = [0u8; 2048];
        let (n, from) = within("server receives", server.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..n], message.as_bytes());
        assert_eq!(from, SocketAddr::new(ours, client.local_port()));

        server.send_to(b"reply", from).await.expect("reply");
        let (n, from) = within("client receives", client.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..n], b"reply");
        assert_eq!(from, b_addr(ipv6, 5353));
    }
}

#[tokio::test(start_paused = true)]
async fn an_ipv4_mapped_destination_is_reached_over_ipv4() {
    let pair = pair();
    let server = pair.b.udp_bind(5357).await.expect("bind");
    let client = pair.a.udp_bind(0).await.expect("bind");
    let mapped: SocketAddr = "[::ffff:100.64.0.11]:5357".parse().expect("literal");
    client.send_to(b"mapped", mapped).await.expect("send");
    let mut buf = [0u8; 16];
    let (n, from) = within("recv", server.recv_from(&mut buf))
        .await
        .expect("recv");
    assert_eq!(&buf[..n], b"mapped");
    assert_eq!(from.ip(), IpAddr::from(A4));
}

#[tokio::test(start_paused = true)]
async fn the_largest_datagram_fits_and_a_larger_one_is_refused() {
    let pair = pair();
    let server = pair.b.udp_bind(5354).await.expect("bind");
    let client = pair.a.udp_bind(0).await.expect("bind");
    for (ipv6, max) in [(true, 1420 - 48), (false, 1420 - 28)] {
        let big = vec![0x42u8; max];
        client
            .send_to(&big, b_addr(ipv6, 5354))
            .await
            .expect("fits");
        let mut buf = vec![0u8; 2048];
        let (n, _) = within("recv", server.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(&buf[..n], big.as_slice());

        let err = client
            .send_to(&vec![0u8; max + 1], b_addr(ipv6, 5354))
            .await
            .expect_err("too large");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
    // A short buffer gets the start of the datagram.
    client
        .send_to(b"truncated", b_addr(true, 5354))
        .await
        .expect("send");
    let mut short = [0u8; 4];
    let (n, _) = within("recv", server.recv_from(&mut short))
        .await
        .expect("recv");
    assert_eq!(&short[..n], b"trun");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_socket_frees_its_port() {
    let pair = pair();
    let socket = pair.a.udp_bind(6000).await.expect("bind");
    let err = pair.a.udp_bind(6000).await.expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    // The counters are published at the end of the stack task's turn,
    // which may come after the bind's answer.
    wait_stats(&pair.a, "bound", |s| s.udp_sockets == 1).await;
    drop(socket);
    wait_stats(&pair.a, "unbound", |s| s.udp_sockets == 0).await;
    let again = pair.a.udp_bind(6000).await.expect("bind again");
    assert_eq!(again.local_port(), 6000);
}

#[tokio::test(start_paused = true)]
async fn datagrams_arrive_in_order_when_the_reader_keeps_up() {
    const WINDOWS: u32 = 20;
    const WINDOW: u32 = 100;
    let pair = pair();
    let server = pair.b.udp_bind(5355).await.expect("bind");
    let client = pair.a.udp_bind(0).await.expect("bind");
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let receive = async {
        let mut buf = [0u8; 16];
        let mut next = 0u32;
        while next < WINDOWS * WINDOW {
            let (n, _) = server.recv_from(&mut buf).await.expect("recv");
            let seq = u32::from_be_bytes(buf[..n].try_into().expect("4 bytes"));
            assert_eq!(seq, next, "lost or reordered");
            next += 1;
            if next.is_multiple_of(WINDOW) {
                done_tx.send(()).await.expect("sender waits");
            }
        }
    };
    let send = async {
        for window in 0..WINDOWS {
            for seq in window * WINDOW..(window + 1) * WINDOW {
                client
                    .send_to(&seq.to_be_bytes(), b_addr(seq % 2 == 0, 5355))
                    .await
                    .expect("send");
            }
            done_rx.recv().await.expect("window received");
        }
    };
    within("2000 datagrams", async { tokio::join!(receive, send) }).await;
    assert_eq!(pair.b.stats().dropped_udp, 0);
}

#[tokio::test(start_paused = true)]
async fn datagrams_beyond_the_queue_are_dropped_and_counted() {
    let pair = pair();
    let queue = pair.b.config().udp_queue as u32;
    let extra = 44;
    let server = pair.b.udp_bind(5356).await.expect("bind");
    let client = pair.a.udp_bind(0).await.expect("bind");
    let before = pair.b.stats().packets_in;
    for seq in 0..queue + extra {
        client
            .send_to(&seq.to_be_bytes(), b_addr(true, 5356))
            .await
            .expect("send");
    }
    let total = u64::from(queue + extra);
    let stats = wait_stats(&pair.b, "all datagrams taken in", |s| {
        s.packets_in - before >= total
    })
    .await;
    assert_eq!(stats.dropped_udp, u64::from(extra));
    let mut buf = [0u8; 16];
    for seq in 0..queue {
        let (n, _) = within("recv", server.recv_from(&mut buf))
            .await
            .expect("recv");
        assert_eq!(
            &buf[..n],
            &seq.to_be_bytes(),
            "the first ones are kept, in order"
        );
    }
}
