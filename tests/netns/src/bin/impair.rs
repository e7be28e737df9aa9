//! `impair`: a userspace stand-in for `tc netem` (which this kernel lacks).
//!
//! Run inside a namespace, it binds an NFQUEUE, installs an nftables rule
//! that queues the packets arriving on (`--hook ingress`) or sent by the
//! namespace out of (`--hook output`) the given interfaces (see
//! `tessel_netns::lab::steer`), and gives each queued packet its verdict
//! later: after `--delay-ms` plus a uniform random `--jitter-ms`, or never
//! (dropped) with probability `--loss`.
//!
//! ```text
//! impair --hook ingress|output --iface IFACE [--iface IFACE]... [--queue N]
//!        [--delay-ms MS] [--jitter-ms MS] [--loss FRACTION] [--seed N]
//!        [--lifetime-s S] [--netns PATH]
//! ```
//!
//! Prints `ready` once packets are being steered. It stops by itself after
//! `--lifetime-s` (default 600), when the namespace named by `--netns` (an
//! `ip netns` handle such as `/run/netns/NAME`) is deleted or no longer the
//! one it runs in, or when killed; the steering rule disappears with it.

// The namespace harness runs real processes against the wall clock.
#![allow(clippy::disallowed_methods)]
// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use nfq::{Message, Queue, Verdict};
use tessel_netns::lab::rng::Rng;
use tessel_netns::lab::steer::{Hook, Steering};

/// How long the loop sleeps when nothing is queued or due.
const TICK: Duration = Duration::from_millis(1);

/// How often the namespace handle is checked.
const NETNS_CHECK: Duration = Duration::from_millis(200);

/// Kernel queue length before packets bypass the shim.
const QUEUE_MAX_LEN: u32 = 4096;

struct Args {
    hook: Hook,
    ifaces: Vec<String>,
    queue: u16,
    delay: Duration,
    jitter: Duration,
    loss: f64,
    seed: u64,
    lifetime: Duration,
    netns: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        hook: Hook::Ingress,
        ifaces: Vec::new(),
        queue: 0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
        seed: 1,
        lifetime: Duration::from_secs(600),
        netns: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--hook" => {
                a.hook = match value()?.as_str() {
                    "ingress" => Hook::Ingress,
                    "output" => Hook::Output,
                    other => bail!("--hook {other}: expected ingress or output"),
                }
            }
            "--iface" => a.ifaces.push(value()?),
            "--queue" => a.queue = value()?.parse().context("--queue")?,
            "--delay-ms" => {
                a.delay = Duration::from_millis(value()?.parse().context("--delay-ms")?)
            }
            "--jitter-ms" => {
                a.jitter = Duration::from_millis(value()?.parse().context("--jitter-ms")?)
            }
            "--loss" => a.loss = value()?.parse().context("--loss")?,
            "--seed" => a.seed = value()?.parse().context("--seed")?,
            "--lifetime-s" => {
                a.lifetime = Duration::from_secs(value()?.parse().context("--lifetime-s")?)
            }
            "--netns" => a.netns = Some(value()?),
            other => bail!("unknown argument {other:?}"),
        }
    }
    ensure!(!a.ifaces.is_empty(), "give at least one --iface");
    ensure!((0.0..=1.0).contains(&a.loss), "--loss must be in [0, 1]");
    Ok(a)
}

/// A packet waiting for its verdict, ordered by due time then arrival.
struct Held {
    due: Instant,
    seq: u64,
    msg: Message,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// True while `path` is the network namespace this process runs in.
fn netns_alive(path: &str) -> bool {
    match (
        std::fs::metadata(path),
        std::fs::metadata("/proc/self/ns/net"),
    ) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

fn ifindex(name: &str) -> Result<u32> {
    let c = std::ffi::CString::new(name).context("interface name")?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    ensure!(idx != 0, "no interface {name:?} here");
    Ok(idx)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mut queue = Queue::open().context("opening an NFQUEUE netlink socket")?;
    queue
        .bind(args.queue)
        .with_context(|| format!("binding NFQUEUE {}", args.queue))?;
    // Metadata only: verdicts never change the payload.
    queue.set_copy_range(args.queue, 0)?;
    queue.set_queue_max_len(args.queue, QUEUE_MAX_LEN)?;
    queue.set_fail_open(args.queue, true)?;
    queue.set_nonblocking(true);
    let ifaces = args
        .ifaces
        .iter()
        .map(|n| ifindex(n))
        .collect::<Result<Vec<_>>>()?;
    let table = format!("impair{}", args.queue);
    let _steering = Steering::install(&table, args.hook, &ifaces, args.queue)
        .context("installing the nftables rule that steers packets to the queue")?;
    println!("ready");
    std::io::stdout().flush()?;

    let mut rng = Rng::new(args.seed);
    let mut held = BinaryHeap::new();
    let (mut seen, mut dropped, mut seq) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut next_check = start;
    loop {
        let now = Instant::now();
        while held.peek().is_some_and(|h: &Reverse<Held>| h.0.due <= now) {
            let Reverse(mut h) = held.pop().expect("peeked");
            h.msg.set_verdict(Verdict::Accept);
            queue.verdict(h.msg).context("accepting a delayed packet")?;
        }
        loop {
            match queue.recv() {
                Ok(mut msg) => {
                    seen += 1;
                    if rng.chance(args.loss) {
                        dropped += 1;
                        msg.set_verdict(Verdict::Drop);
                        queue.verdict(msg).context("dropping a packet")?;
                        continue;
                    }
                    let jitter = args.jitter.mul_f64(rng.unit());
                    seq += 1;
                    held.push(Reverse(Held {
                        due: now + args.delay + jitter,
                        seq,
                        msg,
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e).context("reading the queue"),
            }
        }
        if now >= next_check {
            next_check = now + NETNS_CHECK;
            let gone = args.netns.as_deref().is_some_and(|p| !netns_alive(p));
            if gone || now - start >= args.lifetime {
                eprintln!(
                    "impair: stopping ({}); {seen} packets queued, {dropped} dropped",
                    if gone {
                        "namespace gone"
                    } else {
                        "lifetime over"
                    }
                );
                return Ok(());
            }
        }
        std::thread::sleep(TICK);
    }
}
