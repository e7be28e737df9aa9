//! The recovery check: once the chaos stops, probe pairs of live nodes with
//! app packets until each direction got one through, or the bound passes.
//!
//! Every `probe_interval`, each direction not yet confirmed gets a new probe
//! (an app packet, which also makes the sender connect if it has no
//! session). A direction is confirmed at the delivery time of its first
//! delivered probe.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use rand_chacha::ChaCha20Rng;

use super::ChaosConfig;
use crate::ids::HostId;
use crate::rng::below;
use crate::time::SimTime;
use crate::traffic::PacketId;
use crate::world::World;

/// One direction of a probed pair.
#[derive(Debug)]
struct Direction {
    from: HostId,
    to: HostId,
    probes: Vec<PacketId>,
    confirmed_at: Option<SimTime>,
}

/// The recovery check in progress.
#[derive(Debug)]
pub struct Recovery {
    started: SimTime,
    live: usize,
    pairs: usize,
    dirs: Vec<Direction>,
}

/// What the recovery check found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Live nodes when the chaos stopped.
    pub live: usize,
    /// Pairs probed.
    pub pairs: usize,
    /// Directions probed (two per pair).
    pub directions: usize,
    /// Directions that got a probe through.
    pub confirmed: usize,
    /// When the last confirmed direction got through, after the stop.
    pub slowest: Option<Duration>,
    /// The median time to get through, after the stop.
    pub median: Option<Duration>,
    /// Directions that never got through, with what each side knew.
    pub silent: Vec<String>,
}

impl Recovery {
    /// Picks the pairs to probe among the nodes up now: all pairs if there
    /// are at most `cfg.max_probe_pairs`, else that many at random.
    pub fn new(world: &World, cfg: &ChaosConfig, rng: &mut ChaCha20Rng) -> Self {
        let live: Vec<HostId> = world.hosts().filter(|&h| world.is_up(h)).collect();
        let n = live.len();
        let all = n * n.saturating_sub(1) / 2;
        let mut pairs = Vec::new();
        if all <= cfg.max_probe_pairs {
            for i in 0..n {
                for j in i + 1..n {
                    pairs.push((live[i], live[j]));
                }
            }
        } else {
            let mut seen = HashSet::new();
            while pairs.len() < cfg.max_probe_pairs {
                let i = below(rng, n as u64) as usize;
                let j = below(rng, n as u64) as usize;
                let p = (live[i.min(j)], live[i.max(j)]);
                if i != j && seen.insert(p) {
                    pairs.push(p);
                }
            }
        }
        let dirs = pairs
            .iter()
            .flat_map(|&(a, b)| [(a, b), (b, a)])
            .map(|(from, to)| Direction {
                from,
                to,
                probes: Vec::new(),
                confirmed_at: None,
            })
            .collect();
        Self {
            started: world.now(),
            live: n,
            pairs: pairs.len(),
            dirs,
        }
    }

    /// Confirms directions whose probes got through; then, unless all are
    /// confirmed or `deadline` has come, sends new probes. Returns whether
    /// the check is over.
    pub fn round(&mut self, world: &mut World, now: SimTime, deadline: SimTime) -> bool {
        for d in self.dirs.iter_mut().filter(|d| d.confirmed_at.is_none()) {
            d.confirmed_at = d
                .probes
                .iter()
                .filter_map(|&p| world.ledger().delivered_at(p))
                .min();
        }
        if self.dirs.iter().all(|d| d.confirmed_at.is_some()) || now >= deadline {
            return true;
        }
        for d in self.dirs.iter_mut().filter(|d| d.confirmed_at.is_none()) {
            if let Some(id) = world.send_app(d.from, d.to, 100) {
                d.probes.push(id);
            }
        }
        false
    }

    /// The findings so far.
    pub fn outcome(&self, world: &World) -> Outcome {
        let mut times: Vec<Duration> = self
            .dirs
            .iter()
            .filter_map(|d| d.confirmed_at)
            .map(|t| t.saturating_since(self.started))
            .collect();
        times.sort();
        let silent = self
            .dirs
            .iter()
            .filter(|d| d.confirmed_at.is_none())
            .map(|d| describe(world, d.from, d.to))
            .collect();
        Outcome {
            live: self.live,
            pairs: self.pairs,
            directions: self.dirs.len(),
            confirmed: times.len(),
            slowest: times.last().copied(),
            median: times.get(times.len() / 2).copied(),
            silent,
        }
    }
}

/// What `a` and `b` know of each other, for a failure message.
pub fn describe(world: &World, a: HostId, b: HostId) -> String {
    let mut s = format!("{a} -> {b}:");
    for (x, y) in [(a, b), (b, a)] {
        let _ = write!(s, " [{x} at {} ({:?})", world.addr(x), world.net(x));
        match world.node_ref(x) {
            None => s.push_str(" down]"),
            Some(node) => {
                let status = node.status(world.instant(world.now()));
                let y_id = world.node_id(y).to_string();
                match status.peers.iter().find(|p| p.node_id == y_id) {
                    None => {
                        let _ = write!(s, " does not know {y}]");
                    }
                    Some(p) => {
                        let _ = write!(
                            s,
                            " sees {y} at {}, connected {}, last handshake {:?}s ago]",
                            p.endpoint.as_deref().unwrap_or("-"),
                            p.connected,
                            p.last_handshake_ago_secs.map(|t| t.round())
                        );
                    }
                }
            }
        }
    }
    s
}
