//! The chaosnet: autonomous agents join, leave, crash and restart, roam,
//! send app packets between random pairs, and cut and heal paths and links
//! at random for some virtual minutes. Then the chaos stops and the run
//! checks its invariants ([`check`]):
//!
//! 1. no panic (a node's panic fails the run);
//! 2. every app packet delivered was sent by the node whose address it
//!    claims, unmodified, to the node that delivered it, at most once;
//! 3. within [`ChaosConfig::recovery_bound`] after the chaos stops, every
//!    probed pair of live nodes talks again, both ways.
//!
//! **Which pairs have a path.** The topology holds only public nodes and
//! endpoint-independent-mapping NATs (full, restricted and port-restricted
//! cones, and port-restricted home routers behind one carrier-grade NAT),
//! all with hairpinning; when the chaos stops every partition, cut and dead
//! link heals and every crashed node restarts (nodes that left stay gone).
//! Under those rules every pair of live nodes can reach each other directly
//! once they know each other's endpoints, so every live pair must recover.
//!
//! A run is a schedule of agent actions on its own seeded queue, interleaved
//! with the world's events; [`Chaos::advance`] moves both forward, so a
//! caller (the CLI) can report progress between slices.

mod agents;
pub mod check;
mod config;
mod report;

use std::time::Duration;

use rand_chacha::ChaCha20Rng;

pub use config::ChaosConfig;
pub use report::{ActionCounts, Report};

use crate::event::Queue;
use crate::ids::{HostId, NatId};
use crate::rng::{stream, Stream};
use crate::script;
use crate::time::SimTime;
use crate::world::World;
use check::Recovery;

/// Where a planned node will sit when it joins.
#[derive(Debug, Clone, Copy)]
enum Spot {
    Public,
    Behind(NatId),
}

/// Something the agents do at an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    /// Planned node `i` joins.
    Join(usize),
    /// A random agent acts; the next one is scheduled.
    Agent,
    /// A random pair exchanges an app packet; the next one is scheduled.
    Traffic,
    /// The network splits in two; the next split is scheduled.
    Partition,
    /// A crashed node restarts, unless it restarted (and went down again)
    /// since: the number is its incarnation when it went down.
    Restart(HostId, u32),
    /// A node that left joins again (same rule).
    Rejoin(HostId, u32),
    /// A dead link comes back, unless it was taken down again since: the
    /// number is the fault's sequence number.
    LinkUp(HostId, u64),
    /// A cut path comes back (same rule).
    Uncut(HostId, HostId, u64),
    /// The partition ends (same rule).
    Heal(u64),
    /// The chaos stops and the recovery check begins.
    Stop,
    /// The recovery check probes the pairs still silent.
    Probe,
}

/// Which part of the run is going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Agents act.
    Chaos,
    /// Faults are healed; the pairs are probed.
    Recovery,
    /// The run is over.
    Done,
}

/// A chaos run in progress. See the module documentation.
pub struct Chaos {
    cfg: ChaosConfig,
    world: World,
    rng: ChaCha20Rng,
    agenda: Queue<Action>,
    spots: Vec<Spot>,
    anchors: Vec<HostId>,
    /// NATs that nodes may sit or roam behind.
    nats: Vec<NatId>,
    phase: Phase,
    counts: ActionCounts,
    recovery: Option<Recovery>,
    stopped_at: Option<SimTime>,
    /// Sequence numbers of faults; the latest fault on each link, path and
    /// of the partition is the one that its undoing must match.
    faults: Faults,
}

/// The latest fault on each thing that faults can hit.
#[derive(Debug, Default)]
struct Faults {
    next: u64,
    links: std::collections::HashMap<HostId, u64>,
    cuts: std::collections::HashMap<(HostId, HostId), u64>,
    partition: u64,
}

impl Faults {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

impl Chaos {
    /// Plans a run: its NATs and where each node will sit.
    ///
    /// # Errors
    /// Fails when the topology does not fit the address plan (762 public
    /// IPv4 addresses for public nodes and NATs).
    pub fn new(cfg: ChaosConfig) -> Result<Self, crate::SimError> {
        let mut world = World::new(cfg.seed);
        world.set_default_link(cfg.link.clone());
        world.set_threads(cfg.threads);
        let mut rng = stream(cfg.seed, Stream::Chaos);
        let (spots, nats) = agents::plan_topology(&cfg, &mut world, &mut rng)?;
        let mut agenda = Queue::new();
        let t0 = SimTime::ZERO;
        for i in cfg.anchors..spots.len() {
            let at = t0 + cfg.join_window.mul_f64(crate::rng::unit(&mut rng));
            agenda.push(at, Action::Join(i));
        }
        agenda.push(t0 + agents::agent_gap(&cfg, &mut rng), Action::Agent);
        agenda.push(t0 + agents::traffic_gap(&cfg, &mut rng), Action::Traffic);
        agenda.push(
            t0 + agents::partition_gap(&cfg, &mut rng),
            Action::Partition,
        );
        agenda.push(t0 + cfg.chaos, Action::Stop);
        let mut chaos = Self {
            cfg,
            world,
            rng,
            agenda,
            spots,
            anchors: Vec::new(),
            nats,
            phase: Phase::Chaos,
            counts: ActionCounts::default(),
            recovery: None,
            stopped_at: None,
            faults: Faults::default(),
        };
        for i in 0..chaos.cfg.anchors.min(chaos.spots.len()) {
            agents::join(&mut chaos, i);
        }
        Ok(chaos)
    }

    /// The world being run.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, mutably (to drop its nodes when measuring memory).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The run's parameters.
    pub fn config(&self) -> &ChaosConfig {
        &self.cfg
    }

    /// Which part of the run is going on.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Runs the world and the agents for `d` of virtual time, or until
    /// the run is over.
    pub fn advance(&mut self, d: Duration) {
        script::advance(self, d);
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Report {
        script::finish(&mut self);
        self.report()
    }

    /// The numbers of the run so far.
    pub fn report(&self) -> Report {
        report::build(self)
    }

    fn act(&mut self, action: Action) {
        let now = self.world.now();
        match (self.phase, action) {
            (Phase::Chaos, Action::Join(i)) => agents::join(self, i),
            (Phase::Chaos, Action::Agent) => agents::agent(self, now),
            (Phase::Chaos, Action::Traffic) => agents::traffic(self, now),
            (Phase::Chaos, Action::Partition) => agents::partition(self, now),
            (Phase::Chaos, Action::Restart(h, inc)) if self.world.incarnations(h) == inc => {
                self.world.start(h);
            }
            (Phase::Chaos, Action::Rejoin(h, inc))
                if self.world.incarnations(h) == inc && !self.world.is_up(h) =>
            {
                self.counts.rejoins += 1;
                self.world.start(h);
            }
            (Phase::Chaos, Action::LinkUp(h, n)) if self.faults.links.get(&h) == Some(&n) => {
                self.world.set_link_up(h, true);
            }
            (Phase::Chaos, Action::Uncut(a, b, n)) if self.faults.cuts.get(&(a, b)) == Some(&n) => {
                self.world.uncut(a, b);
            }
            (Phase::Chaos, Action::Heal(n)) if self.faults.partition == n => {
                self.world.heal_partition();
            }
            (Phase::Chaos, Action::Stop) => self.stop(now),
            (Phase::Recovery, Action::Probe) => self.probe(now),
            // Undoing a fault that a later one replaced, and anything
            // scheduled during the chaos once it stopped, lapse.
            _ => {}
        }
    }

    /// Stops the chaos: heals every fault, restarts crashed nodes, and
    /// starts probing.
    fn stop(&mut self, now: SimTime) {
        self.phase = Phase::Recovery;
        self.stopped_at = Some(now);
        self.world.heal_all();
        let crashed: Vec<HostId> = self
            .world
            .hosts()
            .filter(|&h| self.world.liveness(h) == crate::host::Liveness::Crashed)
            .collect();
        for h in crashed {
            self.world.start(h);
        }
        self.recovery = Some(Recovery::new(&self.world, &self.cfg, &mut self.rng));
        self.agenda.push(now, Action::Probe);
    }

    fn probe(&mut self, now: SimTime) {
        let stopped = self.stopped_at.expect("probing after the stop");
        let recovery = self.recovery.as_mut().expect("probing after the stop");
        if recovery.round(&mut self.world, now, stopped + self.cfg.recovery_bound) {
            self.phase = Phase::Done;
        } else {
            self.agenda
                .push(now + self.cfg.probe_interval, Action::Probe);
        }
    }
}

crate::script::scripted!(Chaos);
