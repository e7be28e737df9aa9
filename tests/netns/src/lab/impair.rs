//! Delay and loss on a link, by the `impair` NFQUEUE shim (this kernel has
//! no `sch_netem`, so `tc qdisc add … netem` fails).
//!
//! [`Impairer`] runs `impair` inside a namespace. The shim binds an NFQUEUE,
//! installs an nftables rule that queues the packets arriving on the chosen
//! interfaces, or a host's own packets leaving through them
//! ([`crate::lab::steer`]: the `queue` statement is missing from this
//! kernel, so the rule calls the xtables `NFQUEUE` target through
//! `nft_compat`), and gives each packet its verdict after the delay, or
//! drops it. Like netem on an interface, it acts on one direction: a
//! router's [`Direction::Upstream`] delays what its LAN sends toward the
//! internet, so a ping through it sees its round trip grow by the delay
//! once, and loses about the configured fraction.
//!
//! The shim is bounded: it exits when killed by PID (dropping the handle),
//! when its test process dies (parent-death signal), when its namespace is
//! deleted, or after its lifetime; its nftables table is bound to its
//! netlink socket and disappears with it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::lab::router::{NatRouter, LAN_BRIDGE, WAN_IFACE};
use crate::lab::tool;
use crate::netns::Netns;
use crate::process::{describe, Process};
use crate::tempdir::TempDir;
use crate::wait;

/// How long the shim may take to start steering packets.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The shim's own time limit, in case every other way of stopping it fails.
const LIFETIME: Duration = Duration::from_secs(300);

static QUEUE: AtomicU16 = AtomicU16::new(0);

/// What to do to each packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairment {
    /// Fixed delay added to every packet that is not dropped.
    pub delay: Duration,
    /// Extra delay, uniform in `[0, jitter)`, per packet.
    pub jitter: Duration,
    /// Fraction of packets dropped, in `[0, 1]`.
    pub loss: f64,
    /// Seed of the shim's random numbers (loss and jitter).
    pub seed: u64,
}

impl Impairment {
    /// No delay and no loss.
    pub fn none() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            seed: 1,
        }
    }

    /// Sets the fixed delay.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the jitter.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the loss fraction.
    pub fn loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Sets the random seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Which packets a router's shim impairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Packets from the LAN (toward the internet).
    Upstream,
    /// Packets from the WAN leg (toward the LAN).
    Downstream,
    /// Both.
    Both,
}

/// Starting the shim on a router.
pub trait RouterImpair {
    /// Starts the impairment shim on this router: packets it forwards in
    /// `direction` are delayed and dropped as `spec` says, until the
    /// returned handle is dropped.
    fn impair(&self, spec: &Impairment, direction: Direction) -> Result<Impairer>;
}

impl RouterImpair for NatRouter {
    fn impair(&self, spec: &Impairment, direction: Direction) -> Result<Impairer> {
        let ifaces: &[&str] = match direction {
            Direction::Upstream => &[LAN_BRIDGE],
            Direction::Downstream => &[WAN_IFACE],
            Direction::Both => &[LAN_BRIDGE, WAN_IFACE],
        };
        Impairer::start_ingress(self.ns(), ifaces, spec)
    }
}

/// A running `impair` shim; dropping it kills the shim, and the kernel
/// removes its steering rule.
#[derive(Debug)]
pub struct Impairer {
    process: Process,
    queue: u16,
    _dir: TempDir,
}

impl Impairer {
    /// Impairs packets arriving in `ns` on the interfaces `ifaces`: on a
    /// router, what it forwards from them (and what they bring to the router
    /// itself).
    pub fn start_ingress(ns: &Arc<Netns>, ifaces: &[&str], spec: &Impairment) -> Result<Self> {
        Self::start(ns, "ingress", ifaces, spec)
    }

    /// Impairs packets that `ns` itself sends out of the interfaces
    /// `ifaces` (a host's own link).
    pub fn start_output(ns: &Arc<Netns>, ifaces: &[&str], spec: &Impairment) -> Result<Self> {
        Self::start(ns, "output", ifaces, spec)
    }

    fn start(ns: &Arc<Netns>, hook: &str, ifaces: &[&str], spec: &Impairment) -> Result<Self> {
        let queue = QUEUE.fetch_add(1, Ordering::Relaxed);
        let dir = TempDir::new("lab-impair")?;
        let mut cmd = ns.command(tool("impair")?);
        cmd.args(["--hook", hook, "--queue", &queue.to_string()]);
        for iface in ifaces {
            cmd.args(["--iface", iface]);
        }
        cmd.args([
            "--delay-ms",
            &spec.delay.as_millis().to_string(),
            "--jitter-ms",
            &spec.jitter.as_millis().to_string(),
            "--loss",
            &spec.loss.to_string(),
            "--seed",
            &spec.seed.to_string(),
            "--lifetime-s",
            &LIFETIME.as_secs().to_string(),
        ]);
        cmd.arg("--netns")
            .arg(PathBuf::from("/run/netns").join(ns.name()));
        let mut process = Process::spawn(cmd, &format!("impair-{queue}"), dir.path())?;
        wait::poll("the impair shim to steer packets", START_TIMEOUT, || {
            if let Some(s) = process.try_status()? {
                bail!(
                    "impair exited early ({}): {}",
                    describe(s),
                    process.stderr()
                );
            }
            Ok(process.stdout().contains("ready").then_some(()))
        })?;
        Ok(Self {
            process,
            queue,
            _dir: dir,
        })
    }

    /// The shim's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Name of the shim's nftables table (in the `ip` and `ip6` families).
    pub fn table(&self) -> String {
        format!("impair{}", self.queue)
    }

    /// True while the shim runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Waits up to `timeout` for the shim to exit by itself; true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<bool> {
        Ok(self.process.wait_timeout(timeout)?.is_some())
    }

    /// What the shim wrote to stderr (its summary when it stops by itself).
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }

    /// Kills the shim by PID and reaps it.
    pub fn stop(mut self) -> Result<()> {
        self.process.kill()?;
        Ok(())
    }
}
