//! An in-memory host: many transports in one process, joined by ordered
//! streams and sharing one record store, driven by a virtual clock. Fully
//! deterministic for a given seed (bytes are cut into seeded random chunks
//! to exercise reassembly). Used by tests and examples.

use std::collections::{BTreeMap, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::config::Config;
use crate::host::{drive, Host};
use crate::ids::{ConnId, NodeId, Time};
use crate::transport::Transport;

/// Records kept per key in the shared store (newest last).
const RECORDS_PER_KEY: usize = 4;
/// Steps after which [`Network::run`] gives up (a livelock in the core).
const MAX_STEPS: usize = 10_000_000;

#[derive(Debug)]
enum NetEvent {
    Open {
        from: usize,
        peer: NodeId,
    },
    Bytes {
        to: usize,
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Closed {
        to: usize,
        conn: ConnId,
    },
    Record {
        to: usize,
        key: [u8; 32],
    },
}

/// One write seen on the network, for tests that tamper with traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The writing node's index.
    pub from: usize,
    /// The receiving node's index.
    pub to: usize,
    /// The bytes as written.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
struct Wires {
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    events: VecDeque<NetEvent>,
    store: BTreeMap<[u8; 32], Vec<Vec<u8>>>,
    log: Vec<Sent>,
    logging: bool,
}

struct Port<'a> {
    me: usize,
    wires: &'a mut Wires,
}

impl Host for Port<'_> {
    fn open(&mut self, peer: NodeId) {
        self.wires.events.push_back(NetEvent::Open {
            from: self.me,
            peer,
        });
    }

    fn write(&mut self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(&(to, their)) = self.wires.links.get(&(self.me, conn)) {
            if self.wires.logging {
                self.wires.log.push(Sent {
                    from: self.me,
                    to,
                    bytes: bytes.clone(),
                });
            }
            self.wires.events.push_back(NetEvent::Bytes {
                to,
                conn: their,
                bytes,
            });
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some((to, their)) = self.wires.links.remove(&(self.me, conn)) {
            self.wires.links.remove(&(to, their));
            self.wires
                .events
                .push_back(NetEvent::Closed { to, conn: their });
        }
    }

    fn publish(&mut self, key: [u8; 32], record: Vec<u8>) {
        let v = self.wires.store.entry(key).or_default();
        v.retain(|r| *r != record);
        v.push(record);
        if v.len() > RECORDS_PER_KEY {
            v.remove(0);
        }
    }

    fn fetch(&mut self, key: [u8; 32]) {
        self.wires
            .events
            .push_back(NetEvent::Record { to: self.me, key });
    }
}

/// Several nodes wired together in memory.
pub struct Network {
    nodes: Vec<Option<Transport>>,
    ids: Vec<NodeId>,
    seeds: Vec<[u8; 32]>,
    now: Time,
    rng: ChaCha20Rng,
    next_conn: u64,
    wires: Wires,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("nodes", &self.nodes.len())
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// An empty network whose randomness comes from `seed`, starting at
    /// time `start`.
    pub fn new(seed: u64, start: Time) -> Self {
        Self {
            nodes: Vec::new(),
            ids: Vec::new(),
            seeds: Vec::new(),
            now: start,
            rng: ChaCha20Rng::seed_from_u64(seed),
            next_conn: 1,
            wires: Wires::default(),
        }
    }

    /// Adds a node with a fresh identity; returns its index.
    pub fn add_node(&mut self, config: Config) -> usize {
        let mut node_seed = [0; 32];
        self.rng.fill_bytes(&mut node_seed);
        let mut rng_seed = [0; 32];
        self.rng.fill_bytes(&mut rng_seed);
        let mut t = Transport::new(config, &node_seed, rng_seed);
        t.set_time(self.now);
        self.ids.push(t.node_id());
        self.seeds.push(node_seed);
        self.nodes.push(Some(t));
        self.nodes.len() - 1
    }

    /// Restarts node `i` at once with the same identity and a fresh state:
    /// its streams close (the other ends see them close), and it is back
    /// before anyone dials it again.
    pub fn restart_node(&mut self, i: usize, config: Config) {
        if self.is_up(i) {
            self.remove_node(i);
        }
        let mut rng_seed = [0; 32];
        self.rng.fill_bytes(&mut rng_seed);
        let mut t = Transport::new(config, &self.seeds[i], rng_seed);
        t.set_time(self.now);
        self.nodes[i] = Some(t);
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Node `i`'s ID.
    pub fn id(&self, i: usize) -> NodeId {
        self.ids[i]
    }

    /// Whether node `i` is still in the network.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes.get(i).is_some_and(Option::is_some)
    }

    /// Node `i`'s transport.
    ///
    /// # Panics
    /// If the node was removed.
    pub fn node(&self, i: usize) -> &Transport {
        self.nodes[i].as_ref().expect("node removed")
    }

    /// Node `i`'s transport, to issue commands; call [`Self::run`] after.
    ///
    /// # Panics
    /// If the node was removed.
    pub fn node_mut(&mut self, i: usize) -> &mut Transport {
        self.nodes[i].as_mut().expect("node removed")
    }

    /// Asks node `from` to open a stream to node `to`.
    pub fn connect(&mut self, from: usize, to: usize) {
        let peer = self.ids[to];
        self.wires.events.push_back(NetEvent::Open { from, peer });
    }

    /// Closes every stream between `a` and `b` (both sides see it close).
    pub fn disconnect(&mut self, a: usize, b: usize) {
        let ends: Vec<_> = self
            .wires
            .links
            .iter()
            .filter(|(&(x, _), &(y, _))| x == a && y == b)
            .map(|(&k, &v)| (k, v))
            .collect();
        for ((x, cx), (y, cy)) in ends {
            self.wires.links.remove(&(x, cx));
            self.wires.links.remove(&(y, cy));
            self.wires
                .events
                .push_back(NetEvent::Closed { to: x, conn: cx });
            self.wires
                .events
                .push_back(NetEvent::Closed { to: y, conn: cy });
        }
    }

    /// Removes node `i`: its streams close on the other side; its records
    /// stay in the store until they expire.
    pub fn remove_node(&mut self, i: usize) {
        let peers: Vec<usize> = self
            .wires
            .links
            .keys()
            .filter(|&&(x, _)| x == i)
            .filter_map(|k| self.wires.links.get(k).map(|&(y, _)| y))
            .collect();
        for p in peers {
            self.disconnect(i, p);
        }
        self.nodes[i] = None;
    }

    /// Stores a record as any member could (for tests of bad records).
    pub fn store_record(&mut self, key: [u8; 32], record: Vec<u8>) {
        Port {
            me: usize::MAX,
            wires: &mut self.wires,
        }
        .publish(key, record);
    }

    /// Starts or stops recording every write (see [`Self::take_log`]).
    pub fn set_logging(&mut self, on: bool) {
        self.wires.logging = on;
    }

    /// The writes recorded since logging started or the last take.
    pub fn take_log(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.wires.log)
    }

    /// Delivers raw bytes to node `to` on its stream from node `from`, as if
    /// `from` had written them (for tampering tests). False if not linked.
    pub fn inject(&mut self, from: usize, to: usize, bytes: Vec<u8>) -> bool {
        let Some((_, &(_, conn))) = self
            .wires
            .links
            .iter()
            .find(|(&(x, _), &(y, _))| x == from && y == to)
        else {
            return false;
        };
        self.wires
            .events
            .push_back(NetEvent::Bytes { to, conn, bytes });
        true
    }

    fn drain_outputs(&mut self) -> usize {
        let mut n = 0;
        for (i, slot) in self.nodes.iter_mut().enumerate() {
            if let Some(t) = slot {
                n += drive(
                    t,
                    &mut Port {
                        me: i,
                        wires: &mut self.wires,
                    },
                );
            }
        }
        n
    }

    /// Moves traffic until no node has anything more to send.
    ///
    /// # Panics
    /// After an absurd number of steps (a livelock).
    pub fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            let moved = self.drain_outputs();
            let Some(ev) = self.wires.events.pop_front() else {
                if moved == 0 {
                    return;
                }
                continue;
            };
            self.apply(ev);
        }
        panic!("network did not settle");
    }

    fn apply(&mut self, ev: NetEvent) {
        let now = self.now;
        match ev {
            NetEvent::Open { from, peer } => {
                let to = self.ids.iter().position(|&id| id == peer);
                let (Some(to), true) = (to, self.is_up(from)) else {
                    if let Some(Some(t)) = self.nodes.get_mut(from) {
                        t.handle_open_failed(peer, now);
                    }
                    return;
                };
                if !self.is_up(to) || to == from {
                    self.node_mut(from).handle_open_failed(peer, now);
                    return;
                }
                let (a, b) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
                self.next_conn += 2;
                self.wires.links.insert((from, a), (to, b));
                self.wires.links.insert((to, b), (from, a));
                let (from_id, to_id) = (self.ids[from], self.ids[to]);
                self.node_mut(from).handle_stream_open(a, to_id, true, now);
                self.node_mut(to).handle_stream_open(b, from_id, false, now);
            }
            NetEvent::Bytes { to, conn, bytes } => {
                if !self.wires.links.contains_key(&(to, conn)) {
                    return;
                }
                // Cut into random chunks: the receiver must reassemble.
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = 1 + (self.rng.next_u32() as usize) % rest.len();
                    let (chunk, tail) = rest.split_at(n);
                    rest = tail;
                    if let Some(Some(t)) = self.nodes.get_mut(to) {
                        t.handle_bytes(conn, chunk, now);
                    }
                }
            }
            NetEvent::Closed { to, conn } => {
                if let Some(Some(t)) = self.nodes.get_mut(to) {
                    t.handle_stream_closed(conn, now);
                }
            }
            NetEvent::Record { to, key } => {
                let records = self.wires.store.get(&key).cloned().unwrap_or_default();
                if let Some(Some(t)) = self.nodes.get_mut(to) {
                    t.handle_record(key, &records, now);
                }
            }
        }
    }

    /// Advances the clock by `ms`, firing every node's deadlines on the way
    /// and moving traffic after each.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now.plus_ms(ms);
        self.run();
        loop {
            let next = self
                .nodes
                .iter()
                .flatten()
                .filter_map(Transport::poll_timeout)
                .filter(|&t| t <= end)
                .min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            let now = self.now;
            for t in self.nodes.iter_mut().flatten() {
                if t.poll_timeout().is_some_and(|d| d <= now) {
                    t.handle_timeout(now);
                }
            }
            self.run();
        }
        self.now = end;
        for t in self.nodes.iter_mut().flatten() {
            t.set_time(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_network_and_removal_closes_streams() {
        let build = || {
            let mut n = Network::new(42, Time(0));
            for _ in 0..3 {
                n.add_node(Config::default());
            }
            n
        };
        let (mut a, b) = (build(), build());
        assert_eq!((a.id(0), a.id(2)), (b.id(0), b.id(2)));
        a.connect(0, 1);
        a.connect(0, 2);
        a.run();
        assert_eq!(a.node(0).connected_peers().count(), 2);
        assert!(a.inject(1, 0, Vec::new()));
        assert!(!a.inject(1, 2, Vec::new()));
        a.remove_node(1);
        a.run();
        assert!(!a.is_up(1));
        assert_eq!(
            a.node(0).connected_peers().collect::<Vec<_>>(),
            vec![a.id(2)]
        );
        // Opening to a removed node fails cleanly.
        a.connect(2, 1);
        a.run();
        assert_eq!(a.node(2).connected_peers().count(), 1);
        a.advance(10);
        assert_eq!(a.now(), Time(10));
    }
}
