//! Engine benchmark client (`bench/engines.sh` runs it): one-way casts per
//! second and call round trips through a daemon's `engines.sock`, and a
//! plain TCP request/response over the overlay to compare with.
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

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use data_encoding::BASE64;
use serde_json::{json, Value};

/// Writes one frame with one `write` (a length written on its own would
/// wake the daemon for four bytes).
fn write_frame(w: &mut impl Write, v: &Value) -> Result<()> {
    let mut frame = vec![0; 4];
    serde_json::to_writer(&mut frame, v)?;
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    w.write_all(&frame)?;
    Ok(())
}

fn read_frame(r: &mut impl Read) -> Result<Value> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).context("engine socket closed")?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

/// A connection to `engines.sock`: frames are read through a buffer.
struct Conn {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

impl Conn {
    fn connect(path: &str) -> Result<Self> {
        let w = UnixStream::connect(path)?;
        let r = BufReader::with_capacity(1 << 20, w.try_clone()?);
        Ok(Self { w, r })
    }
}

/// Sends a request and waits for its answer, skipping other frames.
fn ask(s: &mut Conn, id: u64, mut v: Value) -> Result<Value> {
    v["id"] = json!(id);
    write_frame(&mut s.w, &v)?;
    loop {
        let a = read_frame(&mut s.r)?;
        if a["id"] == json!(id) && a.get("event").is_none() {
            if let Some(e) = a["error"].as_str() {
                bail!("{e}");
            }
            return Ok(a);
        }
    }
}

fn start(s: &mut Conn, name: Option<&str>) -> Result<String> {
    let mut req = json!({ "op": "start" });
    if let Some(n) = name {
        req["name"] = json!(n);
    }
    let a = ask(s, 0, req)?;
    Ok(a["engine"].as_str().context("no engine")?.to_owned())
}

fn sink(path: &str) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = start(&mut s, Some("bench-sink"))?;
    println!("engine {engine}");
    let Conn { mut w, mut r } = s;
    let mut casts = 0u64;
    loop {
        let m = read_frame(&mut r)?;
        match m["event"].as_str() {
            Some("cast") => casts += 1,
            Some("call") => {
                let data = m["data"].as_str().unwrap_or("");
                let answer = if BASE64.decode(data.as_bytes()).ok().as_deref() == Some(b"count") {
                    BASE64.encode(casts.to_string().as_bytes())
                } else {
                    data.to_owned()
                };
                let reply = json!({ "op": "reply", "reply_to": m["reply_to"], "data": answer });
                write_frame(&mut w, &reply)?;
            }
            _ => {}
        }
    }
}

fn casts(path: &str, n: u64, size: usize) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = start(&mut s, None)?;
    let Conn { w: s, mut r } = s;
    let total = n + 1;
    let reader = std::thread::spawn(move || -> Result<(u64, Value)> {
        let mut errors = 0;
        loop {
            let a = read_frame(&mut r)?;
            if a["error"].is_string() {
                errors += 1;
            }
            if a["id"] == json!(total) {
                return Ok((errors, a));
            }
        }
    });
    let payload = BASE64.encode(&vec![b'x'; size]);
    let began = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, s);
    for id in 1..=n {
        let cast = json!({ "op": "cast", "id": id, "engine": engine, "to": "bench-sink", "data": payload });
        write_frame(&mut w, &cast)?;
    }
    let count = BASE64.encode(b"count");
    let call = json!({ "op": "call", "id": total, "engine": engine, "to": "bench-sink", "data": count, "timeout_ms": 60_000 });
    write_frame(&mut w, &call)?;
    w.flush()?;
    let (errors, answer) = reader.join().expect("reader")?;
    let secs = began.elapsed().as_secs_f64();
    let data = answer["data"].as_str().context("the count call failed")?;
    let delivered: u64 = String::from_utf8(BASE64.decode(data.as_bytes())?)?.parse()?;
    println!(
        "casts {n} size {size} refused {errors} delivered {delivered} seconds {secs:.3} per_second {:.0}",
        delivered as f64 / secs
    );
    Ok(())
}

fn calls(path: &str, n: u64) -> Result<()> {
    let mut s = Conn::connect(path)?;
    let engine = start(&mut s, None)?;
    let data = BASE64.encode(&[7u8; 16]);
    // Warm up: the pair key and the name.
    for id in 1..=10 {
        ask(
            &mut s,
            id,
            json!({ "op": "call", "engine": engine, "to": "bench-sink", "data": data }),
        )?;
    }
    let began = Instant::now();
    for id in 0..n {
        let a = ask(
            &mut s,
            100 + id,
            json!({ "op": "call", "engine": engine, "to": "bench-sink", "data": data }),
        )?;
        if a["data"] != json!(data) {
            bail!("wrong reply {a}");
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
        let (mut c, _) = l.accept()?;
        c.set_nodelay(true)?;
        std::thread::spawn(move || {
            let mut b = [0u8; 16];
            while c.read_exact(&mut b).is_ok() {
                if c.write_all(&b).is_err() {
                    return;
                }
            }
        });
    }
}

fn tcp_rtt(addr: &str, n: u64) -> Result<()> {
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut b = [7u8; 16];
    for _ in 0..10 {
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
    }
    let began = Instant::now();
    for _ in 0..n {
        c.write_all(&b)?;
        c.read_exact(&mut b)?;
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
