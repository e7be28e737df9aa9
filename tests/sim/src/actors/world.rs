//! Many actor transports on virtual time, joined by streams that travel as
//! lossy, reordering datagrams ([`super::stream`]) and sharing one record
//! store. Node `i` implements [`Host`] through a port onto the world.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessel_actors::{drive, Config, ConnId, Host, NodeId, Time, Transport};

use super::stream::{Rx, Tx, RTO_MS};

/// Records kept per key in the store (newest last).
const RECORDS_PER_KEY: usize = 4;

/// Datagram loss, latency and jitter.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    /// Chance in a million that a datagram is lost.
    pub loss_ppm: u32,
    /// Smallest one-way delay.
    pub latency_ms: u64,
    /// Extra random delay, up to this (reorders datagrams).
    pub jitter_ms: u64,
}

#[derive(Debug)]
enum Ev {
    /// A stream was opened between two nodes (both sides learn it).
    Opened {
        node: usize,
        conn: ConnId,
        peer: NodeId,
        outbound: bool,
    },
    /// A node could not reach the member it asked for.
    OpenFailed { node: usize, peer: NodeId },
    /// A data segment.
    Data {
        node: usize,
        conn: ConnId,
        seq: u64,
        bytes: Vec<u8>,
    },
    /// A cumulative acknowledgement.
    Ack {
        node: usize,
        conn: ConnId,
        next: u64,
    },
    /// The other end closed (reliable, like a reset that eventually lands).
    Closed { node: usize, conn: ConnId },
    /// Records fetched.
    Records { node: usize, key: [u8; 32] },
}

/// One end of a stream.
#[derive(Debug)]
struct End {
    peer: usize,
    their: ConnId,
    tx: Tx,
    rx: Rx,
    open: bool,
}

/// What the world counts.
#[derive(Debug, Default, Clone, Copy)]
pub struct WorldStats {
    /// Datagrams sent (data and acks).
    pub datagrams: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Segments sent again.
    pub retransmitted: u64,
    /// Stream bytes carried in data datagrams, retransmissions included.
    pub bytes: u64,
}

/// The shared wires: event queue, stream ends, record store.
struct Wires {
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: BTreeMap<usize, Ev>,
    next_event: usize,
    tie: u64,
    ends: BTreeMap<(usize, ConnId), End>,
    store: BTreeMap<[u8; 32], Vec<Vec<u8>>>,
    ids: Vec<NodeId>,
    up: Vec<bool>,
    next_conn: u64,
    rng: ChaCha20Rng,
    cond: Conditions,
    now: u64,
    stats: WorldStats,
}

impl Wires {
    fn push(&mut self, at: u64, ev: Ev) {
        let id = self.next_event;
        self.next_event += 1;
        self.tie += 1;
        self.events.insert(id, ev);
        self.queue.push(Reverse((at, self.tie, id)));
    }

    fn delay(&mut self) -> u64 {
        let j = if self.cond.jitter_ms == 0 {
            0
        } else {
            self.rng.next_u64() % (self.cond.jitter_ms + 1)
        };
        self.now + self.cond.latency_ms + j
    }

    /// Sends a datagram unless it is lost.
    fn datagram(&mut self, ev: Ev) {
        self.stats.datagrams += 1;
        if let Ev::Data { bytes, .. } = &ev {
            self.stats.bytes += bytes.len() as u64;
        }
        if (self.rng.next_u32() % 1_000_000) < self.cond.loss_ppm {
            self.stats.lost += 1;
            return;
        }
        let at = self.delay();
        self.push(at, ev);
    }

    fn node_of(&self, id: NodeId) -> Option<usize> {
        self.ids.iter().position(|&n| n == id)
    }
}

struct Port<'a> {
    me: usize,
    w: &'a mut Wires,
}

impl Host for Port<'_> {
    fn open(&mut self, peer: NodeId) {
        let now = self.w.now;
        match self
            .w
            .node_of(peer)
            .filter(|&p| self.w.up[p] && p != self.me)
        {
            None => {
                let at = self.w.delay();
                self.w.push(
                    at,
                    Ev::OpenFailed {
                        node: self.me,
                        peer,
                    },
                );
            }
            Some(p) => {
                let mine = ConnId(self.w.next_conn);
                let theirs = ConnId(self.w.next_conn + 1);
                self.w.next_conn += 2;
                let end = |peer, their| End {
                    peer,
                    their,
                    tx: Tx::default(),
                    rx: Rx::default(),
                    open: true,
                };
                self.w.ends.insert((self.me, mine), end(p, theirs));
                self.w.ends.insert((p, theirs), end(self.me, mine));
                let my_id = self.w.ids[self.me];
                // A handshake: one round trip before either side may send.
                let at = now + 2 * self.w.cond.latency_ms;
                self.w.push(
                    at,
                    Ev::Opened {
                        node: p,
                        conn: theirs,
                        peer: my_id,
                        outbound: false,
                    },
                );
                self.w.push(
                    at,
                    Ev::Opened {
                        node: self.me,
                        conn: mine,
                        peer,
                        outbound: true,
                    },
                );
            }
        }
    }

    fn write(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let now = self.w.now;
        let Some(end) = self.w.ends.get_mut(&(self.me, conn)) else {
            return;
        };
        let (peer, their) = (end.peer, end.their);
        for (seq, bytes) in end.tx.write(&bytes, now) {
            self.w.datagram(Ev::Data {
                node: peer,
                conn: their,
                seq,
                bytes,
            });
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(end) = self.w.ends.remove(&(self.me, conn)) {
            let at = self.w.delay();
            self.w.push(
                at,
                Ev::Closed {
                    node: end.peer,
                    conn: end.their,
                },
            );
        }
    }

    fn publish(&mut self, key: [u8; 32], record: Vec<u8>) {
        let v = self.w.store.entry(key).or_default();
        v.retain(|r| *r != record);
        v.push(record);
        if v.len() > RECORDS_PER_KEY {
            v.remove(0);
        }
    }

    fn fetch(&mut self, key: [u8; 32]) {
        // A lookup takes a few round trips.
        let at = self.w.now + 4 * self.w.cond.latency_ms;
        self.w.push(at, Ev::Records { node: self.me, key });
    }
}

/// The simulated network of actor transports.
pub struct ActorWorld {
    nodes: Vec<Option<Transport>>,
    /// Each node's next deadline, refreshed whenever the node is driven.
    timeouts: Vec<Option<u64>>,
    w: Wires,
    config: Config,
}

impl std::fmt::Debug for ActorWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ActorWorld({} nodes, t={})",
            self.nodes.len(),
            self.w.now
        )
    }
}

impl ActorWorld {
    /// An empty world; all randomness from `seed`; time starts at `start_ms`.
    pub fn new(seed: u64, start_ms: u64, cond: Conditions, config: Config) -> Self {
        Self {
            nodes: Vec::new(),
            timeouts: Vec::new(),
            w: Wires {
                queue: BinaryHeap::new(),
                events: BTreeMap::new(),
                next_event: 0,
                tie: 0,
                ends: BTreeMap::new(),
                store: BTreeMap::new(),
                ids: Vec::new(),
                up: Vec::new(),
                next_conn: 1,
                rng: ChaCha20Rng::seed_from_u64(seed),
                cond,
                now: start_ms,
                stats: WorldStats::default(),
            },
            config,
        }
    }

    /// Adds a node; returns its index.
    pub fn add_node(&mut self) -> usize {
        let mut node_seed = [0; 32];
        self.w.rng.fill_bytes(&mut node_seed);
        let mut rng_seed = [0; 32];
        self.w.rng.fill_bytes(&mut rng_seed);
        let mut t = Transport::new(self.config.clone(), &node_seed, rng_seed);
        t.set_time(Time(self.w.now));
        self.w.ids.push(t.node_id());
        self.w.up.push(true);
        self.nodes.push(Some(t));
        self.timeouts.push(None);
        self.nodes.len() - 1
    }

    /// Removes node `i`: its streams close on the other side.
    pub fn remove_node(&mut self, i: usize) {
        self.nodes[i] = None;
        self.timeouts[i] = None;
        self.w.up[i] = false;
        let mine: Vec<_> = self
            .w
            .ends
            .keys()
            .filter(|(n, _)| *n == i)
            .copied()
            .collect();
        for k in mine {
            if let Some(end) = self.w.ends.remove(&k) {
                let at = self.w.delay();
                self.w.push(
                    at,
                    Ev::Closed {
                        node: end.peer,
                        conn: end.their,
                    },
                );
            }
        }
    }

    /// Asks node `from` to open a stream to node `to` (as an overlay
    /// session coming up makes the daemon dial).
    pub fn connect(&mut self, from: usize, to: usize) {
        let peer = self.w.ids[to];
        let now = self.w.now;
        Port {
            me: from,
            w: &mut self.w,
        }
        .open(peer);
        self.w.now = now;
    }

    /// Whether node `i` is in the world.
    pub fn is_up(&self, i: usize) -> bool {
        self.w.up.get(i).copied().unwrap_or(false)
    }

    /// Node `i`'s transport.
    ///
    /// # Panics
    /// If it was removed.
    pub fn node(&self, i: usize) -> &Transport {
        self.nodes[i].as_ref().expect("node removed")
    }

    /// Node `i`'s transport for commands (run the world after).
    ///
    /// # Panics
    /// If it was removed.
    pub fn node_mut(&mut self, i: usize) -> &mut Transport {
        let now = Time(self.w.now);
        let t = self.nodes[i].as_mut().expect("node removed");
        t.set_time(now);
        t
    }

    /// Node `i`'s ID.
    pub fn id(&self, i: usize) -> NodeId {
        self.w.ids[i]
    }

    /// Virtual time in ms.
    pub fn now(&self) -> u64 {
        self.w.now
    }

    /// Datagram counters.
    pub fn stats(&self) -> WorldStats {
        self.w.stats
    }

    fn pump(&mut self, i: usize) {
        if let Some(t) = self.nodes[i].as_mut() {
            drive(
                t,
                &mut Port {
                    me: i,
                    w: &mut self.w,
                },
            );
            self.timeouts[i] = t.poll_timeout().map(|t| t.0);
        }
    }

    /// Runs every event, timer and retransmission up to `until_ms`.
    pub fn run_until(&mut self, until_ms: u64) {
        for i in 0..self.nodes.len() {
            self.pump(i);
        }
        loop {
            let next_event = self.w.queue.peek().map(|Reverse((t, _, _))| *t);
            let next_timer = self.timeouts.iter().flatten().copied().min();
            // Retransmissions are checked on a fixed tick of the virtual clock.
            let next_rto = Some(self.w.now - self.w.now % RTO_MS + RTO_MS);
            let Some(at) = [next_event, next_timer, next_rto]
                .into_iter()
                .flatten()
                .min()
            else {
                unreachable!("the retransmission tick is always set");
            };
            if at > until_ms {
                self.w.now = until_ms;
                return;
            }
            self.w.now = self.w.now.max(at);
            let now = Time(self.w.now);
            if next_event == Some(at) {
                let Reverse((_, _, id)) = self.w.queue.pop().expect("peeked");
                let ev = self.w.events.remove(&id).expect("queued");
                self.handle(ev, now);
            }
            if next_timer.is_some_and(|t| t <= self.w.now) {
                for i in 0..self.nodes.len() {
                    if self.timeouts[i].is_some_and(|t| t <= now.0) {
                        self.nodes[i].as_mut().expect("up").handle_timeout(now);
                        self.pump(i);
                    }
                }
            }
            if next_rto.is_some_and(|t| t <= self.w.now) {
                self.retransmit();
            }
        }
    }

    fn retransmit(&mut self) {
        let now = self.w.now;
        let keys: Vec<_> = self
            .w
            .ends
            .iter()
            .filter(|(_, e)| !e.tx.idle())
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let Some(end) = self.w.ends.get_mut(&k) else {
                continue;
            };
            let (peer, their) = (end.peer, end.their);
            let due = end.tx.due(now);
            for (seq, bytes) in due {
                self.w.stats.retransmitted += 1;
                self.w.datagram(Ev::Data {
                    node: peer,
                    conn: their,
                    seq,
                    bytes,
                });
            }
        }
    }

    fn handle(&mut self, ev: Ev, now: Time) {
        match ev {
            Ev::Opened {
                node,
                conn,
                peer,
                outbound,
            } => {
                let live = self.w.ends.get(&(node, conn)).is_some_and(|e| e.open);
                if let (true, Some(t)) = (live, self.nodes[node].as_mut()) {
                    t.handle_stream_open(conn, peer, outbound, now);
                    self.pump(node);
                }
            }
            Ev::OpenFailed { node, peer } => {
                if let Some(t) = self.nodes[node].as_mut() {
                    t.handle_open_failed(peer, now);
                    self.pump(node);
                }
            }
            Ev::Data {
                node,
                conn,
                seq,
                bytes,
            } => {
                let Some(end) = self.w.ends.get_mut(&(node, conn)) else {
                    return;
                };
                let (ready, next) = end.rx.segment(seq, bytes);
                let (peer, their) = (end.peer, end.their);
                self.w.datagram(Ev::Ack {
                    node: peer,
                    conn: their,
                    next,
                });
                if !ready.is_empty() {
                    if let Some(t) = self.nodes[node].as_mut() {
                        t.handle_bytes(conn, &ready, now);
                        self.pump(node);
                    }
                }
            }
            Ev::Ack { node, conn, next } => {
                if let Some(end) = self.w.ends.get_mut(&(node, conn)) {
                    end.tx.ack(next);
                }
            }
            Ev::Closed { node, conn } => {
                if self.w.ends.remove(&(node, conn)).is_some() {
                    if let Some(t) = self.nodes[node].as_mut() {
                        t.handle_stream_closed(conn, now);
                        self.pump(node);
                    }
                }
            }
            Ev::Records { node, key } => {
                let records = self.w.store.get(&key).cloned().unwrap_or_default();
                if let Some(t) = self.nodes[node].as_mut() {
                    t.handle_record(key, &records, now);
                    self.pump(node);
                }
            }
        }
    }
}
