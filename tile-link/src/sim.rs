//! A deterministic in-memory grid of [`Node`]s, for tests, examples and
//! experiments: no sockets, no clock, no threads.
//!
//! Every tile is linked to each grid neighbour by a pair of simulated links
//! with a fixed latency and a rate (packets per millisecond per direction,
//! given to the tile as link credit each step). Time advances in
//! one-millisecond steps from a caller-chosen start. A tile can fail (its
//! neighbours see the link go down; packets in flight to or from it are
//! lost; its store survives, partial files included) and return (a fresh
//! node over the same store, linked up again).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::dir::Dir;
use crate::file::{FileName, MemStore};
use crate::grid::{Grid, Pos};
use crate::node::{Node, NodeConfig, NodeEvent};
use crate::tile::Event;

/// A packet on a simulated link.
#[derive(Debug)]
struct InFlight {
    at: Instant,
    from: usize,
    to: usize,
    arrival: Dir,
    packet: Vec<u8>,
}

/// A simulated grid of tiles.
#[derive(Debug)]
pub struct GridSim {
    grid: Grid,
    configs: Vec<NodeConfig>,
    nodes: Vec<Option<Node<MemStore>>>,
    stores: Vec<Option<MemStore>>,
    open_mfm: bool,
    now: Instant,
    latency: Duration,
    rate: u32,
    wire: VecDeque<InFlight>,
    tx_bytes: Vec<u64>,
    mfm: Vec<Vec<(Dir, Vec<u8>)>>,
    events: Vec<Vec<NodeEvent>>,
}

impl GridSim {
    /// A grid of live tiles, all linked. Each tile gets `config` with its
    /// index added to the seed. With `open_mfm`, every tile opens its MFM
    /// channel before its links come up, and what the channel receives is
    /// recorded ([`GridSim::mfm_log`]).
    pub fn new(
        grid: Grid,
        config: NodeConfig,
        start: Instant,
        latency: Duration,
        rate: u32,
        open_mfm: bool,
    ) -> Self {
        let n = grid.positions().count();
        let mut s = Self {
            grid,
            configs: (0..n)
                .map(|i| NodeConfig {
                    seed: config.seed.wrapping_add(i as u64),
                    ..config.clone()
                })
                .collect(),
            nodes: (0..n).map(|_| None).collect(),
            stores: (0..n).map(|_| Some(MemStore::new())).collect(),
            open_mfm,
            now: start,
            latency,
            rate,
            wire: VecDeque::new(),
            tx_bytes: vec![0; n],
            mfm: vec![Vec::new(); n],
            events: vec![Vec::new(); n],
        };
        for i in 0..n {
            s.revive(i);
        }
        s
    }

    /// The index of the tile at `pos`.
    pub fn index(&self, pos: Pos) -> usize {
        usize::from(pos.y) * usize::from(self.grid.width) + usize::from(pos.x)
    }

    fn pos(&self, i: usize) -> Pos {
        let w = usize::from(self.grid.width);
        Pos {
            x: (i % w) as u16,
            y: (i / w) as u16,
        }
    }

    /// Tiles in the grid.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the grid has no tiles.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The current simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The live node at index `i`, if it is up.
    pub fn node(&self, i: usize) -> Option<&Node<MemStore>> {
        self.nodes[i].as_ref()
    }

    /// The live node at index `i`, if it is up.
    pub fn node_mut(&mut self, i: usize) -> Option<&mut Node<MemStore>> {
        self.nodes[i].as_mut()
    }

    /// Whether tile `i` is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].is_some()
    }

    /// Replaces tile `i`'s configuration from its next return on.
    pub fn set_config(&mut self, i: usize, config: NodeConfig) {
        self.configs[i] = config;
    }

    /// Puts bytes straight into tile `i`'s live area (the tile must be down).
    pub fn plant(&mut self, i: usize, name: FileName, bytes: Vec<u8>) {
        if let Some(s) = self.stores[i].as_mut() {
            s.insert_unchecked(name, bytes);
        }
    }

    /// Tile `i`'s store, up or down.
    pub fn store(&self, i: usize) -> &MemStore {
        match (&self.nodes[i], &self.stores[i]) {
            (Some(n), _) => n.files().store(),
            (None, Some(s)) => s,
            (None, None) => unreachable!("a tile has a node or a stored store"),
        }
    }

    /// Bytes tile `i` has put on its links.
    pub fn tx_bytes(&self, i: usize) -> u64 {
        self.tx_bytes[i]
    }

    /// What tile `i`'s MFM channel received: direction and packet.
    pub fn mfm_log(&self, i: usize) -> &[(Dir, Vec<u8>)] {
        &self.mfm[i]
    }

    /// Tile `i`'s other events, in order.
    pub fn events(&self, i: usize) -> &[NodeEvent] {
        &self.events[i]
    }

    /// Takes tile `i` down.
    pub fn fail(&mut self, i: usize) {
        let Some(node) = self.nodes[i].take() else {
            return;
        };
        self.stores[i] = Some(node.into_store());
        self.wire.retain(|p| p.from != i && p.to != i);
        let now = self.now;
        for (dir, q) in self.grid.neighbours(self.pos(i)).collect::<Vec<_>>() {
            let j = self.index(q);
            if let Some(n) = self.nodes[j].as_mut() {
                n.handle_link_down(now, dir.opposite());
            }
        }
    }

    /// Brings tile `i` back over its old store.
    pub fn revive(&mut self, i: usize) {
        let Some(store) = self.stores[i].take() else {
            return;
        };
        let mut node = Node::new(self.configs[i].clone(), store, self.now);
        if self.open_mfm {
            // A fresh tile's channel is free.
            let _ = node.tile_mut().open_mfm();
        }
        self.nodes[i] = Some(node);
        let now = self.now;
        for (dir, q) in self.grid.neighbours(self.pos(i)).collect::<Vec<_>>() {
            let j = self.index(q);
            if self.nodes[j].is_none() {
                continue;
            }
            if let Some(n) = self.nodes[j].as_mut() {
                n.handle_link_up(now, dir.opposite());
            }
            if let Some(n) = self.nodes[i].as_mut() {
                n.handle_link_up(now, dir);
            }
        }
    }

    /// Advances one millisecond: delivers due packets, fires timers, hands
    /// out link credit and puts new packets on the links.
    pub fn step(&mut self) {
        self.now += Duration::from_millis(1);
        let now = self.now;
        while self.wire.front().is_some_and(|p| p.at <= now) {
            let Some(p) = self.wire.pop_front() else {
                break;
            };
            if let Some(n) = self.nodes[p.to].as_mut() {
                n.handle_packet(now, p.arrival, &p.packet);
            }
        }
        for i in 0..self.nodes.len() {
            let pos = self.pos(i);
            let neighbours: Vec<(Dir, Pos)> = self.grid.neighbours(pos).collect();
            let Some(n) = self.nodes[i].as_mut() else {
                continue;
            };
            if n.poll_timeout().is_some_and(|t| t <= now) {
                n.handle_timeout(now);
            }
            for (dir, _) in &neighbours {
                n.handle_link_credit(*dir, self.rate);
            }
            while let Some(t) = n.poll_transmit() {
                let Some(q) = neighbours.iter().find(|(d, _)| *d == t.dir).map(|x| x.1) else {
                    continue;
                };
                let to = usize::from(q.y) * usize::from(self.grid.width) + usize::from(q.x);
                self.tx_bytes[i] += t.packet.len() as u64;
                self.wire.push_back(InFlight {
                    at: now + self.latency,
                    from: i,
                    to,
                    arrival: t.dir.opposite(),
                    packet: t.packet,
                });
            }
            while let Some(e) = n.poll_event() {
                match e {
                    NodeEvent::Tile(Event::Mfm { dir, packet }) => self.mfm[i].push((dir, packet)),
                    NodeEvent::Tile(Event::MfmCredit { .. }) => {}
                    other => self.events[i].push(other),
                }
            }
        }
    }

    /// Steps until `done` holds or `limit` has passed; returns whether it
    /// held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// How many tiles hold `bytes` as the live `name`.
    pub fn holders(&self, name: &FileName, bytes: &[u8]) -> usize {
        (0..self.len())
            .filter(|i| self.store(*i).live(name) == Some(bytes))
            .count()
    }

    /// Whether any tile holds something else than `bytes` as the live
    /// `name`: a partial or foreign file would show here.
    pub fn any_other(&self, name: &FileName, bytes: &[u8]) -> bool {
        (0..self.len()).any(|i| self.store(i).live(name).is_some_and(|b| b != bytes))
    }
}

/// Tiles failing and returning while a file spreads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Churn {
    /// Seed of the failure schedule.
    pub seed: u64,
    /// Tiles down at once, at most.
    pub max_down: usize,
    /// How often a tile may fail.
    pub every: Duration,
    /// Shortest and longest time a failed tile stays down.
    pub down_for: (Duration, Duration),
    /// No new failures after this long; every tile is back soon after.
    pub until: Duration,
}

/// How one file spread over the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// Tiles in the grid.
    pub tiles: usize,
    /// Bytes of the signed file.
    pub file_len: usize,
    /// From publishing until every tile held the file, if that happened.
    pub time: Option<Duration>,
    /// All bytes put on links (headers, adverts, acknowledgements
    /// included), divided by the number of tiles.
    pub bytes_per_tile: f64,
    /// Tile failures injected.
    pub failures: usize,
}

impl GridSim {
    /// Publishes `file` at tile `from` and steps until every tile holds it
    /// or `limit` passes, with tiles failing and returning per `churn`.
    pub fn spread(
        &mut self,
        from: usize,
        name: &FileName,
        file: &[u8],
        limit: Duration,
        churn: Option<Churn>,
    ) -> Spread {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{RngCore, SeedableRng};

        let start = self.now;
        let bytes0: u64 = self.tx_bytes.iter().sum();
        let published = self.nodes[from]
            .as_mut()
            .is_some_and(|n| n.publish(file).is_ok());
        let mut rng = ChaCha20Rng::seed_from_u64(churn.map_or(0, |c| c.seed));
        let mut back_at: Vec<Option<Instant>> = vec![None; self.len()];
        let mut failures = 0;
        let mut next_fail = start;
        let mut time = None;
        while published && self.now - start < limit {
            if self.holders(name, file) == self.len() {
                time = Some(self.now - start);
                break;
            }
            if let Some(c) = churn {
                let down = back_at.iter().filter(|b| b.is_some()).count();
                if self.now - start < c.until && self.now >= next_fail {
                    next_fail = self.now + c.every;
                    let i = (rng.next_u64() % self.len() as u64) as usize;
                    if i != from && down < c.max_down && self.is_up(i) {
                        let span = (c.down_for.1 - c.down_for.0).as_millis().max(1) as u64;
                        let d = c.down_for.0 + Duration::from_millis(rng.next_u64() % span);
                        self.fail(i);
                        back_at[i] = Some(self.now + d);
                        failures += 1;
                    }
                }
                let now = self.now;
                let due: Vec<usize> = (0..back_at.len())
                    .filter(|i| back_at[*i].is_some_and(|t| t <= now))
                    .collect();
                for i in due {
                    back_at[i] = None;
                    self.revive(i);
                }
            }
            self.step();
        }
        let bytes: u64 = self.tx_bytes.iter().sum::<u64>() - bytes0;
        Spread {
            tiles: self.len(),
            file_len: file.len(),
            time,
            bytes_per_tile: bytes as f64 / self.len() as f64,
            failures,
        }
    }
}
