//! The world: hosts running real Tessel nodes, NATs, links and the event
//! queue that drives them on virtual time.
//!
//! A scenario is a few lines:
//!
//! ```
//! use tessel_sim::{secs, NatKind, World};
//! let mut w = World::new(1);
//! let nat = w.nat(NatKind::PortRestrictedCone);
//! let a = w.public_node();
//! let b = w.node_behind(nat, &[a]);
//! w.run_for(secs(10));
//! assert!(w.connected(a, b));
//! assert!(w.ping(a, b) && w.ping(b, a));
//! ```
//!
//! Everything random comes from the seed ([`crate::rng`]); the queue always
//! runs the earliest event, and events at the same instant run in the order
//! they were scheduled, so the same seed gives the same run, event for event.
//!
//! The world is split by concern: building it (this file), running it
//! (`run.rs`), what an event does at a host (`host_step.rs`), running the
//! hosts of a lookahead window on several threads (`window.rs`, with
//! [`World::set_threads`]; the run is the same whatever the number), moving
//! datagrams through links and NATs (`route.rs`) and injecting faults
//! (`faults.rs`).

mod extra_sockets;
mod faults;
mod host_step;
mod route;
mod run;
mod window;

use std::collections::VecDeque;

use ahash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::RngCore;
use tessel_overlay::identity::{NetworkKey, NodeKey};
use tessel_overlay::limits::MAX_DATAGRAM;
use tessel_overlay::node::Node;

use crate::addr::{AddressPlan, LanPool, NODE_PORT};
use crate::digest::Digest;
use crate::error::SimError;
use crate::event::Queue;
use crate::host::{Host, Liveness, Net, Place};
use crate::ids::{HostId, NatId};
use crate::link::Link;
use crate::nat::{Nat, NatConfig, NatKind};
use crate::rng::{stream, Stream};
use crate::stats::{Traffic, WorldStats};
use crate::time::SimTime;
use crate::traffic::Ledger;

pub(crate) use run::Event;

/// Wall-clock time (ms since the Unix epoch) at the world's start, as the
/// nodes see it.
const START_UNIX_MS: u64 = 1_800_000_000_000;

/// A NAT box and where it sits.
struct NatBox {
    nat: Nat,
    /// The network its outside is on.
    parent: Net,
    /// The link between its outside and the parent network.
    uplink: Link,
    /// Addresses of its inside network.
    lan: LanPool,
}

/// A simulated network of Tessel nodes. See the module documentation.
pub struct World {
    seed: u64,
    base: Instant,
    now: SimTime,
    queue: Queue<Event>,
    hosts: Vec<Host>,
    nats: Vec<NatBox>,
    hosts_by_addr: HashMap<SocketAddr, HostId>,
    nats_by_ip: HashMap<IpAddr, NatId>,
    plan: AddressPlan,
    network_key: [u8; 32],
    default_link: Link,
    link_rng: ChaCha20Rng,
    node_rng: ChaCha20Rng,
    traffic_rng: ChaCha20Rng,
    cuts: HashSet<(HostId, HostId)>,
    ledger: Ledger,
    stats: WorldStats,
    /// The nodes' output buffer (datagrams and delivered packets).
    scratch: Vec<u8>,
    digest: Digest,
    /// Threads that run hosts' steps (`window.rs`).
    threads: usize,
    /// The current window's host steps, run ahead.
    ahead: Option<window::Ahead>,
    /// The effects of the step being applied (reused).
    effects: Vec<host_step::Effect>,
    /// The threads besides the caller's that run steps ahead.
    workers: Option<crate::workers::Workers>,
}

impl World {
    /// An empty world whose every random choice derives from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut node_rng = stream(seed, Stream::Nodes);
        let mut network_key = [0u8; 32];
        node_rng.fill_bytes(&mut network_key);
        // The world's clock: virtual time counts from whatever instant
        // this is, and no node ever sees the real clock.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Self {
            seed,
            base,
            now: SimTime::ZERO,
            queue: Queue::new(),
            hosts: Vec::new(),
            nats: Vec::new(),
            hosts_by_addr: HashMap::new(),
            nats_by_ip: HashMap::new(),
            plan: AddressPlan::default(),
            network_key,
            default_link: Link::default(),
            link_rng: stream(seed, Stream::Links),
            node_rng,
            traffic_rng: stream(seed, Stream::Traffic),
            cuts: HashSet::new(),
            ledger: Ledger::default(),
            stats: WorldStats::default(),
            scratch: vec![0u8; MAX_DATAGRAM + 64],
            digest: Digest::default(),
            threads: 1,
            ahead: None,
            effects: Vec::new(),
            workers: None,
        }
    }

    /// Runs hosts' steps on `threads` threads (at least 1). A run is the same,
    /// event for event, whatever the number.
    ///
    /// # Panics
    /// Panics if the threads cannot be started.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
        self.workers = (self.threads > 1).then(|| {
            crate::workers::Workers::new(self.threads - 1).expect("threads for the simulator")
        });
    }

    /// Threads that run hosts' steps.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The seed of this world.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The instant that a node sees at virtual time `t`.
    pub fn instant(&self, t: SimTime) -> Instant {
        self.base + t.since_start()
    }

    /// The link that new hosts and NATs get.
    pub fn default_link(&self) -> &Link {
        &self.default_link
    }

    /// The link that new hosts and NATs get.
    pub fn set_default_link(&mut self, link: Link) {
        self.default_link = link;
    }

    // ----- NATs -------------------------------------------------------

    /// A NAT of a named kind on the Internet.
    ///
    /// # Panics
    /// Panics if the public IPv4 addresses are used up.
    pub fn nat(&mut self, kind: NatKind) -> NatId {
        self.try_nat(Place::Public, kind.config())
            .expect("a public IPv4 address for the NAT")
    }

    /// A NAT with any behaviour on the Internet.
    ///
    /// # Panics
    /// Panics if the public IPv4 addresses are used up.
    pub fn nat_with(&mut self, config: NatConfig) -> NatId {
        self.try_nat(Place::Public, config)
            .expect("a public IPv4 address for the NAT")
    }

    /// A NAT whose outside is on another NAT's LAN (a home router behind a
    /// carrier-grade NAT, say).
    ///
    /// # Panics
    /// Panics if the outer LAN is full.
    pub fn nat_behind(&mut self, outer: NatId, kind: NatKind) -> NatId {
        self.try_nat(Place::Behind(outer), kind.config())
            .expect("an address on the outer NAT's LAN")
    }

    /// A NAT at `place` (IPv4 only: [`Place::PublicV6`] is taken as [`Place::Public`]).
    ///
    /// # Errors
    /// Fails when the address plan has no room.
    pub fn try_nat(&mut self, place: Place, config: NatConfig) -> Result<NatId, SimError> {
        let lan = self.plan.lan()?;
        let (ip, parent) = match place {
            Place::Public | Place::PublicV6 => (IpAddr::V4(self.plan.public_v4()?), Net::Internet),
            Place::Behind(outer) => (
                IpAddr::V4(self.nats[outer.index()].lan.take()?),
                Net::Lan(outer),
            ),
        };
        let id = NatId(self.nats.len() as u32);
        let nat = Nat::new(config, ip, stream(self.seed, Stream::Nat(id.0)));
        self.nats.push(NatBox {
            nat,
            parent,
            uplink: self.default_link.clone(),
            lan,
        });
        self.nats_by_ip.insert(ip, id);
        Ok(id)
    }

    /// A NAT's machine (for its state and counters).
    pub fn nat_ref(&self, nat: NatId) -> &Nat {
        &self.nats[nat.index()].nat
    }

    /// The network a NAT's outside is on (the Internet, or another NAT's LAN).
    pub fn nat_parent(&self, n: NatId) -> Net {
        self.nats[n.index()].parent
    }

    /// The link between a NAT and its parent network.
    pub fn nat_uplink_mut(&mut self, nat: NatId) -> &mut Link {
        &mut self.nats[nat.index()].uplink
    }

    /// NATs in the world.
    pub fn nat_count(&self) -> usize {
        self.nats.len()
    }

    // ----- Hosts ------------------------------------------------------

    /// A node with a public IPv4 address and no `--peer`.
    pub fn public_node(&mut self) -> HostId {
        self.node(Place::Public, &[])
    }

    /// A node with a public IPv4 address that bootstraps from `peers`.
    pub fn public_node_with(&mut self, peers: &[HostId]) -> HostId {
        self.node(Place::Public, peers)
    }

    /// A node with a public IPv6 address that bootstraps from `peers`.
    pub fn public_node_v6(&mut self, peers: &[HostId]) -> HostId {
        self.node(Place::PublicV6, peers)
    }

    /// A node behind `nat` that bootstraps from `peers`.
    pub fn node_behind(&mut self, nat: NatId, peers: &[HostId]) -> HostId {
        self.node(Place::Behind(nat), peers)
    }

    /// A node at `place` whose `--peer` addresses are the current addresses
    /// of `peers`; it starts at once.
    ///
    /// # Panics
    /// Panics if the address plan has no room (see [`World::try_node`]).
    pub fn node(&mut self, place: Place, peers: &[HostId]) -> HostId {
        self.try_node(place, peers)
            .expect("an address for the node")
    }

    /// Like [`World::node`], but reports a full address plan.
    ///
    /// # Errors
    /// Fails when the address plan has no room.
    pub fn try_node(&mut self, place: Place, peers: &[HostId]) -> Result<HostId, SimError> {
        let bootstrap = peers.iter().map(|p| self.hosts[p.index()].addr).collect();
        self.try_node_with_bootstrap(place, bootstrap)
    }

    /// A node at `place` with explicit `--peer` addresses; it starts at once.
    ///
    /// # Errors
    /// Fails when the address plan has no room.
    pub fn try_node_with_bootstrap(
        &mut self,
        place: Place,
        bootstrap: Vec<SocketAddr>,
    ) -> Result<HostId, SimError> {
        let (addr, net) = self.allocate(place)?;
        let mut key_seed = [0u8; 32];
        self.node_rng.fill_bytes(&mut key_seed);
        let key = NodeKey::from_seed(key_seed);
        let network = NetworkKey::from_secret(self.network_key);
        let prefix = tessel_overlay::identity::NetworkPrefix::of(&network.id());
        let id = HostId(self.hosts.len() as u32);
        self.hosts.push(Host {
            node: None,
            liveness: Liveness::Left,
            key_seed,
            node_id: key.id(),
            ipv6: prefix.node_addr(&key.id()),
            bootstrap,
            addr,
            net,
            link: self.default_link.clone(),
            state_dir: Vec::new(),
            incarnation: 0,
            wake: None,
            wake_gen: 0,
            spins: 0,
            group: 0,
            pending_app: VecDeque::new(),
            sent: Traffic::default(),
            up_since: None,
            uptime: Duration::ZERO,
            extra: Default::default(),
        });
        self.hosts_by_addr.insert(addr, id);
        self.start(id);
        Ok(id)
    }

    /// A free address at `place`.
    fn allocate(&mut self, place: Place) -> Result<(SocketAddr, Net), SimError> {
        Ok(match place {
            Place::Public => (
                SocketAddr::new(IpAddr::V4(self.plan.public_v4()?), NODE_PORT),
                Net::Internet,
            ),
            Place::PublicV6 => (
                SocketAddr::new(IpAddr::V6(self.plan.public_v6()), NODE_PORT),
                Net::Internet,
            ),
            Place::Behind(nat) => (
                SocketAddr::new(IpAddr::V4(self.nats[nat.index()].lan.take()?), NODE_PORT),
                Net::Lan(nat),
            ),
        })
    }

    /// Returns an address to the plan.
    fn release(&mut self, addr: SocketAddr, net: Net) {
        match (net, addr.ip()) {
            (Net::Internet, ip) => self.plan.release_public(ip),
            (Net::Lan(nat), IpAddr::V4(ip)) => self.nats[nat.index()].lan.release(ip),
            (Net::Lan(_), IpAddr::V6(_)) => {}
        }
    }

    /// Starts (or restarts) a host's node from its state dir: the same node
    /// key, the remembered members, the same `--peer` addresses, a fresh seed
    /// and the current wall clock. Does nothing if it is up.
    pub fn start(&mut self, h: HostId) {
        if self.hosts[h.index()].is_up() {
            return;
        }
        let now = self.now;
        let instant = self.instant(now);
        let mut seed = [0u8; 32];
        self.node_rng.fill_bytes(&mut seed);
        let host = &mut self.hosts[h.index()];
        let config = tessel_overlay::node::Config {
            node_key: NodeKey::from_seed(host.key_seed),
            network_key: NetworkKey::from_secret(self.network_key),
            ipv4_range: tessel_overlay::identity::address::Ipv4Range::DEFAULT,
            bootstrap: host.bootstrap.clone(),
            known_peers: host.state_dir.clone(),
            stun_servers: Vec::new(),
            seed,
            unix_ms: START_UNIX_MS + now.as_millis(),
        };
        tracing::debug!(t_ms = now.as_millis(), host = %h, node = %host.node_id.short(), addr = %host.addr, incarnation = host.incarnation + 1, "start");
        let mut node = Node::new(config, instant);
        // Its one interface address, as a driver would report it.
        node.set_local_addresses(vec![host.addr]);
        host.node = Some(node);
        host.liveness = Liveness::Up;
        host.incarnation += 1;
        host.up_since = Some(now);
        host.spins = 0;
        self.stats.starts += 1;
        self.after_input(h);
    }

    // ----- Queries ----------------------------------------------------

    /// Hosts in the world, up or not.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Every host, in creation order.
    pub fn hosts(&self) -> impl Iterator<Item = HostId> {
        (0..self.hosts.len() as u32).map(HostId)
    }

    /// The node running on `h`, if it is up.
    pub fn node_ref(&self, h: HostId) -> Option<&Node> {
        self.hosts[h.index()].node.as_ref()
    }

    /// Whether `h`'s node runs, crashed or left.
    pub fn liveness(&self, h: HostId) -> Liveness {
        self.hosts[h.index()].liveness
    }

    /// Whether `h`'s node runs.
    pub fn is_up(&self, h: HostId) -> bool {
        self.hosts[h.index()].is_up()
    }

    /// `h`'s socket address on its own network.
    pub fn addr(&self, h: HostId) -> SocketAddr {
        self.hosts[h.index()].addr
    }

    /// The network `h` is on.
    pub fn net(&self, h: HostId) -> Net {
        self.hosts[h.index()].net
    }

    /// The NAT in front of `h`, if any.
    pub fn nat_of(&self, h: HostId) -> Option<NatId> {
        match self.hosts[h.index()].net {
            Net::Lan(n) => Some(n),
            Net::Internet => None,
        }
    }

    /// `h`'s overlay IPv6 address.
    pub fn ipv6(&self, h: HostId) -> std::net::Ipv6Addr {
        self.hosts[h.index()].ipv6
    }

    /// `h`'s node ID.
    pub fn node_id(&self, h: HostId) -> tessel_overlay::identity::NodeId {
        self.hosts[h.index()].node_id
    }

    /// The host whose node has this ID.
    pub fn host_of(&self, id: &tessel_overlay::identity::NodeId) -> Option<HostId> {
        self.hosts().find(|h| self.hosts[h.index()].node_id == *id)
    }

    /// `h`'s access link.
    pub fn link_mut(&mut self, h: HostId) -> &mut Link {
        &mut self.hosts[h.index()].link
    }

    /// Whether `a` has a usable session with `b` (false if `a` is down).
    pub fn has_session(&self, a: HostId, b: HostId) -> bool {
        let instant = self.instant(self.now);
        let b_id = self.hosts[b.index()].node_id;
        self.node_ref(a)
            .is_some_and(|n| n.is_connected(&b_id, instant))
    }

    /// Whether `a` and `b` both run and each has a usable session with the other.
    pub fn connected(&self, a: HostId, b: HostId) -> bool {
        self.has_session(a, b) && self.has_session(b, a)
    }

    /// Makes `h`'s node a relay that flips a byte of whatever it passes on
    /// (until it restarts).
    pub fn tamper_relayed(&mut self, h: HostId) {
        if let Some(n) = self.hosts[h.index()].node.as_mut() {
            n.set_relay_tampering(true);
        }
    }

    /// Lets `h`'s node relay for at most `limit` pairs of members at once
    /// (until it restarts).
    pub fn limit_relayed_pairs(&mut self, h: HostId, limit: usize) {
        if let Some(n) = self.hosts[h.index()].node.as_mut() {
            n.set_relay_pair_limit(limit);
        }
    }

    /// How `a`'s traffic to `b` goes, if `a` has a usable session with `b`.
    pub fn path(&self, a: HostId, b: HostId) -> Option<tessel_overlay::node::Path> {
        let instant = self.instant(self.now);
        let b_id = self.hosts[b.index()].node_id;
        self.node_ref(a).and_then(|n| n.path_to(&b_id, instant))
    }

    /// Whether `a` and `b` are connected and each sends straight to the other.
    pub fn direct(&self, a: HostId, b: HostId) -> bool {
        use tessel_overlay::node::Path;
        matches!(self.path(a, b), Some(Path::Direct(_)))
            && matches!(self.path(b, a), Some(Path::Direct(_)))
    }

    /// What `h` sent, by message type.
    pub fn sent_by(&self, h: HostId) -> &Traffic {
        &self.hosts[h.index()].sent
    }

    /// How long `h` has been up in total.
    pub fn uptime(&self, h: HostId) -> Duration {
        self.hosts[h.index()].uptime_at(self.now)
    }

    /// Times `h`'s node was started.
    pub fn incarnations(&self, h: HostId) -> u32 {
        self.hosts[h.index()].incarnation
    }

    /// The members in `h`'s state dir.
    pub fn state_dir(&self, h: HostId) -> &[(tessel_overlay::identity::NodeId, SocketAddr)] {
        &self.hosts[h.index()].state_dir
    }

    /// The record of app packets.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Counters.
    pub fn stats(&self) -> &WorldStats {
        &self.stats
    }

    /// Everything all hosts sent.
    pub fn total_sent(&self) -> Traffic {
        let mut t = Traffic::default();
        for h in &self.hosts {
            t.add(&h.sent);
        }
        t
    }

    /// The fingerprint of every event run so far.
    pub fn digest(&self) -> u64 {
        self.digest.value()
    }

    /// Events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }
}
