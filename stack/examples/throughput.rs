//! Measures TCP throughput between two stacks wired back to back in one
//! process (no kernel, no encryption): the ceiling the userspace stack puts
//! on an overlay connection.
//!
//! ```sh
//! cargo run --release -p tessel-stack --example throughput [MIB] [ROUNDS]
//! ```
//!
//! Each round sends MIB mebibytes (default 1024) from A to B, then MIB each
//! way at once, over IPv6 with the default configuration (MTU 1420, 4 MiB
//! buffers), on a two-thread tokio runtime; it prints the rates and the
//! median over ROUNDS (default 3).

// A benchmark: it measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tessel_stack::{StackConfig, StackHandle, TcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const BLOCK: usize = 256 << 10;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args
        .next()
        .map_or(1024, |a| a.parse().expect("MIB: a number"));
    let rounds: usize = args
        .next()
        .map_or(3, |a| a.parse().expect("ROUNDS: a number"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (a, b) = wire();
        let listener = b.tcp_listen(5001).await.expect("listen");
        let to_b = SocketAddr::new(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb).into(), 5001);
        let (mut one_way, mut two_way) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let rate = one_direction(&a, &listener, to_b, mib << 20).await;
            println!("round {round}: A to B       {rate:6.2} Gbit/s");
            one_way.push(rate);
            let rate = both_directions(&a, &listener, to_b, mib << 20).await;
            println!("round {round}: each way     {rate:6.2} Gbit/s");
            two_way.push(rate);
        }
        println!(
            "median of {rounds}: A to B {:.2} Gbit/s; both ways at once {:.2} Gbit/s each",
            median(&mut one_way),
            median(&mut two_way)
        );
    });
}

/// Two running stacks whose links feed each other.
fn wire() -> (StackHandle, StackHandle) {
    let config_a = StackConfig::new(
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xa),
        Ipv4Addr::new(100, 64, 0, 10),
    );
    let config_b = StackConfig::new(
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb),
        Ipv4Addr::new(100, 64, 0, 11),
    );
    let (stack_a, a, link_a) = tessel_stack::new(config_a);
    let (stack_b, b, link_b) = tessel_stack::new(config_b);
    tokio::spawn(stack_a.run());
    tokio::spawn(stack_b.run());
    tokio::spawn(carry(link_a.to_node, link_b.from_node));
    tokio::spawn(carry(link_b.to_node, link_a.from_node));
    (a, b)
}

/// The node's part: every packet one stack sends goes to the other.
async fn carry(mut from: mpsc::Receiver<Vec<u8>>, to: mpsc::Sender<Vec<u8>>) {
    while let Some(packet) = from.recv().await {
        if to.send(packet).await.is_err() {
            return;
        }
    }
}

async fn connect(
    a: &StackHandle,
    listener: &tessel_stack::TcpListener,
    to: SocketAddr,
) -> (TcpStream, TcpStream) {
    let (client, server) = tokio::join!(a.tcp_connect(to), listener.accept());
    (client.expect("connect"), server.expect("accept").0)
}

async fn one_direction(
    a: &StackHandle,
    listener: &tessel_stack::TcpListener,
    to: SocketAddr,
    bytes: u64,
) -> f64 {
    let (client, server) = connect(a, listener, to).await;
    let started = Instant::now();
    let (_, received) = tokio::join!(send(client, bytes), receive(server));
    assert_eq!(received, bytes);
    gbits(bytes, started.elapsed())
}

async fn both_directions(
    a: &StackHandle,
    listener: &tessel_stack::TcpListener,
    to: SocketAddr,
    bytes: u64,
) -> f64 {
    let (client, server) = connect(a, listener, to).await;
    let (client_rx, client_tx) = tokio::io::split(client);
    let (server_rx, server_tx) = tokio::io::split(server);
    let started = Instant::now();
    let (_, there, _, back) = tokio::join!(
        send(client_tx, bytes),
        receive(server_rx),
        send(server_tx, bytes),
        receive(client_rx)
    );
    assert_eq!((there, back), (bytes, bytes));
    gbits(bytes, started.elapsed())
}

async fn send(mut writer: impl AsyncWriteExt + Unpin, bytes: u64) {
    let block = vec![0x5au8; BLOCK];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        writer.write_all(&block[..n]).await.expect("write");
        left -= n as u64;
    }
    writer.shutdown().await.expect("shutdown");
}

async fn receive(mut reader: impl AsyncReadExt + Unpin) -> u64 {
    let mut block = vec![0u8; BLOCK];
    let mut total = 0;
    loop {
        let n = reader.read(&mut block).await.expect("read");
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn gbits(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

fn median(rates: &mut [f64]) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}
