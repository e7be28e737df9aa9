//! Engine benchmark client (`bench/engines.sh` runs it): one-way casts per
//! second and call round trips through a daemon's `engines.sock` (binary
//! encoding), and a plain TCP request/response over the overlay to compare
//! with.
//!
//! Modes:
//! - `sink SOCKET`: an engine named `bench-sink` that counts casts and
//!   answers calls (the request, or the count of casts when asked `count`);
//! - `casts SOCKET N SIZE`: N casts of SIZE bytes to `bench-sink`, then a
//!   `count` call; prints the casts delivered and the rate;
//! - `calls SOCKET N`: N calls of 16 bytes one after another; prints the
//!   mean round trip in µs;
//! - `tcp-server ADDR`: echoes 16-byte requests;
//! - `tcp-rtt ADDR N`: N 16-byte requests one after another; prints the
//!   mean round trip in µs.
//!
//! Every reader, on the engine socket and on TCP alike, waits for input
//! with `poll(2)` before it reads ([`WaitRead`]): a reader blocked in
//! `read` on a Unix socket is woken, for nothing, each time the daemon
//! takes in what it wrote, since the kernel signals room to write on the
//! same wait queue; `poll` for input only is not.

// A benchmark: it measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tessel_actors::local::frame::{begin_frame, end_frame, BINARY_HELLO};
use tessel_actors::local::{Answer, Push, Request, Target, ToClient};
use tessel_actors::EngineAddr;

/// The engine the benchmark talks to.
const SINK: &str = "bench-sink";

/// A socket read only once `poll(2)` says input is there.
struct WaitRead<S>(S);

impl<S: Read + AsFd> Read for WaitRead<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => return self.0.read(buf),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Writes one request frame with one `write` (a length written on its own
/// would wake the daemon for four bytes).
fn write_request(w: &mut impl Write, id: u64, r: &Request) -> Result<()> {
    let mut frame = Vec::with_capacity(4 + r.encoded_len());
    let start = begin_frame(&mut frame);
    r.write(id, &mut frame)?;
    end_frame(&mut frame, start)?;
    w.write_all(&frame)?;
    Ok(())
}

fn read_frame(r: &mut impl Read) -> Result<ToClient> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).context("engine socket closed")?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut body)?;
    Ok(ToClient::parse(&body)?)
}

/// A connection to `engines.sock` in the binary encoding; frames are read
/// through a buffer.
struct Conn {
    w: UnixStream,
    r: BufReader<WaitRead<UnixStream>>,
}

impl Conn {
    fn connect(path: &str) -> Result<Self> {
        let mut w = UnixStream::connect(path).with_context(|| format!("connecting to {path}"))?;
        w.write_all(&BINARY_HELLO)?;
        let r = BufReader::with_capacity(1 << 20, WaitRead(w.try_clone()?));
        Ok(Self { w, r })
    }

    /// Sends a request and waits for its answer, skipping pushed frames.
    fn ask(&mut self, id: u64, r: &Request) -> Result<Answer> {
        write_request(&mut self.w, id, r)?;
        loop {
            if let ToClient::Answer { id: got, answer } = read_frame(&mut self.r)? {
                if got != id {
                    continue;
                }
                if let Answer::Refused { error } = answer {
                    bail!("{error}");
                }
                return Ok(answer);
            }
        }
    }

    /// Starts an engine, registered under `name` if given.
    fn start(&mut self, name: Option<&str>) -> Result<EngineAddr> {
        let start = Request::Start {
            persistent: None,
            name: name.map(str::to_owned),
        };
        match self.ask(0, &start)? {
            Answer::Started {
                name_error: Some(e),
                ..
            } => bail!("{e}"),
            Answer::Started { engine, .. } => Ok(engine),
            other => bail!("unexpected answer {other:?}"),
        }
    }
}

fn sink(path: &str) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = s.start(Some(SINK))?;
    println!("engine {engine}");
    let Conn { mut w, mut r } = s;
    let mut casts = 0u64;
    loop {
        match read_frame(&mut r)? {
            ToClient::Push(Push::Cast { .. }) => casts += 1,
            ToClient::Push(Push::Call {
                reply_to, payload, ..
            }) => {
                let payload = if payload == b"count" {
                    casts.to_string().into_bytes()
                } else {
                    payload
                };
                write_request(&mut w, 0, &Request::Reply { reply_to, payload })?;
            }
            _ => {}
        }
    }
}

fn casts(path: &str, n: u64, size: usize) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = s.start(None)?;
    let Conn { w: s, mut r } = s;
    let total = n + 1;
    let reader = std::thread::spawn(move || -> Result<(u64, Answer)> {
        let mut errors = 0;
        loop {
            if let ToClient::Answer { id, answer } = read_frame(&mut r)? {
                if id == total {
                    return Ok((errors, answer));
                }
                if matches!(answer, Answer::Refused { .. }) {
                    errors += 1;
                }
            }
        }
    });
    let to = Target::Name(SINK.to_owned());
    let began = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, s);
    let cast = Request::Cast {
        engine,
        to: to.clone(),
        payload: vec![b'x'; size],
    };
    for id in 1..=n {
        write_request(&mut w, id, &cast)?;
    }
    let count = Request::Call {
        engine,
        to,
        payload: b"count".to_vec(),
        timeout_ms: Some(60_000),
    };
    write_request(&mut w, total, &count)?;
    w.flush()?;
    let (errors, answer) = reader.join().expect("reader")?;
    let secs = began.elapsed().as_secs_f64();
    let Answer::Replied { payload } = answer else {
        bail!("the count call failed: {answer:?}");
    };
    let delivered: u64 = String::from_utf8(payload)?.parse()?;
    println!(
        "casts {n} size {size} refused {errors} delivered {delivered} seconds {secs:.3} per_second {:.0}",
        delivered as f64 / secs
    );
    Ok(())
}

fn calls(path: &str, n: u64) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = s.start(None)?;
    let call = Request::Call {
        engine,
        to: Target::Name(SINK.to_owned()),
        payload: vec![7; 16],
        timeout_ms: None,
    };
    // Warm up: the pair key and the name.
    for id in 1..=10 {
        s.ask(id, &call)?;
    }
    let began = Instant::now();
    for id in 0..n {
        match s.ask(100 + id, &call)? {
            Answer::Replied { payload } if payload == [7; 16] => {}
            other => bail!("wrong reply {other:?}"),
        }
    }
    let us = began.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("calls {n} mean_rtt_us {us:.1}");
    Ok(())
}

fn tcp_server(addr: &str) -> Result<()> {
    let l = TcpListener::bind(addr)?;
    println!("listening {addr}");
    loop {
        let (c, _) = l.accept()?;
        c.set_nodelay(true)?;
        std::thread::spawn(move || {
            let Ok(mut w) = c.try_clone() else { return };
            let mut r = WaitRead(c);
            let mut b = [0u8; 16];
            while r.read_exact(&mut b).is_ok() {
                if w.write_all(&b).is_err() {
                    return;
                }
            }
        });
    }
}

fn tcp_rtt(addr: &str, n: u64) -> Result<()> {
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut r = WaitRead(c.try_clone()?);
    let mut b = [7u8; 16];
    for _ in 0..10 {
        c.write_all(&b)?;
        r.read_exact(&mut b)?;
    }
    let began = Instant::now();
    for _ in 0..n {
        c.write_all(&b)?;
        r.read_exact(&mut b)?;
    }
    let us = began.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("tcp {n} mean_rtt_us {us:.1}");
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a = |i: usize| args.get(i).map(String::as_str).context("missing argument");
    match a(0)? {
        "sink" => sink(a(1)?),
        "casts" => casts(a(1)?, a(2)?.parse()?, a(3)?.parse()?),
        "calls" => calls(a(1)?, a(2)?.parse()?),
        "tcp-server" => tcp_server(a(1)?),
        "tcp-rtt" => tcp_rtt(a(1)?, a(2)?.parse()?),
        other => bail!("unknown mode {other}: sink, casts, calls, tcp-server or tcp-rtt"),
    }
}
