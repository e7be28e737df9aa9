//! A program that embeds a Tessel node: no TUN device, no root, no daemon.
//! It joins a network, opens a TCP connection over the overlay to a member's
//! HTTP server, prints the response and exits.
//!
//! ```text
//! cargo run -p tessel-overlay --example embedded -- \
//!     --network tessel-net-… --peer 198.51.100.1:9740 \
//!     --state-dir /tmp/embedded --get '[fd4d:…:e8e7]:8000' [--path /]
//! ```

// A program that embeds the node is its shell: it reads the clock.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tessel_overlay::driver::embed::{EmbedOptions, EmbeddedNode};
use tessel_overlay::identity::NetworkKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Args {
    network: NetworkKey,
    peers: Vec<SocketAddr>,
    state_dir: PathBuf,
    target: SocketAddr,
    path: String,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let (mut network, mut peers, mut state_dir, mut target, mut path) =
        (None, Vec::new(), None, None, "/".to_string());
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--network" => network = Some(NetworkKey::parse(&value).context("--network")?),
            "--peer" => peers.push(value.parse().context("--peer")?),
            "--state-dir" => state_dir = Some(PathBuf::from(value)),
            "--get" => target = Some(value.parse().context("--get")?),
            "--path" => path = value,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Args {
        network: network.context("--network is required")?,
        peers,
        state_dir: state_dir.context("--state-dir is required")?,
        target: target.context("--get is required")?,
        path,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = args()?;
    let node =
        EmbeddedNode::start(EmbedOptions::new(args.state_dir, args.network, args.peers)).await?;
    eprintln!(
        "embedded node {} at {} / {}",
        node.node_id(),
        node.ipv6(),
        node.ipv4()
    );

    // The first connection may have to wait for the node to meet the
    // network: retry until a deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match node.sockets().tcp_connect(args.target).await {
            Ok(s) => break s,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("connecting to {}: {e}; retrying", args.target);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e).context("connecting over the overlay"),
        }
    };
    let request = format!("GET {} HTTP/1.0\r\nHost: tessel\r\n\r\n", args.path);
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .context("reading the response timed out")??;
    print!("{}", String::from_utf8_lossy(&response));
    drop(stream);
    node.shutdown().await?;
    Ok(())
}
