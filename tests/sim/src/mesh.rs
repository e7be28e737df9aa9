//! Complete connectivity at scale: N nodes behind a random mix of NAT
//! kinds, then many random pairs that start talking, each measured.
//!
//! **The network.** 5 % of the nodes have a public IPv4 address; the first
//! three of them are the anchors that every other node is given as
//! `--peer` (two at random each). Every other node sits behind a NAT of a
//! kind drawn uniformly from full cone, restricted cone, port-restricted
//! cone, symmetric with preserved, sequential and random ports, and a
//! port-restricted home router behind a carrier-grade NAT (no UDP-blocked
//! NATs: the simulator has no TCP). Nodes of one kind share NATs in random
//! groups of 1 to 3 (a home with a few machines), and home routers share
//! carrier-grade NATs (up to 61 each). When the address plan's 762 public
//! IPv4 addresses cannot hold that many NATs (beyond about 1,600 nodes),
//! the groups grow (1 to 61 nodes, 31 on average, at 10,000 nodes); the
//! report says which. The links are the chaosnet's: 20 ms ± 10 ms, 1 %
//! loss, 0.5 % duplication, 1 % reordering.
//!
//! **The run.** The anchors start at 0; the others join at random times in
//! the first minute; then the network settles, with no faults and no app
//! traffic, until [`MeshConfig::settle`] (5 virtual minutes). Then P pairs,
//! drawn uniformly from all pairs (all of them if there are no more than
//! P), start a conversation each, at random times over one minute: both
//! sides send a 100-byte app packet to the other at once and then every
//! second, for 30 s, like `tessel ping` both ways.
//!
//! **What is measured**, per pair:
//!
//! * whether it talked: a packet got through each way within the 30 s;
//! * the time to the first packet, per direction: from the first send to
//!   the first delivery (a dropped packet is not sent again; the next
//!   second's packet is a new one, as an app would send);
//! * whether it ends direct: at the end of the 30 s, both sides send
//!   straight to each other ([`World::direct`]);
//!
//! and for the network: control traffic per node per minute, once over the
//! last two minutes of settling (background: keepalives, gossip, rekeys,
//! STUN, punches toward new neighbours) and once while the pairs talk
//! (handshakes, hole punching, relaying overhead); the members each node knows and the sessions it holds at the
//! end; and data-path violations (the ledger checks every delivery).
//! Everything derives from the seed: the same seed gives the same numbers.
//! (Memory per node is the CLI's to measure, with its counting allocator.)
//!
//! ```text
//! cargo run --release -p tessel-sim -- mesh --nodes 1000 --pairs 1000 --seed 1
//! ```

mod plan;
mod report;

use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use tessel_overlay::node::Path;

use crate::chaos::check::describe;
use crate::event::Queue;
use crate::host::Place;
use crate::ids::HostId;
use crate::link::Link;
use crate::matrix::Side;
use crate::nat::NatKind;
use crate::rng::{below, stream, unit, Stream};
use crate::script;
use crate::time::SimTime;
use crate::traffic::PacketId;
use crate::world::World;
use crate::SimError;
use plan::Spot;
use report::{knows, Snapshot};
pub use report::{MeshReport, NatPorts, Silent, Spread};

/// The places a node that is not public may have, drawn uniformly.
pub const NAT_SIDES: [Side; 7] = [
    Side::Nat(NatKind::FullCone),
    Side::Nat(NatKind::RestrictedCone),
    Side::Nat(NatKind::PortRestrictedCone),
    Side::Nat(NatKind::SymmetricPreserving),
    Side::Nat(NatKind::SymmetricSequential),
    Side::Nat(NatKind::SymmetricRandom),
    Side::Cgn,
];

/// The last two minutes of settling are the background traffic's window.
const QUIET: Duration = Duration::from_secs(120);

/// Parameters of a mesh run. [`MeshConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Nodes.
    pub nodes: usize,
    /// Pairs to sample (all pairs if there are no more).
    pub pairs: usize,
    /// Seed of everything.
    pub seed: u64,
    /// Share of the nodes with a public IPv4 address (at least the anchors).
    pub public_fraction: f64,
    /// Public nodes that the others bootstrap from (two each).
    pub anchors: usize,
    /// Non-anchor nodes join at random times in `[0, join_window)`.
    pub join_window: Duration,
    /// Conversations begin this long after the start (at least the join
    /// window: everyone has joined by then).
    pub settle: Duration,
    /// Conversations begin at random times in `[settle, settle + start_window)`.
    pub start_window: Duration,
    /// How long each pair talks; whether it is direct is read at the end.
    pub conversation: Duration,
    /// Each side sends an app packet this often while it talks.
    pub interval: Duration,
    /// Bytes of each app packet.
    pub packet_len: usize,
    /// Every host's and NAT's access link.
    pub link: Link,
}

impl MeshConfig {
    /// The default run: `nodes` nodes, `pairs` pairs, 5 virtual minutes of
    /// settling, 30 s conversations.
    pub fn new(nodes: usize, pairs: usize, seed: u64) -> Self {
        Self {
            nodes,
            pairs,
            seed,
            public_fraction: 0.05,
            anchors: 3,
            join_window: Duration::from_secs(60),
            settle: Duration::from_secs(300),
            start_window: Duration::from_secs(60),
            conversation: Duration::from_secs(30),
            interval: Duration::from_secs(1),
            packet_len: 100,
            link: Link::wide_area(),
        }
    }
}

/// One pair's conversation.
#[derive(Debug, Clone)]
struct Conversation {
    a: HostId,
    b: HostId,
    start: SimTime,
    /// Probes sent a → b, then b → a.
    probes: [Vec<PacketId>; 2],
    /// From the first send to the first delivery, per direction.
    first: [Option<Duration>; 2],
    /// Each side's path at the end (`None`: no usable session).
    paths: [Option<Path>; 2],
    over: bool,
    /// What each side knew of the other at the end, if the pair did not talk.
    detail: Option<String>,
    /// Whether a knew of b, and b of a, at the end.
    knew: [bool; 2],
}

impl Conversation {
    fn talked(&self) -> bool {
        self.first.iter().all(Option::is_some)
    }

    fn direct(&self) -> bool {
        self.paths
            .iter()
            .all(|p| matches!(p, Some(Path::Direct(_))))
    }
}

/// Something the scenario does at an instant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    /// Node `i` of the plan joins.
    Join(usize),
    /// The background traffic's window opens.
    Quiet,
    /// Settling is over: the conversations begin.
    Settled,
    /// Conversation `k` sends a packet each way.
    Tick(usize),
    /// Conversation `k` ends.
    End(usize),
}

/// Which part of the run is going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nodes join and the network settles.
    Settling,
    /// Pairs talk.
    Talking,
    /// Every conversation is over.
    Done,
}

/// A mesh run in progress. See the module documentation.
pub struct Mesh {
    cfg: MeshConfig,
    world: World,
    rng: ChaCha20Rng,
    agenda: Queue<Action>,
    spots: Vec<Spot>,
    /// Every pair that exists, for the report.
    all_pairs: usize,
    sizes: (usize, usize),
    conversations: Vec<Conversation>,
    /// Bootstrap addresses of node `i` are those of these nodes.
    anchors: usize,
    phase: Phase,
    ended: usize,
    quiet: Option<Snapshot>,
    settled: Option<Snapshot>,
}

impl Mesh {
    /// Plans a run: creates its NATs and schedules the joins and the
    /// conversations; the anchors start at once.
    ///
    /// # Errors
    /// [`SimError::PublicV4Exhausted`] or [`SimError::LansExhausted`] when
    /// the NATs do not fit the address plan even in the largest groups.
    pub fn new(cfg: MeshConfig) -> Result<Self, SimError> {
        let mut cfg = cfg;
        cfg.settle = cfg.settle.max(cfg.join_window);
        let mut world = World::new(cfg.seed);
        world.set_default_link(cfg.link.clone());
        let mut rng = stream(cfg.seed, Stream::Scenario);
        let n = cfg.nodes;
        let plan::Plan {
            spots,
            anchors,
            sizes,
        } = plan::plan(&cfg, &mut world, &mut rng)?;
        // Join times, in plan order (so that plan index = host ID).
        let mut joins: Vec<Duration> = (anchors..n)
            .map(|_| cfg.join_window.mul_f64(unit(&mut rng)))
            .collect();
        joins.sort();
        let mut agenda = Queue::new();
        let t0 = SimTime::ZERO;
        for (k, at) in joins.into_iter().enumerate() {
            agenda.push(t0 + at, Action::Join(anchors + k));
        }
        let quiet_at = cfg.settle.saturating_sub(QUIET).max(cfg.join_window);
        agenda.push(t0 + quiet_at.min(cfg.settle), Action::Quiet);
        agenda.push(t0 + cfg.settle, Action::Settled);
        let all_pairs = n * n.saturating_sub(1) / 2;
        let conversations = plan::sample_pairs(n, cfg.pairs, &mut rng)
            .into_iter()
            .map(|(a, b)| Conversation {
                a: HostId::from_index(a),
                b: HostId::from_index(b),
                start: t0 + cfg.settle + cfg.start_window.mul_f64(unit(&mut rng)),
                probes: [Vec::new(), Vec::new()],
                first: [None, None],
                paths: [None, None],
                over: false,
                detail: None,
                knew: [false, false],
            })
            .collect();
        let mut mesh = Self {
            cfg,
            world,
            rng,
            agenda,
            spots,
            all_pairs,
            sizes,
            conversations,
            anchors,
            phase: Phase::Settling,
            ended: 0,
            quiet: None,
            settled: None,
        };
        for i in 0..anchors {
            mesh.join(i);
        }
        Ok(mesh)
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
    pub fn config(&self) -> &MeshConfig {
        &self.cfg
    }

    /// Which part of the run is going on.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Runs the world and the scenario for `d` of virtual time, or until
    /// the run is over.
    pub fn advance(&mut self, d: Duration) {
        script::advance(self, d);
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> MeshReport {
        script::finish(&mut self);
        self.report()
    }

    fn act(&mut self, action: Action) {
        let now = self.world.now();
        match action {
            Action::Join(i) => self.join(i),
            Action::Quiet => self.quiet = Some(Snapshot::take(&self.world)),
            Action::Settled => {
                self.settled = Some(Snapshot::take(&self.world));
                self.phase = Phase::Talking;
                for (k, c) in self.conversations.iter().enumerate() {
                    self.agenda.push(c.start, Action::Tick(k));
                    self.agenda
                        .push(c.start + self.cfg.conversation, Action::End(k));
                }
                if self.conversations.is_empty() {
                    self.phase = Phase::Done;
                }
            }
            Action::Tick(k) => {
                let (a, b) = (self.conversations[k].a, self.conversations[k].b);
                for (d, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
                    if let Some(id) = self.world.send_app(from, to, self.cfg.packet_len) {
                        self.conversations[k].probes[d].push(id);
                    }
                }
                let c = &self.conversations[k];
                let next = now + self.cfg.interval;
                if next < c.start + self.cfg.conversation {
                    self.agenda.push(next, Action::Tick(k));
                }
            }
            Action::End(k) => {
                let w = &self.world;
                let c = &mut self.conversations[k];
                for d in 0..2 {
                    c.first[d] = c.probes[d]
                        .iter()
                        .filter_map(|&p| w.ledger().delivered_at(p))
                        .min()
                        .map(|t| t.saturating_since(c.start));
                }
                c.paths = [w.path(c.a, c.b), w.path(c.b, c.a)];
                c.over = true;
                if !c.talked() {
                    let detail = describe(w, c.a, c.b);
                    tracing::info!(a = %c.a, b = %c.b, "pair did not talk: {detail}");
                    c.detail = Some(detail);
                    c.knew = [knows(w, c.a, c.b), knows(w, c.b, c.a)];
                }
                self.ended += 1;
                if self.ended == self.conversations.len() {
                    self.phase = Phase::Done;
                }
            }
        }
    }

    /// Node `i` of the plan starts: an anchor with the anchors before it
    /// as `--peer`, any other node with two anchors drawn at random.
    fn join(&mut self, i: usize) {
        let peers: Vec<HostId> = if i < self.anchors {
            (0..i).map(HostId::from_index).collect()
        } else {
            let n = self.anchors as u64;
            let first = below(&mut self.rng, n) as usize;
            let second = (first + 1 + below(&mut self.rng, n.saturating_sub(1).max(1)) as usize)
                % self.anchors;
            let mut v = vec![HostId::from_index(first)];
            if second != first {
                v.push(HostId::from_index(second));
            }
            v
        };
        let spot = self.spots[i];
        let place = match spot.nat {
            Some(nat) => Place::Behind(nat),
            None => Place::Public,
        };
        let h = self.world.node(place, &peers);
        debug_assert_eq!(h.index(), i, "hosts are created in plan order");
    }

    /// The numbers of the run so far (conversations that have not ended
    /// are left out).
    pub fn report(&self) -> MeshReport {
        report::build(self)
    }

    /// The sides of `a` and `b`, the lesser first (to count pairs by kind).
    fn kinds(&self, a: HostId, b: HostId) -> (Side, Side) {
        let (x, y) = (self.spots[a.index()].side, self.spots[b.index()].side);
        (x.min(y), x.max(y))
    }
}

crate::script::scripted!(Mesh);
