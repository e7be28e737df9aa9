//! The numbers of a chaos run, and whether it passed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::check::Outcome;
use super::{Chaos, Phase};
use crate::stats::{counts, NetDrop, Traffic};
use crate::time::SimTime;
use crate::traffic::Violation;

/// What the agents did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionCounts {
    /// Nodes that joined for the first time.
    pub joins: u64,
    /// Crashes (each followed by a restart).
    pub crashes: u64,
    /// Nodes that left.
    pub leaves: u64,
    /// Nodes that joined again after leaving.
    pub rejoins: u64,
    /// Moves to another LAN or public address.
    pub roams: u64,
    /// NATs renumbered.
    pub nat_renumbers: u64,
    /// Access links taken down for a while.
    pub links_down: u64,
    /// Paths between two nodes cut for a while.
    pub cuts: u64,
    /// Network partitions.
    pub partitions: u64,
    /// App packets sent between random pairs during the chaos.
    pub app_packets: u64,
    /// Actions that the address plan could not accommodate.
    pub skipped: u64,
}

/// The numbers of a chaos run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's seed.
    pub seed: u64,
    /// Nodes planned.
    pub nodes: usize,
    /// NATs.
    pub nats: usize,
    /// Virtual time of chaos.
    pub chaos: Duration,
    /// Virtual time at the end of the run (or now, if it is not over).
    pub end: SimTime,
    /// Whether the run is over.
    pub finished: bool,
    /// What the agents did.
    pub actions: ActionCounts,
    /// Events the simulator ran.
    pub events: u64,
    /// Sessions established (all nodes).
    pub sessions: u64,
    /// Everything sent, by type.
    pub traffic: Traffic,
    /// Node uptime summed over all nodes, in minutes.
    pub node_minutes: f64,
    /// Live nodes at the end.
    pub live: usize,
    /// App packets sent and delivered (probes included).
    pub app_sent: u64,
    /// App packets delivered.
    pub app_delivered: u64,
    /// Data-path violations.
    pub violations: Vec<Violation>,
    /// The recovery check.
    pub recovery: Outcome,
    /// Its bound.
    pub recovery_bound: Duration,
    /// Datagrams the network lost, by reason.
    pub net_drops: BTreeMap<NetDrop, u64>,
    /// The live nodes' drop counters, summed.
    pub node_drops: BTreeMap<&'static str, u64>,
    /// The fingerprint of the run (equal for equal seeds and parameters).
    pub digest: u64,
}

/// Builds the report of `c` as it stands.
pub(super) fn build(c: &Chaos) -> Report {
    let w = &c.world;
    let node_minutes = w.hosts().map(|h| w.uptime(h).as_secs_f64()).sum::<f64>() / 60.0;
    let mut node_drops = BTreeMap::new();
    for h in w.hosts() {
        if let Some(n) = w.node_ref(h) {
            for (name, count) in n.drops().nonzero() {
                *node_drops.entry(name).or_default() += count;
            }
        }
    }
    Report {
        seed: c.cfg.seed,
        nodes: c.cfg.nodes,
        nats: w.nat_count(),
        chaos: c.cfg.chaos,
        end: w.now(),
        finished: c.phase == Phase::Done,
        actions: c.counts.clone(),
        events: w.stats().events,
        sessions: w.stats().sessions,
        traffic: w.total_sent(),
        node_minutes,
        live: w.hosts().filter(|&h| w.is_up(h)).count(),
        app_sent: w.ledger().sent_count(),
        app_delivered: w.ledger().delivered_count(),
        violations: w.ledger().violations().to_vec(),
        recovery: c
            .recovery
            .as_ref()
            .map(|r| r.outcome(w))
            .unwrap_or_default(),
        recovery_bound: c.cfg.recovery_bound,
        net_drops: w.stats().drops.clone(),
        node_drops,
        digest: w.digest(),
    }
}

impl Report {
    /// Why the run failed; empty if it passed.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if !self.finished {
            f.push("the run did not finish".to_string());
        }
        for v in self.violations.iter().take(10) {
            f.push(format!("violation: {v}"));
        }
        let r = &self.recovery;
        if r.confirmed < r.directions {
            f.push(format!(
                "{} of {} directions between live nodes did not talk again within {}s of the stop",
                r.directions - r.confirmed,
                r.directions,
                self.recovery_bound.as_secs()
            ));
            for s in r.silent.iter().take(10) {
                f.push(format!("  {s}"));
            }
        }
        f
    }

    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// Control datagrams per node per minute.
    pub fn control_datagrams_per_node_minute(&self) -> f64 {
        self.traffic.control_datagrams() as f64 / self.node_minutes.max(1e-9)
    }

    /// Control bytes per node per minute.
    pub fn control_bytes_per_node_minute(&self) -> f64 {
        self.traffic.control_bytes() as f64 / self.node_minutes.max(1e-9)
    }

    /// Handshake initiations per node per minute.
    pub fn initiations_per_node_minute(&self) -> f64 {
        self.traffic.initiations() as f64 / self.node_minutes.max(1e-9)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.actions;
        writeln!(
            f,
            "chaosnet: {} nodes ({} NATs), {} virtual min of chaos, seed {}; ended at {}",
            self.nodes,
            self.nats,
            self.chaos.as_secs_f64() / 60.0,
            self.seed,
            self.end
        )?;
        writeln!(
            f,
            "  agents: {} joins, {} crashes, {} leaves, {} rejoins, {} roams, {} NAT renumbers, {} links down, {} cuts, {} partitions, {} app packets{}",
            a.joins, a.crashes, a.leaves, a.rejoins, a.roams, a.nat_renumbers, a.links_down,
            a.cuts, a.partitions, a.app_packets,
            if a.skipped > 0 { format!(", {} skipped", a.skipped) } else { String::new() }
        )?;
        writeln!(
            f,
            "  simulator: {} events, {} sessions established, {} handshake initiations ({:.2} per node per minute)",
            self.events,
            self.sessions,
            self.traffic.initiations(),
            self.initiations_per_node_minute()
        )?;
        writeln!(
            f,
            "  control traffic per node per minute: {:.1} datagrams, {:.0} bytes ({:.1} node-minutes)",
            self.control_datagrams_per_node_minute(),
            self.control_bytes_per_node_minute(),
            self.node_minutes
        )?;
        let per = |n: u64| n as f64 / self.node_minutes.max(1e-9);
        let parts: Vec<String> = self
            .traffic
            .breakdown()
            .iter()
            .map(|(name, n, b)| format!("{name} {:.1}/{:.0}B", per(*n), per(*b)))
            .collect();
        writeln!(f, "    by type, per node-minute: {}", parts.join(", "))?;
        writeln!(
            f,
            "  app packets: {} sent, {} delivered; {} violations",
            self.app_sent,
            self.app_delivered,
            self.violations.len()
        )?;
        let r = &self.recovery;
        let secs =
            |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.1}s", d.as_secs_f64()));
        writeln!(
            f,
            "  recovery: {} live nodes, {} pairs probed, {}/{} directions talked again (median {}, slowest {}, bound {}s)",
            r.live,
            r.pairs,
            r.confirmed,
            r.directions,
            secs(r.median),
            secs(r.slowest),
            self.recovery_bound.as_secs()
        )?;
        writeln!(
            f,
            "  network drops: {}",
            counts(&self.net_drops, |k| format!("{k:?}"))
        )?;
        writeln!(
            f,
            "  node drops (live nodes): {}",
            counts(&self.node_drops, |k| k.to_string())
        )?;
        writeln!(f, "  run digest: {:#018x}", self.digest)?;
        let failures = self.failures();
        if failures.is_empty() {
            write!(f, "  PASSED")
        } else {
            writeln!(f, "  FAILED:")?;
            write!(f, "{}", failures.join("\n"))
        }
    }
}
