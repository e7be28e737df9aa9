//! The numbers of a mesh run, and whether it passed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tessel_overlay::node::LookupStats;

use super::{Conversation, Mesh, Phase};
use crate::ids::{HostId, NatId};
use crate::matrix::Side;
use crate::nat::{NatDrop, NatKind};
use crate::stats::{counts, NetDrop, Traffic};
use crate::time::SimTime;
use crate::traffic::Violation;
use crate::world::World;

/// Traffic and node-minutes at an instant, to take differences of.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    traffic: Traffic,
    node_minutes: f64,
}

impl Snapshot {
    pub(super) fn take(w: &World) -> Self {
        Self {
            traffic: w.total_sent(),
            node_minutes: w.hosts().map(|h| w.uptime(h).as_secs_f64()).sum::<f64>() / 60.0,
        }
    }
}

/// Builds the report of `m` as it stands.
pub(super) fn build(m: &Mesh) -> MeshReport {
    let w = &m.world;
    let over: Vec<&Conversation> = m.conversations.iter().filter(|c| c.over).collect();
    let mut first: Vec<Duration> = over.iter().flat_map(|c| c.first).flatten().collect();
    first.sort();
    let slowest = over
        .iter()
        .flat_map(|c| [(c.a, c.b, c.first[0]), (c.b, c.a, c.first[1])])
        .filter_map(|(from, to, t)| Some((t?, from, to)))
        .max_by_key(|&(t, from, to)| (t, std::cmp::Reverse((from, to))))
        .map(|(_, from, to)| {
            (
                (from, m.spots[from.index()].side),
                (to, m.spots[to.index()].side),
            )
        });
    let mut relayed: BTreeMap<(Side, Side), usize> = BTreeMap::new();
    for c in over.iter().filter(|c| c.talked() && !c.direct()) {
        *relayed.entry(m.kinds(c.a, c.b)).or_default() += 1;
    }
    let mut relayed: Vec<((Side, Side), usize)> = relayed.into_iter().collect();
    relayed.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let silent = over
        .iter()
        .filter(|c| !c.talked())
        .map(|c| {
            let (x, y) = (m.spots[c.a.index()].side, m.spots[c.b.index()].side);
            Silent {
                a: c.a,
                b: c.b,
                sides: (x, y),
                got_through: [c.first[0].is_some(), c.first[1].is_some()],
                nodes: (w.node_id(c.a).short(), w.node_id(c.b).short()),
                knew: c.knew,
                detail: c.detail.clone().unwrap_or_default(),
            }
        })
        .collect();
    let now = w.instant(w.now());
    let mut members = Vec::new();
    let mut sessions = Vec::new();
    let mut node_drops = BTreeMap::new();
    let mut lookups = LookupStats::default();
    for h in w.hosts() {
        if let Some(node) = w.node_ref(h) {
            let l = node.lookup_stats();
            lookups.started += l.started;
            lookups.found += l.found;
            lookups.not_found += l.not_found;
            lookups.timed_out += l.timed_out;
            lookups.forwarded += l.forwarded;
            lookups.answered += l.answered;
            for (name, count) in node.drops().nonzero() {
                *node_drops.entry(name).or_default() += count;
            }
            let status = node.status(now);
            members.push(status.peers.len());
            sessions.push(status.peers.iter().filter(|p| p.connected).count());
        }
    }
    let end = Snapshot::take(w);
    let quiet = m.quiet.clone().unwrap_or_default();
    let settled = m.settled.clone();
    let (background, talking) = match &settled {
        Some(s) => (diff(s, &quiet), diff(&end, s)),
        None => (diff(&end, &quiet), Snapshot::default()),
    };
    let mut by_side = BTreeMap::new();
    for s in &m.spots {
        *by_side.entry(s.side).or_default() += 1;
    }
    MeshReport {
        seed: m.cfg.seed,
        nodes: m.cfg.nodes,
        by_side,
        nats: w.nat_count(),
        nat_sizes: m.sizes,
        settle: m.cfg.settle,
        conversation: m.cfg.conversation,
        all_pairs: m.all_pairs,
        sampled: m.conversations.len(),
        ended: over.len(),
        talked: over.iter().filter(|c| c.talked()).count(),
        direct: over.iter().filter(|c| c.talked() && c.direct()).count(),
        first_packet: first,
        slowest,
        relayed_by_sides: relayed,
        silent,
        background_traffic: background.traffic,
        background_node_minutes: background.node_minutes,
        talking_traffic: talking.traffic,
        talking_node_minutes: talking.node_minutes,
        members: Spread::of(members),
        sessions: Spread::of(sessions),
        node_drops,
        lookups,
        net_drops: w.stats().drops.clone(),
        nat_ports: nat_ports(w),
        violations: w.ledger().violations().to_vec(),
        events: w.stats().events,
        end: w.now(),
        finished: m.phase == Phase::Done,
        digest: w.digest(),
    }
}

/// Port use of the NATs of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatPorts {
    /// NATs of the kind.
    pub nats: usize,
    /// The most mappings one of them created.
    pub most_mappings: u64,
    /// NATs that dropped a datagram for want of a free port.
    pub exhausted: usize,
}

/// Port use by kind of NAT (home routers count as port-restricted cones).
fn nat_ports(w: &World) -> BTreeMap<NatKind, NatPorts> {
    let mut by_kind: BTreeMap<NatKind, NatPorts> = BTreeMap::new();
    for i in 0..w.nat_count() {
        let nat = w.nat_ref(NatId(i as u32));
        let Some(kind) = NatKind::ALL
            .into_iter()
            .find(|k| k.config() == *nat.config())
        else {
            continue;
        };
        let e = by_kind.entry(kind).or_default();
        e.nats += 1;
        e.most_mappings = e.most_mappings.max(nat.stats().mappings_created);
        if nat
            .stats()
            .drops
            .get(&NatDrop::PortsExhausted)
            .is_some_and(|&n| n > 0)
        {
            e.exhausted += 1;
        }
    }
    by_kind
}

/// Whether `a`'s node has `b` in its member table.
pub(super) fn knows(w: &World, a: HostId, b: HostId) -> bool {
    let Some(node) = w.node_ref(a) else {
        return false;
    };
    let id = w.node_id(b).to_string();
    node.status(w.instant(w.now()))
        .peers
        .iter()
        .any(|p| p.node_id == id)
}

/// What was sent between two snapshots, and the node-minutes between them.
fn diff(later: &Snapshot, earlier: &Snapshot) -> Snapshot {
    let (a, b) = (&later.traffic, &earlier.traffic);
    let mut t = Traffic::default();
    for i in 0..t.datagrams.len() {
        t.datagrams[i] = a.datagrams[i].saturating_sub(b.datagrams[i]);
        t.bytes[i] = a.bytes[i].saturating_sub(b.bytes[i]);
    }
    t.app_datagrams = a.app_datagrams.saturating_sub(b.app_datagrams);
    t.app_bytes = a.app_bytes.saturating_sub(b.app_bytes);
    Snapshot {
        traffic: t,
        node_minutes: (later.node_minutes - earlier.node_minutes).max(0.0),
    }
}

/// The least, median and largest of some counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    /// The least.
    pub min: usize,
    /// The median.
    pub median: usize,
    /// The largest.
    pub max: usize,
}

impl Spread {
    fn of(mut v: Vec<usize>) -> Self {
        v.sort_unstable();
        Self {
            min: v.first().copied().unwrap_or(0),
            median: v.get(v.len() / 2).copied().unwrap_or(0),
            max: v.last().copied().unwrap_or(0),
        }
    }
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {} / {}", self.min, self.median, self.max)
    }
}

/// A pair that did not talk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silent {
    /// One side.
    pub a: HostId,
    /// The other.
    pub b: HostId,
    /// Where they sit.
    pub sides: (Side, Side),
    /// Whether a packet got through a → b, and b → a.
    pub got_through: [bool; 2],
    /// Their node IDs, short (as the nodes' logs name them).
    pub nodes: (String, String),
    /// Whether a knew of b, and b of a (had it in its member table).
    pub knew: [bool; 2],
    /// What each side knew of the other when the conversation ended.
    pub detail: String,
}

/// The numbers of a mesh run.
#[derive(Debug, Clone)]
pub struct MeshReport {
    /// The run's seed.
    pub seed: u64,
    /// Nodes.
    pub nodes: usize,
    /// Nodes per place.
    pub by_side: BTreeMap<Side, usize>,
    /// NATs (carrier-grade ones included).
    pub nats: usize,
    /// Smallest and largest number of nodes a NAT was planned for.
    pub nat_sizes: (usize, usize),
    /// Virtual time before the conversations began.
    pub settle: Duration,
    /// How long each pair talked.
    pub conversation: Duration,
    /// Pairs in the network.
    pub all_pairs: usize,
    /// Pairs sampled.
    pub sampled: usize,
    /// Conversations that are over.
    pub ended: usize,
    /// Pairs that got a packet through both ways.
    pub talked: usize,
    /// Pairs that talked and ended on a direct path.
    pub direct: usize,
    /// Time from the first send to the first delivery, per direction that
    /// got one, shortest first.
    pub first_packet: Vec<Duration>,
    /// The direction that took longest to its first packet, with the sides.
    pub slowest: Option<((HostId, Side), (HostId, Side))>,
    /// Pairs that talked but ended relayed, by their sides, most first.
    pub relayed_by_sides: Vec<((Side, Side), usize)>,
    /// Pairs that did not talk.
    pub silent: Vec<Silent>,
    /// Control traffic over the last two minutes of settling.
    pub background_traffic: Traffic,
    /// Node-minutes of that window.
    pub background_node_minutes: f64,
    /// Control (and app) traffic while the pairs talked.
    pub talking_traffic: Traffic,
    /// Node-minutes while the pairs talked.
    pub talking_node_minutes: f64,
    /// Members each node knows, at the end.
    pub members: Spread,
    /// Sessions each node holds, at the end.
    pub sessions: Spread,
    /// The nodes' drop counters, summed (`no_route`: an app packet for a
    /// member the sender has not heard of).
    pub node_drops: BTreeMap<&'static str, u64>,
    /// The nodes' lookup counters, summed.
    pub lookups: LookupStats,
    /// Datagrams the network lost, by reason (a NAT out of ports:
    /// `Nat(PortsExhausted)`).
    pub net_drops: BTreeMap<NetDrop, u64>,
    /// Per kind of NAT: how many, the most mappings one of them created,
    /// and how many ran out of ports.
    pub nat_ports: BTreeMap<NatKind, NatPorts>,
    /// Data-path violations.
    pub violations: Vec<Violation>,
    /// Events the simulator ran.
    pub events: u64,
    /// Virtual time at the end.
    pub end: SimTime,
    /// Whether every conversation is over.
    pub finished: bool,
    /// The fingerprint of the run (equal for equal seeds and parameters).
    pub digest: u64,
}

impl MeshReport {
    /// The median time to the first packet.
    pub fn median_first_packet(&self) -> Option<Duration> {
        self.first_packet.get(self.first_packet.len() / 2).copied()
    }

    /// The 99th percentile of the time to the first packet.
    pub fn p99_first_packet(&self) -> Option<Duration> {
        let n = self.first_packet.len();
        (n > 0).then(|| self.first_packet[(n * 99).div_ceil(100) - 1])
    }

    /// The share of sampled pairs that ended direct.
    pub fn direct_fraction(&self) -> f64 {
        self.direct as f64 / self.ended.max(1) as f64
    }

    /// Control datagrams and bytes per node per minute in the background
    /// window.
    pub fn background_per_node_minute(&self) -> (f64, f64) {
        per_node_minute(&self.background_traffic, self.background_node_minutes)
    }

    /// Control datagrams and bytes per node per minute while pairs talked.
    pub fn talking_per_node_minute(&self) -> (f64, f64) {
        per_node_minute(&self.talking_traffic, self.talking_node_minutes)
    }

    /// Why the run failed; empty if it passed.
    pub fn failures(&self) -> Vec<String> {
        let mut f = Vec::new();
        if !self.finished {
            f.push("the run did not finish".to_string());
        }
        for v in self.violations.iter().take(10) {
            f.push(format!("violation: {v}"));
        }
        if self.talked < self.ended {
            let knew = |k: usize| {
                self.silent
                    .iter()
                    .filter(|s| s.knew.iter().filter(|&&x| x).count() == k)
                    .count()
            };
            f.push(format!(
                "{} of {} sampled pairs did not talk within {}s: in {} neither side knew of the other at the end, \
                 in {} one side did, in {} both did",
                self.ended - self.talked,
                self.ended,
                self.conversation.as_secs(),
                knew(0),
                knew(1),
                knew(2)
            ));
            for s in self.silent.iter().take(10) {
                f.push(format!(
                    "  {} ({}, node {}) <-> {} ({}, node {}): got through {}; {}",
                    s.a,
                    s.sides.0,
                    s.nodes.0,
                    s.b,
                    s.sides.1,
                    s.nodes.1,
                    match s.got_through {
                        [true, false] => "only a -> b",
                        [false, true] => "only b -> a",
                        _ => "neither way",
                    },
                    s.detail
                ));
            }
        }
        f
    }

    /// Whether every sampled pair talked and nothing broke.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }
}

fn per_node_minute(t: &Traffic, node_minutes: f64) -> (f64, f64) {
    let m = node_minutes.max(1e-9);
    (
        t.control_datagrams() as f64 / m,
        t.control_bytes() as f64 / m,
    )
}

impl fmt::Display for MeshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs =
            |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.2}s", d.as_secs_f64()));
        let sides: Vec<String> = self
            .by_side
            .iter()
            .map(|(s, n)| format!("{} {n}", s.short()))
            .collect();
        writeln!(
            f,
            "mesh: {} nodes ({}), {} NATs of {}-{} nodes; seed {}; settled {:.1} virtual min, then {} pairs talked for {}s each; ended at {}",
            self.nodes,
            sides.join(", "),
            self.nats,
            self.nat_sizes.0,
            self.nat_sizes.1,
            self.seed,
            self.settle.as_secs_f64() / 60.0,
            self.sampled,
            self.conversation.as_secs(),
            self.end
        )?;
        writeln!(
            f,
            "  pairs: {}/{} talked ({} sampled of {}); first packet median {}, p99 {}, slowest {}{} (per direction, from the first send)",
            self.talked,
            self.ended,
            self.sampled,
            self.all_pairs,
            secs(self.median_first_packet()),
            secs(self.p99_first_packet()),
            secs(self.first_packet.last().copied()),
            self.slowest.map_or(String::new(), |((a, x), (b, y))| format!(
                " ({a} {} -> {b} {})",
                x.short(),
                y.short()
            ))
        )?;
        let relayed: Vec<String> = self
            .relayed_by_sides
            .iter()
            .take(6)
            .map(|((x, y), n)| format!("{}×{} {n}", x.short(), y.short()))
            .collect();
        writeln!(
            f,
            "  direct at the end: {}/{} pairs ({:.1} %); relayed: {}",
            self.direct,
            self.ended,
            100.0 * self.direct_fraction(),
            if relayed.is_empty() {
                "none".to_string()
            } else {
                relayed.join(", ")
            }
        )?;
        let (bd, bb) = self.background_per_node_minute();
        let (td, tb) = self.talking_per_node_minute();
        writeln!(
            f,
            "  control traffic per node per minute: {bd:.1} datagrams, {bb:.0} bytes while settled (last 2 min); {td:.1} datagrams, {tb:.0} bytes while pairs talked"
        )?;
        let by_type = |t: &Traffic, m: f64| {
            let per = |n: u64| n as f64 / m.max(1e-9);
            t.breakdown()
                .iter()
                .map(|(name, n, b)| format!("{name} {:.1}/{:.0}B", per(*n), per(*b)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "    by type, settled: {}",
            by_type(&self.background_traffic, self.background_node_minutes)
        )?;
        writeln!(
            f,
            "    by type, talking: {}",
            by_type(&self.talking_traffic, self.talking_node_minutes)
        )?;
        writeln!(
            f,
            "  per node at the end (min / median / max): {} members known, {} sessions",
            self.members, self.sessions
        )?;
        writeln!(
            f,
            "  node drops: {}",
            counts(&self.node_drops, |k| k.to_string())
        )?;
        let l = &self.lookups;
        writeln!(
            f,
            "  lookups: {} started, {} found, {} not found, {} unanswered; {} passed on, {} answered for others",
            l.started, l.found, l.not_found, l.timed_out, l.forwarded, l.answered
        )?;
        writeln!(
            f,
            "  network drops: {}",
            counts(&self.net_drops, |k| format!("{k:?}"))
        )?;
        let ports: Vec<String> = self
            .nat_ports
            .iter()
            .map(|(k, p)| {
                format!(
                    "{k} {} (≤{}{})",
                    p.nats,
                    p.most_mappings,
                    if p.exhausted > 0 {
                        format!(", {} out of ports", p.exhausted)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        writeln!(
            f,
            "  NATs by kind (most mappings one created): {}",
            ports.join(", ")
        )?;
        writeln!(
            f,
            "  simulator: {} events; {} violations; run digest {:#018x}",
            self.events,
            self.violations.len(),
            self.digest
        )?;
        let failures = self.failures();
        if failures.is_empty() {
            write!(f, "  PASSED")
        } else {
            writeln!(f, "  FAILED:")?;
            write!(f, "{}", failures.join("\n"))
        }
    }
}
