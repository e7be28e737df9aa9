//! `udp-probe`: a STUN-like UDP reflector and its client, for testing NATs.
//!
//! ```text
//! udp-probe reflect --bind ADDR:PORT [--bind ADDR:PORT]... [--lifetime-s S]
//! udp-probe client --bind ADDR:PORT [--wait-ms MS] SERVER[/I,J...]...
//! ```
//!
//! The reflector answers every request with the source address it saw (see
//! `tessel_netns::lab::probe_wire`), from the socket that received it or,
//! if asked, from its other sockets (indexes in `--bind` order). It prints
//! `ready` once every socket is bound, and exits after `--lifetime-s`
//! (default 600) or when killed.
//!
//! The client sends each query from one socket bound to `--bind`, in order,
//! resending until the answers it asked for arrived or `--wait-ms` (default
//! 600) passed, and prints one JSON line per query:
//! `{"server", "via", "local", "replies": [{"index", "from", "mapped"}]}`.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;
use tessel_netns::lab::probe_wire::{Ask, Seen};
use tessel_netns::lab::rng::Rng;

/// How often the client resends an unanswered request.
const RESEND: Duration = Duration::from_millis(200);

/// How often blocked reads wake up to check deadlines.
const READ_SLICE: Duration = Duration::from_millis(50);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((mode, rest)) if mode == "reflect" => reflect(rest),
        Some((mode, rest)) if mode == "client" => client(rest),
        _ => bail!("usage: udp-probe reflect --bind ADDR:PORT... | client --bind ADDR:PORT SERVER[/I,J]..."),
    }
}

fn reflect(args: &[String]) -> Result<()> {
    let mut binds = Vec::new();
    let mut lifetime = Duration::from_secs(600);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bind" => binds.push(value.parse::<SocketAddr>().context("--bind")?),
            "--lifetime-s" => {
                lifetime = Duration::from_secs(value.parse().context("--lifetime-s")?)
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    ensure!(!binds.is_empty(), "give at least one --bind");
    let sockets = binds
        .iter()
        .map(|b| {
            let s = UdpSocket::bind(b).with_context(|| format!("binding {b}"))?;
            s.set_read_timeout(Some(READ_SLICE))?;
            Ok(s)
        })
        .collect::<Result<Vec<_>>>()?;
    let sockets = Arc::new(sockets);
    println!("ready");
    std::io::stdout().flush()?;
    let deadline = Instant::now() + lifetime;
    std::thread::scope(|s| {
        for index in 0..sockets.len() {
            let sockets = Arc::clone(&sockets);
            s.spawn(move || serve(&sockets, index, deadline));
        }
    });
    Ok(())
}

/// Answers requests arriving on socket `index` until `deadline`.
fn serve(sockets: &[UdpSocket], index: usize, deadline: Instant) {
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let Ok((n, from)) = sockets[index].recv_from(&mut buf) else {
            continue;
        };
        let Some(ask) = Ask::decode(&buf[..n]) else {
            continue;
        };
        let via = if ask.via.is_empty() {
            vec![index]
        } else {
            ask.via
        };
        for i in via {
            let Some(sock) = sockets.get(i) else { continue };
            let seen = Seen {
                nonce: ask.nonce,
                index: i,
                mapped: from,
            };
            if let Err(e) = sock.send_to(&seen.encode(), from) {
                eprintln!("udp-probe: answering {from} from socket {i}: {e}");
            }
        }
    }
}

/// One query: a reflector socket and the sockets to answer from.
struct Query {
    server: SocketAddr,
    via: Vec<usize>,
}

fn parse_query(s: &str) -> Result<Query> {
    let (server, via) = match s.split_once('/') {
        Some((server, list)) => (
            server,
            list.split(',')
                .map(|i| i.parse().with_context(|| format!("index {i:?} in {s:?}")))
                .collect::<Result<Vec<usize>>>()?,
        ),
        None => (s, Vec::new()),
    };
    Ok(Query {
        server: server.parse().with_context(|| format!("query {s:?}"))?,
        via,
    })
}

fn client(args: &[String]) -> Result<()> {
    let mut bind = None;
    let mut wait = Duration::from_millis(600);
    let mut queries = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bind" => {
                bind = Some(
                    it.next()
                        .context("--bind needs a value")?
                        .parse::<SocketAddr>()?,
                )
            }
            "--wait-ms" => {
                wait = Duration::from_millis(it.next().context("--wait-ms needs a value")?.parse()?)
            }
            q => queries.push(parse_query(q)?),
        }
    }
    let bind = bind.context("give --bind ADDR:PORT")?;
    let socket = UdpSocket::bind(bind).with_context(|| format!("binding {bind}"))?;
    let local = socket.local_addr()?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ u64::from(std::process::id());
    let mut rng = Rng::new(seed);
    for q in &queries {
        let replies = ask(&socket, q, rng.next_u64(), wait)?;
        let line = json!({
            "server": q.server.to_string(),
            "via": q.via,
            "local": local.to_string(),
            "replies": replies
                .iter()
                .map(|(seen, from)| json!({
                    "index": seen.index,
                    "from": from.to_string(),
                    "mapped": seen.mapped.to_string(),
                }))
                .collect::<Vec<_>>(),
        });
        println!("{line}");
    }
    Ok(())
}

/// Sends `q` until every answer asked for arrived or `wait` passed; returns
/// the answers (one per reflector socket) with the address each came from.
fn ask(
    socket: &UdpSocket,
    q: &Query,
    nonce: u64,
    wait: Duration,
) -> Result<Vec<(Seen, SocketAddr)>> {
    let request = Ask {
        nonce,
        via: q.via.clone(),
    }
    .encode();
    let start = Instant::now();
    let mut next_send = start;
    let mut replies: Vec<(Seen, SocketAddr)> = Vec::new();
    let done = |replies: &[(Seen, SocketAddr)]| {
        if q.via.is_empty() {
            !replies.is_empty()
        } else {
            q.via
                .iter()
                .all(|i| replies.iter().any(|(s, _)| s.index == *i))
        }
    };
    let mut buf = [0u8; 1500];
    while !done(&replies) {
        let now = Instant::now();
        if now >= start + wait {
            break;
        }
        if now >= next_send {
            socket
                .send_to(&request, q.server)
                .with_context(|| format!("sending to {}", q.server))?;
            next_send = now + RESEND;
        }
        let until = (start + wait).min(next_send);
        socket.set_read_timeout(Some((until - now).max(Duration::from_millis(1))))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(seen) = Seen::decode(&buf[..n]) {
                    if seen.nonce == nonce && !replies.iter().any(|(s, _)| s.index == seen.index) {
                        replies.push((seen, from));
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // ICMP errors (port unreachable, UDP blocked) surface here; keep waiting.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e).context("receiving"),
        }
    }
    Ok(replies)
}
