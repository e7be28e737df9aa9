//! One measured run of a cell: B and C start together or C some seconds
//! after B, both ping each other over the overlay from the moment they are
//! up, and the run records when the first reply came back (what a user
//! sees) and when both report a direct path. Times count from the later of
//! the two starts.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::Stdio;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tessel_lab::ping::family_flag;

use super::cells::{Expect, MatrixCell};
use super::lab::{both_direct, Lab, Member};
use crate::netns::Netns;
use crate::{wait, OverlayIps, TesselNode};

/// How a run is done.
#[derive(Debug, Clone, Copy)]
pub struct RunPlan {
    /// How long after B's start C starts (zero: both at once).
    pub offset: Duration,
    /// How long after the later start the run gives up waiting.
    pub timeout: Duration,
    /// Time between two pings in each direction.
    pub ping_interval: Duration,
}

/// What a run saw; times count from the later of B's and C's starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOutcome {
    /// How long after B's start C started.
    pub offset: Duration,
    /// The first ping reply from B to C (over the overlay's IPv6).
    pub b_to_c: Option<Duration>,
    /// The first ping reply from C to B (over the overlay's IPv4).
    pub c_to_b: Option<Duration>,
    /// When both first reported a direct path to each other (polled; not
    /// looked for in cells that must stay relayed).
    pub direct: Option<Duration>,
}

impl RunOutcome {
    /// The first packet between B and C, in either direction.
    pub fn first_packet(&self) -> Option<Duration> {
        match (self.b_to_c, self.c_to_b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The nodes of a finished run, for a caller that keeps their logs.
pub type Nodes<'a> = [(&'static str, &'a TesselNode); 3];

/// Runs `cell` once as `plan` says, and hands the outcome and the nodes
/// (still running) to `keep` before stopping them. The nodes print no log
/// tail when they stop: `keep` has them.
///
/// Each of B and C is started by a thread of its own (so that both can
/// start at the same moment), and a node ends with the thread that started
/// it: those threads wait until the run is over.
pub fn measure(
    cell: &MatrixCell,
    plan: &RunPlan,
    keep: impl FnOnce(&RunOutcome, Nodes<'_>),
) -> Result<RunOutcome> {
    let mut lab = Lab::build(cell.b, cell.c)?;
    lab.r.node.quiet();
    let lab = lab;
    std::thread::scope(|s| {
        // Dropped last (declared first): the starting threads end after
        // the nodes have stopped.
        let (hold_b, hold_c) = (mpsc::channel::<()>(), mpsc::channel::<()>());
        let (release_b, release_c) = (hold_b.0, hold_c.0);
        let b = start_held(s, Duration::ZERO, || lab.start_b(), hold_b.1);
        let c = start_held(s, plan.offset, || lab.start_c(), hold_c.1);
        let started = |rx: mpsc::Receiver<Result<(Member, Instant)>>| {
            rx.recv()
                .map_err(|_| anyhow::anyhow!("a node's start panicked"))?
        };
        let ((mut b, b_start), (mut c, c_start)) = (started(b)?, started(c)?);
        b.node.quiet();
        c.node.quiet();
        let (b, c) = (b, c);
        let start = b_start.max(c_start);
        let deadline = start + plan.timeout;
        let (b_ips, c_ips) = (overlay_ips(&b)?, overlay_ips(&c)?);
        let want_direct = cell.expect != Expect::Relayed;
        let (b_ns, c_ns) = (Arc::clone(b.node.ns()), Arc::clone(c.node.ns()));
        let interval = plan.ping_interval;
        let bc = s.spawn(move || first_reply(&b_ns, c_ips.v6.into(), interval, deadline));
        let cb = s.spawn(move || first_reply(&c_ns, b_ips.v4.into(), interval, deadline));
        let mut direct = None;
        while want_direct && Instant::now() < deadline {
            if both_direct(&b, &c) {
                direct = Some(Instant::now());
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Option<Instant>>>| {
            h.join().map_err(|_| anyhow::anyhow!("a pinger panicked"))?
        };
        let (b_to_c, c_to_b) = (join(bc)?, join(cb)?);
        let since = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(start));
        let outcome = RunOutcome {
            offset: c_start.saturating_duration_since(b_start),
            b_to_c: since(b_to_c),
            c_to_b: since(c_to_b),
            direct: since(direct),
        };
        keep(
            &outcome,
            [("r", &lab.r.node), ("b", &b.node), ("c", &c.node)],
        );
        drop((b, c));
        drop((release_b, release_c));
        Ok(outcome)
    })
}

/// The member's overlay addresses (`tessel ip`), asked again for a while
/// if its control socket does not answer at once.
fn overlay_ips(m: &Member) -> Result<OverlayIps> {
    let mut last = None;
    let r = wait::poll(
        "the overlay addresses",
        Duration::from_secs(5),
        || match m.node.ip() {
            Ok(ips) => Ok(Some(ips)),
            Err(e) => {
                last = Some(e);
                Ok(None)
            }
        },
    );
    r.map_err(|e| match last {
        Some(last) => last.context(e),
        None => e,
    })
}

/// Starts a node on a thread of `s` after `delay`, sends it back with the
/// moment its start began, and keeps the thread (and so the node, which is
/// tied to the thread that spawned it) alive until `hold` is closed.
fn start_held<'s, 'e>(
    s: &'s std::thread::Scope<'s, 'e>,
    delay: Duration,
    start: impl FnOnce() -> Result<Member> + Send + 's,
    hold: mpsc::Receiver<()>,
) -> mpsc::Receiver<Result<(Member, Instant)>> {
    let (tx, rx) = mpsc::channel();
    s.spawn(move || {
        std::thread::sleep(delay);
        let t = Instant::now();
        let _ = tx.send(start().map(|m| (m, t)));
        let _ = hold.recv();
    });
    rx
}

/// Pings `to` from `from` every `interval` until the first reply or
/// `deadline`, and returns when that reply arrived. A ping that cannot
/// start yet (no route while the node sets up its interface) is retried.
pub fn first_reply(
    from: &Netns,
    to: IpAddr,
    interval: Duration,
    deadline: Instant,
) -> Result<Option<Instant>> {
    let interval_s = format!("{:.3}", interval.as_secs_f64());
    let to_s = to.to_string();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let wait_s = left.as_secs().max(1).to_string();
        let mut cmd = from.command("ping");
        cmd.args([
            family_flag(to),
            "-n",
            "-i",
            &interval_s,
            "-w",
            &wait_s,
            &to_s,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting ping in {}", from.name()))?;
        let stdout = child.stdout.take().context("ping without stdout")?;
        let mut got = None;
        for line in BufReader::new(stdout).lines() {
            if line?.contains(" bytes from ") {
                got = Some(Instant::now());
                break;
            }
        }
        // The ping exits by itself at its deadline; one that has answered
        // is stopped here, by its PID.
        let _ = child.kill();
        let _ = child.wait();
        if got.is_some() {
            return Ok(got);
        }
        std::thread::sleep(interval);
    }
}
