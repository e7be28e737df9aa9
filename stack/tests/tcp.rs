//! TCP between two stacks wired back to back: connect and accept over both
//! address families, bulk transfer both ways, many connections at once,
//! half-close, refused and unreachable peers, the listen backlog, and
//! sockets freed when streams are dropped.

// The tests read tokio's clock, paused: time advances only when every
// task waits for a timer, so no assertion depends on the machine's speed.
#![allow(clippy::disallowed_methods)]

mod pair;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use pair::{
    b_addr, config_a, config_b, expect_pattern, pair, pair_with, send_pattern, wait_stats, within,
    Wire, A4, A6, B4, B6, CHUNK,
};
use tessel_stack::{Error, TcpBuffers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(start_paused = true)]
async fn connect_and_accept_over_both_families() {
    let pair = pair();
    let listener = pair.b.tcp_listen(7000).await.expect("listen");
    assert_eq!(listener.local_port(), 7000);
    for ipv6 in [true, false] {
        let (client, server) = within("connect and accept", async {
            tokio::join!(pair.a.tcp_connect(b_addr(ipv6, 7000)), listener.accept())
        })
        .await;
        let mut client = client.expect("connect");
        let (mut server, peer) = server.expect("accept");
        let (ours, theirs) = if ipv6 {
            (A6.into(), B6.into())
        } else {
            (std::net::IpAddr::from(A4), std::net::IpAddr::from(B4))
        };
        assert_eq!(client.local_addr().ip(), ours);
        assert_eq!(client.peer_addr(), b_addr(ipv6, 7000));
        assert_eq!(server.local_addr(), b_addr(ipv6, 7000));
        assert_eq!(server.peer_addr(), client.local_addr());
        assert_eq!(peer, client.local_addr());
        assert_eq!(peer.ip(), ours);
        assert_ne!(peer.ip(), theirs);

        client.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        within("read", server.read_exact(&mut buf))
            .await
            .expect("read");
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").await.expect("write");
        within("read", client.read_exact(&mut buf))
            .await
            .expect("read");
        assert_eq!(&buf, b"pong");
    }
}

#[tokio::test(start_paused = true)]
async fn bulk_transfer_both_ways_at_once() {
    const CHUNKS: u64 = (64 << 20) / CHUNK as u64;
    let pair = pair();
    let listener = pair.b.tcp_listen(7001).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(true, 7001)), listener.accept())
    })
    .await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    let (client_rx, client_tx) = tokio::io::split(client);
    let (server_rx, server_tx) = tokio::io::split(server);
    let transfers = async {
        tokio::try_join!(
            send_pattern(client_tx, 1, CHUNKS),
            expect_pattern(server_rx, 1, CHUNKS),
            send_pattern(server_tx, 2, CHUNKS),
            expect_pattern(client_rx, 2, CHUNKS),
        )
    };
    within("64 MiB each way", transfers)
        .await
        .expect("transfer");
    let stats = pair.a.stats();
    assert_eq!(stats.dropped_inbound(), 0);
    assert!(stats.bytes_out > 64 << 20);
}

#[tokio::test(start_paused = true)]
async fn a_listener_and_a_connection_of_their_own_buffer_sizes_hold_only_those() {
    const CHUNKS: u64 = (4 << 20) / CHUNK as u64;
    let small = TcpBuffers {
        tcp: 64 << 10,
        stream: 16 << 10,
    };
    let cost = 2 * (small.tcp + small.stream);
    let pair = pair();
    let listener = pair.b.tcp_listen_with(7011, small).await.expect("listen");
    // The listener's idle sockets have the small buffers (the stack's
    // default would be 4 MiB a direction).
    let idle = pair.b.stats();
    assert!(idle.tcp_listening > 0);
    assert_eq!(idle.tcp_memory, idle.tcp_listening * cost);
    let (client, server) = within("connect", async {
        tokio::join!(
            pair.a.tcp_connect_with(b_addr(true, 7011), small),
            listener.accept()
        )
    })
    .await;
    let (client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    assert_eq!(pair.a.stats().tcp_memory, cost);
    // Small buffers still carry a transfer larger than they are, both ways.
    let (client_rx, client_tx) = tokio::io::split(client);
    let (server_rx, server_tx) = tokio::io::split(server);
    let transfers = async {
        tokio::try_join!(
            send_pattern(client_tx, 3, CHUNKS),
            expect_pattern(server_rx, 3, CHUNKS),
            send_pattern(server_tx, 4, CHUNKS),
            expect_pattern(client_rx, 4, CHUNKS),
        )
    };
    within("4 MiB each way", transfers).await.expect("transfer");
    // Sizes above the stack's own are held to them.
    let listener = pair
        .b
        .tcp_listen_with(
            7012,
            TcpBuffers {
                tcp: usize::MAX,
                stream: usize::MAX,
            },
        )
        .await
        .expect("listen");
    let config = config_b();
    let full = 2 * (config.tcp_buffer + config.stream_buffer);
    let stats = pair.b.stats();
    assert!(stats.tcp_memory <= stats.tcp_listening * full);
    drop(listener);
}

#[tokio::test(start_paused = true)]
async fn fifty_connections_at_once() {
    const CONNECTIONS: u64 = 50;
    const CHUNKS: u64 = 2;
    let pair = pair();
    let listener = pair.b.tcp_listen(7002).await.expect("listen");
    let server = async {
        let mut echoes = Vec::new();
        for _ in 0..CONNECTIONS {
            let (stream, _) = listener.accept().await.expect("accept");
            echoes.push(tokio::spawn(async move {
                let (mut rx, mut tx) = tokio::io::split(stream);
                tokio::io::copy(&mut rx, &mut tx).await.expect("echo");
                tx.shutdown().await.expect("shutdown");
            }));
        }
        for echo in echoes {
            echo.await.expect("echo task");
        }
    };
    let clients = async {
        let mut tasks = Vec::new();
        for seed in 0..CONNECTIONS {
            let handle = pair.a.clone();
            tasks.push(tokio::spawn(async move {
                let stream = handle
                    .tcp_connect(b_addr(seed % 2 == 0, 7002))
                    .await
                    .expect("connect");
                let (rx, tx) = tokio::io::split(stream);
                tokio::try_join!(
                    send_pattern(tx, seed, CHUNKS),
                    expect_pattern(rx, seed, CHUNKS)
                )
                .expect("echoed");
            }));
        }
        for task in tasks {
            task.await.expect("client task");
        }
    };
    within("fifty echoes", async { tokio::join!(server, clients) }).await;
    wait_stats(&pair.a, "client sockets freed", |s| s.tcp_connections == 0).await;
    wait_stats(&pair.b, "server sockets freed", |s| s.tcp_connections == 0).await;
}

#[tokio::test(start_paused = true)]
async fn a_reader_that_falls_behind_closes_the_window() {
    const CHUNKS: u64 = 64;
    // Small buffers: the writer can get at most about 160 KiB ahead.
    let small = |mut config: tessel_stack::StackConfig| {
        config.tcp_buffer = 64 << 10;
        config.stream_buffer = 16 << 10;
        config
    };
    let pair = pair_with(small(config_a()), small(config_b()), Wire::default());
    let listener = pair.b.tcp_listen(7008).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(true, 7008)), listener.accept())
    })
    .await;
    let (mut client, (server, _)) = (client.expect("connect"), server.expect("accept"));
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0usize);
    let writer = tokio::spawn(async move {
        for index in 0..CHUNKS {
            client.write_all(&pair::chunk(4, index)).await?;
            progress_tx.send_modify(|written| *written += CHUNK);
        }
        client.shutdown().await
    });
    // Nobody reads until the writer is well past one socket buffer: the
    // window has closed, and must reopen.
    within(
        "writer fills the buffers",
        progress.wait_for(|&w| w >= 128 << 10),
    )
    .await
    .expect("writer alive");
    within("everything arrives", expect_pattern(server, 4, CHUNKS))
        .await
        .expect("transfer");
    within("writer done", writer)
        .await
        .expect("task")
        .expect("writes");
}

#[tokio::test(start_paused = true)]
async fn half_close_lets_the_peer_answer() {
    let pair = pair();
    let listener = pair.b.tcp_listen(7003).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(false, 7003)), listener.accept())
    })
    .await;
    let (mut client, (mut server, _)) = (client.expect("connect"), server.expect("accept"));

    client.write_all(b"question").await.expect("write");
    client.shutdown().await.expect("shutdown");
    assert!(
        client.write_all(b"more").await.is_err(),
        "written after shutdown"
    );

    let mut question = Vec::new();
    within("read to EOF", server.read_to_end(&mut question))
        .await
        .expect("read");
    assert_eq!(question, b"question");

    server
        .write_all(b"answer")
        .await
        .expect("write after peer's FIN");
    server.shutdown().await.expect("shutdown");
    let mut answer = Vec::new();
    within("read answer", client.read_to_end(&mut answer))
        .await
        .expect("read");
    assert_eq!(answer, b"answer");

    // Both sides closed cleanly: the last ACK goes out and both sockets are
    // freed at once, without waiting for a retransmitted FIN (1 s).
    let closed = Instant::now();
    drop((client, server));
    wait_stats(&pair.a, "client freed", |s| s.tcp_connections == 0).await;
    wait_stats(&pair.b, "server freed", |s| s.tcp_connections == 0).await;
    assert!(
        closed.elapsed() < Duration::from_millis(500),
        "{:?}",
        closed.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_closed_port_is_refused_at_once() {
    let pair = pair();
    for ipv6 in [true, false] {
        let started = Instant::now();
        let err = within("refusal", pair.a.tcp_connect(b_addr(ipv6, 7999)))
            .await
            .expect_err("nobody listens");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }
    wait_stats(&pair.a, "attempt sockets freed", |s| s.tcp_connections == 0).await;
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_peer_times_out() {
    let mut config = config_a();
    config.connect_timeout = Duration::from_millis(800);
    let pair = pair_with(config, config_b(), Wire::default());
    // B drops packets for addresses that are not its own.
    let nobody: SocketAddr = "[fd00::99]:80".parse().expect("literal");
    let started = Instant::now();
    let err = within("timeout", pair.a.tcp_connect(nobody))
        .await
        .expect_err("nobody answers");
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    let detail = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
    assert!(
        matches!(detail, Some(Error::ConnectTimeout { .. })),
        "{err:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(800),
        "gave up early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    wait_stats(&pair.a, "attempt socket freed", |s| s.tcp_connections == 0).await;
    assert!(pair.b.stats().dropped_not_local > 0);
}

#[tokio::test(start_paused = true)]
async fn dropped_streams_free_their_sockets() {
    let pair = pair();
    let listener = pair.b.tcp_listen(7004).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(true, 7004)), listener.accept())
    })
    .await;
    let (mut client, (mut server, _)) = (client.expect("connect"), server.expect("accept"));
    wait_stats(&pair.a, "connected", |s| s.tcp_connections == 1).await;

    // Dropped without shutdown: what was written still arrives, then EOF.
    client.write_all(&[7u8; 100_000]).await.expect("write");
    drop(client);
    let mut received = Vec::new();
    within("read to EOF", server.read_to_end(&mut received))
        .await
        .expect("read");
    assert_eq!(received.len(), 100_000);
    drop(server);

    wait_stats(&pair.a, "client socket freed", |s| s.tcp_connections == 0).await;
    wait_stats(&pair.b, "server socket freed", |s| s.tcp_connections == 0).await;
    assert!(pair.b.stats().tcp_listening > 0);
    drop(listener);
    let b = wait_stats(&pair.b, "listener freed", |s| s.sockets() == 0).await;
    assert_eq!(b.tcp_listening, 0);
    assert_eq!(pair.a.stats().sockets(), 0);
    // The port is free again.
    let again = pair.b.tcp_listen(7004).await.expect("listen again");
    drop(again);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_stream_is_aborted_after_the_linger() {
    let mut config = config_a();
    config.close_linger = Duration::from_millis(300);
    let pair = pair_with(config, config_b(), Wire::default());
    let listener = pair.b.tcp_listen(7005).await.expect("listen");
    let (client, server) = within("connect", async {
        tokio::join!(pair.a.tcp_connect(b_addr(false, 7005)), listener.accept())
    })
    .await;
    let (client, (mut server, _)) = (client.expect("connect"), server.expect("accept"));
    drop(client);
    // B reads EOF but keeps its half open: A gives up after the linger.
    let mut rest = Vec::new();
    within("EOF", server.read_to_end(&mut rest))
        .await
        .expect("EOF");
    wait_stats(&pair.a, "aborted", |s| s.tcp_connections == 0).await;
    wait_stats(&pair.b, "reset", |s| s.tcp_connections == 0).await;
    let err = within("write after reset", async {
        loop {
            if let Err(err) = server.write_all(b"anyone?").await {
                return err;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_backlog_delays_but_does_not_refuse() {
    const CONNECTIONS: usize = 12;
    let mut config = config_b();
    config.listen_backlog = 4;
    let pair = pair_with(config_a(), config, Wire::default());
    let listener = pair.b.tcp_listen(7006).await.expect("listen");
    let mut attempts = Vec::new();
    for _ in 0..CONNECTIONS {
        let handle = pair.a.clone();
        attempts.push(tokio::spawn(async move {
            handle.tcp_connect(b_addr(true, 7006)).await
        }));
    }
    // Accept only once the attempts have filled the backlog.
    wait_stats(&pair.b, "SYNs beyond the backlog", |s| {
        s.dropped_backlog > 0
    })
    .await;
    let mut accepted = Vec::new();
    for _ in 0..CONNECTIONS {
        accepted.push(within("accept", listener.accept()).await.expect("accept"));
    }
    for attempt in attempts {
        within("connect", attempt)
            .await
            .expect("task")
            .expect("connected after a retry");
    }
    assert_eq!(accepted.len(), CONNECTIONS);
}

#[tokio::test(start_paused = true)]
async fn a_port_has_one_listener() {
    let pair = pair();
    let _listener = pair.b.tcp_listen(7007).await.expect("listen");
    let err = pair.b.tcp_listen(7007).await.expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let err = pair.b.tcp_listen(0).await.expect_err("port 0");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = pair
        .a
        .tcp_connect("[::]:80".parse().expect("literal"))
        .await
        .expect_err("unspecified");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(start_paused = true)]
async fn one_peer_cannot_pin_more_than_its_share_of_socket_memory() {
    const ATTEMPTS: usize = 40;
    let mut config = config_b();
    config.tcp_buffer = 256 << 10;
    config.stream_buffer = 64 << 10;
    config.memory_limit = 8 << 20;
    let (limit, full_socket) = (config.memory_limit, 2 * (256 << 10) + 2 * (64 << 10));
    let mut a = config_a();
    a.connect_timeout = Duration::from_secs(2);
    let pair = pair_with(a, config, Wire::default());
    let listener = pair.b.tcp_listen(7010).await.expect("listen");
    // One peer (A's IPv6 address) opens connection after connection, never
    // accepted, until one is refused for memory (its SYNs are dropped).
    let mut clients = Vec::new();
    for _ in 0..ATTEMPTS {
        match within("connect", pair.a.tcp_connect(b_addr(true, 7010))).await {
            Ok(client) => clients.push(client),
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
                break;
            }
        }
    }
    assert!(
        !clients.is_empty() && clients.len() < ATTEMPTS,
        "{} connected",
        clients.len()
    );
    let stats = pair.b.stats();
    assert!(stats.dropped_memory > 0, "{stats:?}");
    // Its share is half the budget; listening sockets not yet handshaking
    // belong to nobody.
    let idle_listeners = 4 * full_socket;
    assert!(
        stats.tcp_memory <= limit / 2 + full_socket + idle_listeners,
        "{} bytes held for one peer",
        stats.tcp_memory
    );
    let mut held = Vec::new();
    for _ in 0..clients.len() {
        held.push(within("accept", listener.accept()).await.expect("accept"));
    }

    // Another peer (A's IPv4 address) still connects and talks.
    let (client, server) = within("another peer connects", async {
        tokio::join!(pair.a.tcp_connect(b_addr(false, 7010)), listener.accept())
    })
    .await;
    let mut client = client.expect("connect");
    let (mut server, peer) = server.expect("accept");
    assert_eq!(peer.ip(), std::net::IpAddr::from(A4));
    client.write_all(b"hi").await.expect("write");
    let mut buf = [0u8; 2];
    within("read", server.read_exact(&mut buf))
        .await
        .expect("read");
    assert_eq!(&buf, b"hi");
    assert!(pair.b.stats().tcp_memory <= limit);

    // Everything dropped, on both sides: the budget is free again.
    drop((client, server, held, clients));
    wait_stats(&pair.b, "socket memory released", |s| {
        s.tcp_memory <= idle_listeners
    })
    .await;
}
