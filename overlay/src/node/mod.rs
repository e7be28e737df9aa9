//! The sans-IO node: every protocol decision of one member, as a
//! deterministic state machine.
//!
//! Inputs: [`Node::handle_datagram`] (a UDP datagram and its source),
//! [`Node::handle_tun_packet`] (an IP packet from the interface) and
//! [`Node::handle_timeout`]. The hot-path inputs write their result into the
//! caller's buffer and return an [`Action`]; they never allocate. Control
//! traffic (handshakes, keepalives, gossip, probes) goes to one internal
//! queue drained with [`Node::poll_transmit`], each datagram naming the
//! socket it leaves from; notable changes come out of [`Node::poll_event`].
//! After each input, drain `poll_event` (it may open extra sockets), then
//! `poll_transmit`, then sleep until [`Node::poll_timeout`].
//!
//! The node never reads a clock or the OS random source: `now` is an argument
//! and randomness comes from the seed in its [`Config`].
//!
//! Protocol parts with state of their own are machines with their own
//! inputs and outputs, tested alone (STUN: `stun::StunMachine`); the
//! node feeds them and carries their datagrams. A receive handler learns
//! how its datagram arrived from an explicit `RxContext` (our socket, and
//! the hop for a datagram out of a relay frame), never from node state.
//!
//! Words for reaching members, one idea each:
//! - **path**: how our session with a member travels now ([`Path`]):
//!   *direct* to its endpoint from one of our sockets, or *relayed* through
//!   a hop (`Peer::relay_hop`), learned from where its datagrams come from.
//! - **route**: the distance-vector's way to a member we have no direct
//!   path to (`Peer::route`, see `routing`): its *next hop*, cost and
//!   backup. Signals and lookups follow routes, and so do relayed frames
//!   to a member we have no relayed path to yet.
//! - **relay**: forwarding end-to-end datagrams in relay frames for other
//!   members (`relay`): a member *relays* frames, and a datagram that went
//!   through one is *relayed*.
//! - **hop**: the member a frame is handed to, or came from, on its way.

mod clock_window;
mod contacts;
mod cookies;
mod gossip;
mod initiation_guard;
mod initiation_limit;
mod initiation_times;
mod ipv4;
mod keys;
mod lan;
mod lookup;
mod membership;
mod metrics;
mod name_rule;
mod names;
mod owner_handover;
mod peer;
mod peer_table;
mod ping;
mod portmap;
mod receive;
mod reconfigure;
mod records;
mod relay;
mod relay_pairs;
mod revocation_parts;
mod roster;
mod rotation;
mod routing;
mod rx_context;
mod seen_initiations;
mod send;
pub mod stats;
pub mod status;
mod streams;
mod stun;
pub mod tcp_policy;
mod time_base;
mod timer_table;
mod timers;
mod traffic;
mod traversal;
mod unreachable;

#[cfg(test)]
mod test_nodes;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clone;
#[cfg(test)]
mod tests_expiry;
#[cfg(test)]
mod tests_flood;
#[cfg(test)]
mod tests_reflect;
#[cfg(test)]
mod tests_routes;
#[cfg(test)]
mod tests_sealed_signals;
#[cfg(test)]
mod tests_streams;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::identity::address::Ipv4Range;
use crate::identity::{Ipv4Assignment, NetworkId, NetworkKey, NetworkPrefix, NodeId, NodeKey};
use crate::limits::{MAX_PEERS, MAX_SECOND_HAND};
use crate::session::handshake::HandshakeKeys;
pub use cookies::HandshakeStats;
pub use keys::NodeKeys;
pub use lookup::LookupStats;
pub use membership::{ManagedStatus, PeerCert, RevocationError, RevocationOutcome};
pub use metrics::{NodeMetrics, PathCounts};
pub use names::{
    name_key, NameLookup, NameStatus, SetNameError, NAME_RECORD_TTL, NAME_RENEW, NAME_TTL,
};
pub use owner_handover::{HandoverError, HandoverOutcome, MAX_HANDOVERS};
use peer::Peer;
pub use ping::{PingError, PingTarget, Pong, PING_TIMEOUT};
pub use portmap::PortMappingStatus;
pub use records::{RecordError, RecordStats};
pub use relay::{Path, RelayStats};
pub use rotation::{RotateError, RotationStats, MAX_GRACE};
pub use stats::{DropCounters, DropReason};
pub use status::{PeerStatus, Status};
pub use stun::{NatBehaviour, NatMapping, NatStatus, StunSample, StunSampleStatus};
pub use traffic::TrafficStats;
pub use traversal::{TraversalStats, STREAM_IDS_FROM};

/// Everything a node needs to start.
pub struct Config {
    /// This node's identity.
    pub node_key: NodeKey,
    /// The network it is a member of.
    pub network_key: NetworkKey,
    /// The IPv4 range of the network's overlay addresses (`--ipv4-range`;
    /// every member must use the same).
    pub ipv4_range: Ipv4Range,
    /// Addresses of members whose node IDs we do not know (`--peer`).
    pub bootstrap: Vec<SocketAddr>,
    /// Members remembered from an earlier run, with their last endpoints.
    pub known_peers: Vec<(NodeId, SocketAddr)>,
    /// STUN servers to ask for this node's reflexive address (`--stun`).
    pub stun_servers: Vec<SocketAddr>,
    /// Seed of all the node's randomness.
    pub seed: [u8; 32],
    /// Wall-clock time at the `now` passed to [`Node::new`], in ms since the
    /// Unix epoch (handshake timestamps derive from it).
    pub unix_ms: u64,
}

/// What the caller must do with its output buffer after a hot-path input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing (the input was consumed, queued or dropped).
    None,
    /// Send `out[..len]` as one UDP datagram to `to`.
    Send {
        /// Destination endpoint.
        to: SocketAddr,
        /// Bytes at the start of the output buffer.
        len: usize,
    },
    /// Send `out[..len]` as one UDP datagram to `to`, from the extra socket
    /// `socket` (see [`Event::OpenExtraSockets`]).
    SendExtra {
        /// The extra socket to send from.
        socket: u16,
        /// Destination endpoint.
        to: SocketAddr,
        /// Bytes at the start of the output buffer.
        len: usize,
    },
    /// Write `out[range]` (an IP packet) to the TUN device.
    Deliver {
        /// Where the packet lies in the output buffer.
        range: std::ops::Range<usize>,
    },
}

/// The ID of the node's main UDP socket in [`Transmit::socket`] (extra
/// sockets have the IDs of [`Event::OpenExtraSockets`], stream connections
/// theirs from [`STREAM_IDS_FROM`] on).
pub const MAIN_SOCKET: u16 = 0;

/// A datagram from the control path, owned, and the socket it leaves from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The socket to send from: [`MAIN_SOCKET`] or an extra socket's ID.
    pub socket: u16,
    /// Destination endpoint.
    pub to: SocketAddr,
    /// The datagram.
    pub payload: Vec<u8>,
    /// Send with this IP TTL (IPv6 hop limit) rather than the socket's
    /// default: a hole-punching *opener*, meant to open our own NAT's
    /// mapping and to die before it reaches the other side's router.
    pub ttl: Option<u8>,
}

impl Transmit {
    /// Whether it leaves from the main socket.
    pub fn from_main(&self) -> bool {
        self.socket == MAIN_SOCKET
    }
}

/// Notable changes, for the driver and for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session with a member was established.
    Connected(NodeId),
    /// The set of verified members changed (persist the peer cache).
    MembersChanged,
    /// This node's IPv4 address changed: a member with a lower node ID
    /// took it while it was provisional (see `Ipv4Assignment::insert`).
    Ipv4Changed(Ipv4Addr),
    /// Open extra UDP sockets with these IDs (any local port, same address
    /// family as the main socket) and pass what arrives on them to
    /// [`Node::handle_extra_datagram`]. Hole punching uses them to find the
    /// ports of NATs that allocate at random, and to learn how our NAT allocates.
    OpenExtraSockets(Vec<u16>),
    /// Close these extra sockets.
    CloseExtraSockets(Vec<u16>),
    /// The answer to [`Node::ping`].
    Pong(Pong),
    /// The answer to [`Node::fetch_record`]: the values published under
    /// `key`, with their publishers (each signature checked); empty if no
    /// member had any.
    Records {
        /// The key fetched.
        key: [u8; 32],
        /// `(publisher, value)`, one per publisher.
        records: Vec<(NodeId, Vec<u8>)>,
    },
    /// The network key changed: a rotation or a key update made a new one
    /// current, or the old one's grace ended. Persist
    /// [`Node::network_key`] and [`Node::retiring_key`].
    NetworkKeyChanged,
    /// The node took a newer revocation list from the network owner (these
    /// bytes): persist it, to load it at the next start.
    RevocationsChanged(Vec<u8>),
    /// The node took an owner handover: these are every handover it holds,
    /// in order from the owner it was started with; persist them, to load
    /// them at the next start.
    OwnerHandoversChanged(Vec<crate::identity::OwnerHandover>),
    /// The answer to [`Node::resolve_name`] that returned
    /// [`NameLookup::Pending`]: the member that holds `name`, if any.
    NameResolved {
        /// The name resolved.
        name: crate::identity::NodeName,
        /// Its holder.
        member: Option<NodeId>,
    },
    /// Time for a round of LAN beacons (see [`Node::start_lan_beacons`]):
    /// send one to each discovery group on each LAN interface, each made
    /// by its own call of [`Node::lan_beacon`].
    LanBeaconDue,
}

/// A second-hand newcomer displaces only a second-hand member whose news is
/// this old (live members are in the news more often), so a flood of
/// made-up members cannot push out real ones.
const STALE_NEWS: Duration = Duration::from_secs(120);
/// Members sampled for eviction from a full table.
const EVICTION_SAMPLE: usize = 32;
/// Members sampled for a first-hand newcomer when the first sample holds
/// no second-hand member to evict.
const WIDE_EVICTION_SAMPLE: usize = 512;

/// An address given with `--peer`, greeted until a member answers there.
#[derive(Clone, Debug)]
struct Bootstrap {
    addr: SocketAddr,
    next_hello: Instant,
    interval: Duration,
    /// Hellos sent since the last answer (for the user's warning).
    unanswered: u32,
    /// The member last found connected at `addr`.
    member: Option<NodeId>,
}

/// One member's protocol state machine. See the module documentation.
///
/// A clone is the same node: sessions, handshakes in flight and timers
/// included, it answers the same inputs with the same outputs (the fuzz
/// targets set nodes up once and start every input from a copy).
#[derive(Clone)]
pub struct Node {
    id: NodeId,
    network: NetworkId,
    keys: HandshakeKeys,
    prefix: NetworkPrefix,
    ipv6: Ipv6Addr,
    ipv4: Ipv4Addr,
    ipv4s: Ipv4Assignment,
    ipv4_state: ipv4::Ipv4State,
    peers: peer_table::PeerTable,
    by_index: ahash::HashMap<u32, NodeId>,
    by_ipv6: ahash::HashMap<Ipv6Addr, NodeId>,
    bootstrap: Vec<Bootstrap>,
    /// Control datagrams to send, from every socket, in the order made.
    transmits: VecDeque<Transmit>,
    relay: relay::Relaying,
    lookups: lookup::Lookups,
    records: records::Records,
    /// Defences against initiations: replays, floods, clocks set back.
    initiation_guard: initiation_guard::InitiationGuard,
    /// When LAN beacons are due (while LAN discovery is on).
    lan_beacons: lan::BeaconSchedule,
    /// Warns about LAN beacons and hellos refused for their sender's clock.
    skew_warnings: clock_window::SkewWarnings,
    pings: ping::Pings,
    events: VecDeque<Event>,
    drops: DropCounters,
    traffic: TrafficStats,
    rng: ChaCha20Rng,
    /// The time origin, its wall-clock time, the last timestamp.
    time: time_base::TimeBase,
    /// Every machine's next deadline (see [`timer_table`]).
    timers: timer_table::TimerTable,
    next_maintenance: Instant,
    icmp_errors: unreachable::ErrorRateLimit,
    stun: stun::StunMachine,
    /// Signs signals.
    node_key: NodeKey,
    /// The hole-punching machine.
    traversal: traversal::Traversal,
    /// Keys of probe pair tags and sealed signals.
    pair_keys: traversal::pair::PairKeys,
    /// The gateway's port mapping for our UDP port, if any.
    port_mapping: Option<PortMappingStatus>,
    /// Stream connections a handshake completed over, for the driver.
    stream_handshakes: streams::StreamHandshakes,
    /// The network key's generations.
    rotation: rotation::Rotation,
    /// Managed mode: the owner, certificates, the revocation list.
    managed: Option<Box<membership::Managed>>,
    /// This node's name and what it knows of others'.
    names: names::Names,
    /// What removing members cost (tests bound it).
    #[cfg(test)]
    removal_work: RemovalWork,
}

/// The work that removing members took, in the peer table's steps
/// ([`peer_table::PeerTable::work`]).
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy)]
struct RemovalWork {
    /// Members removed.
    removals: u64,
    /// Steps in all.
    total: u64,
    /// Steps of the costliest single removal.
    max: u64,
}

impl Node {
    /// Creates a node; `now` is its time origin.
    pub fn new(config: Config, now: Instant) -> Self {
        let keys = NodeKeys::derive(&config.node_key, &config.network_key);
        Self::with_keys(config, keys, now)
    }

    /// Creates a node from key material derived before (see [`NodeKeys`]);
    /// `now` is its time origin.
    ///
    /// # Panics
    /// If `keys` were derived from other keys than `config`'s.
    pub fn with_keys(config: Config, keys: NodeKeys, now: Instant) -> Self {
        let id = config.node_key.id();
        let network = config.network_key.id();
        let generation = (config.network_key.epoch(), config.network_key.order());
        assert!(
            keys.node == id && keys.network == network && keys.generation == generation,
            "NodeKeys derived from other keys"
        );
        let prefix = NetworkPrefix::of(&network);
        let ipv4s = Ipv4Assignment::new(config.ipv4_range, &network, id);
        let mut node = Self {
            id,
            network,
            keys: keys.handshake,
            prefix,
            ipv6: prefix.node_addr(&id),
            ipv4: ipv4s.addr_of(&id).expect("self is assigned"),
            ipv4s,
            ipv4_state: ipv4::Ipv4State::default(),
            peers: peer_table::PeerTable::default(),
            by_index: ahash::HashMap::default(),
            by_ipv6: ahash::HashMap::default(),
            bootstrap: config
                .bootstrap
                .iter()
                .map(|&addr| Bootstrap::new(addr, now))
                .collect(),
            transmits: VecDeque::new(),
            relay: relay::Relaying::default(),
            lookups: lookup::Lookups::default(),
            records: records::Records::default(),
            initiation_guard: initiation_guard::InitiationGuard::default(),
            lan_beacons: lan::BeaconSchedule::default(),
            skew_warnings: clock_window::SkewWarnings::default(),
            pings: ping::Pings::default(),
            events: VecDeque::new(),
            drops: DropCounters::default(),
            traffic: TrafficStats::default(),
            rng: ChaCha20Rng::from_seed(config.seed),
            time: time_base::TimeBase::new(now, config.unix_ms),
            timers: timer_table::TimerTable::default(),
            next_maintenance: now,
            icmp_errors: unreachable::ErrorRateLimit::new(),
            stun: stun::StunMachine::new(keys.stun, config.stun_servers.clone(), now),
            node_key: config.node_key,
            traversal: traversal::Traversal::default(),
            pair_keys: traversal::pair::PairKeys::default(),
            port_mapping: None,
            stream_handshakes: streams::StreamHandshakes::default(),
            rotation: rotation::Rotation::new(config.network_key),
            managed: None,
            names: names::Names::default(),
            #[cfg(test)]
            removal_work: RemovalWork::default(),
        };
        for (peer, endpoint) in config.known_peers {
            if peer != id {
                node.add_peer_first_hand(peer, Some(endpoint), now);
                node.make_neighbour(now, peer, Duration::ZERO);
            }
        }
        node
    }

    /// This node's ID.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The network's public ID.
    pub fn network_id(&self) -> NetworkId {
        self.network
    }

    /// The network's IPv6 prefix.
    pub fn prefix(&self) -> NetworkPrefix {
        self.prefix
    }

    /// This node's overlay IPv6 address.
    pub fn ipv6(&self) -> Ipv6Addr {
        self.ipv6
    }

    /// The IPv4 range of the overlay's addresses.
    pub fn ipv4_range(&self) -> Ipv4Range {
        self.ipv4s.range()
    }

    /// This node's overlay IPv4 address (may move once, in its first minute
    /// in the network, see [`Event::Ipv4Changed`]).
    pub fn ipv4(&self) -> Ipv4Addr {
        self.ipv4
    }

    /// Tells the node the addresses of its interfaces, each with the port
    /// it listens on: candidates for members on the same network.
    pub fn set_local_addresses(&mut self, addrs: Vec<SocketAddr>) {
        self.traversal.local_addrs = addrs;
    }

    /// Hole-punching counters.
    pub fn traversal_stats(&self) -> TraversalStats {
        self.traversal.stats
    }

    /// Drop counters.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Packets, datagrams and handshakes since the start.
    pub fn traffic_stats(&self) -> TrafficStats {
        self.traffic
    }

    /// Verified members and their current endpoints, for the peer cache.
    pub fn known_members(&self) -> Vec<(NodeId, SocketAddr)> {
        let mut v: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.verified)
            .filter_map(|p| Some((p.id, p.endpoint?)))
            .collect();
        v.sort();
        v
    }

    /// Whether a usable session with `peer` exists.
    pub fn is_connected(&self, peer: &NodeId, now: Instant) -> bool {
        self.peers.get(peer).is_some_and(|p| p.connected(now))
    }

    /// The next datagram of the control path, from whichever socket it
    /// leaves (one that leaves from an extra socket may need the socket
    /// that an event polled since asked to open).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn drop_packet(&mut self, reason: DropReason) -> Action {
        tracing::trace!(reason = reason.name(), "drop");
        self.drops.add(reason);
        Action::None
    }

    fn seed(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        s
    }

    /// A fresh local session index, unused by any session or handshake.
    fn new_index(&mut self) -> u32 {
        loop {
            let i = self.rng.next_u32();
            if !self.by_index.contains_key(&i) {
                return i;
            }
        }
    }

    /// Milliseconds since the Unix epoch at `now`, strictly increasing.
    fn timestamp_ms(&mut self, now: Instant) -> u64 {
        self.time.timestamp_ms(now)
    }

    /// Converts a node instant to wall-clock milliseconds.
    fn unix_ms_at(&self, t: Instant) -> u64 {
        self.time.unix_ms_at(t)
    }

    /// The member that owns an overlay address.
    fn owner_of(&self, addr: IpAddr) -> Option<NodeId> {
        match addr {
            IpAddr::V6(a) => self.by_ipv6.get(&a).copied(),
            IpAddr::V4(a) => self.ipv4_owner(&a),
        }
    }

    /// Adds a member that others told us of at `heard_at` (second-hand
    /// news, which a member could make up); returns it, or `None` if the
    /// table has no room for it. Second-hand members take at most
    /// [`MAX_SECOND_HAND`] places, and a newcomer among them only displaces
    /// one whose news is [`STALE_NEWS`] old, never a verified member.
    fn add_peer(
        &mut self,
        id: NodeId,
        endpoint: Option<SocketAddr>,
        heard_at: Instant,
        now: Instant,
    ) -> Option<&mut Peer> {
        self.add_peer_as(id, endpoint, heard_at, now, false)
    }

    /// Adds a member we heard from itself (a handshake, an answer to our
    /// greeting, our own peer cache): it displaces the stalest second-hand
    /// member if the table is full, or else the stalest verified one that
    /// is neither connected nor a neighbour.
    fn add_peer_first_hand(
        &mut self,
        id: NodeId,
        endpoint: Option<SocketAddr>,
        now: Instant,
    ) -> Option<&mut Peer> {
        self.add_peer_as(id, endpoint, now, now, true)
    }

    fn add_peer_as(
        &mut self,
        id: NodeId,
        endpoint: Option<SocketAddr>,
        heard_at: Instant,
        now: Instant,
        first_hand: bool,
    ) -> Option<&mut Peer> {
        if !self.peers.contains_key(&id) {
            if self.is_revoked(&id) {
                self.drops.add(DropReason::Revoked);
                return None;
            }
            let len = self.peers.len();
            let second_hand_full =
                len >= MAX_SECOND_HAND && len - self.peers.verified_count() >= MAX_SECOND_HAND;
            let full = len >= MAX_PEERS || (!first_hand && second_hand_full);
            if full && !self.evict(now, first_hand) {
                self.drops.add(DropReason::PeerTableFull);
                return None;
            }
            let ipv6 = self.prefix.node_addr(&id);
            self.by_ipv6.insert(ipv6, id);
            self.peers
                .insert(id, Peer::new(id, ipv6, endpoint, heard_at));
            self.ipv4_heard_of(id);
        }
        self.peers.get_mut(&id)
    }

    /// Makes room in a full table by forgetting a member that is neither
    /// connected nor a neighbour: for a second-hand newcomer, a second-hand
    /// member whose news is [`STALE_NEWS`] old; for a first-hand one, the
    /// stalest second-hand member, else the stalest verified one. The
    /// stalest of a random sample of [`EVICTION_SAMPLE`] is taken, else of
    /// one of [`WIDE_EVICTION_SAMPLE`]; the table is never scanned, so a
    /// full table costs little per newcomer. Returns whether room was made.
    fn evict(&mut self, now: Instant, first_hand: bool) -> bool {
        let stale_before = now.checked_sub(STALE_NEWS);
        let evictable = |p: &Peer, verified: bool| {
            !p.neighbour
                && !p.connected(now)
                && p.verified == verified
                && (first_hand || stale_before.is_some_and(|s| p.freshness() < s))
        };
        let n = self.peers.roster().len();
        let picks: Vec<usize> = (0..EVICTION_SAMPLE.min(n))
            .map(|_| (self.rng.next_u64() % n as u64) as usize)
            .collect();
        let roster = self.peers.roster();
        let sample: Vec<NodeId> = picks.into_iter().map(|i| roster.ids[i]).collect();
        let mut victim = sample
            .iter()
            .filter_map(|id| self.peers.get(id))
            .filter(|p| evictable(p, false))
            .min_by_key(|p| (p.freshness(), p.id))
            .map(|p| p.id);
        self.peers.count_work(sample.len() as u64);
        // Then a larger sample (for a first-hand newcomer, verified
        // members too when it holds no second-hand one to evict), but never
        // the whole table: a full table costs each newcomer a bounded effort.
        if victim.is_none() {
            let picks: Vec<usize> = (0..WIDE_EVICTION_SAMPLE.min(n))
                .map(|_| (self.rng.next_u64() % n as u64) as usize)
                .collect();
            let roster = self.peers.roster();
            let wide: Vec<NodeId> = picks.into_iter().map(|i| roster.ids[i]).collect();
            self.peers.count_work(wide.len() as u64);
            let tiers: &[bool] = if first_hand { &[false, true] } else { &[false] };
            for &verified in tiers {
                victim = wide
                    .iter()
                    .filter_map(|id| self.peers.get(id))
                    .filter(|p| evictable(p, verified))
                    .min_by_key(|p| (p.freshness(), p.id))
                    .map(|p| p.id);
                if victim.is_some() {
                    break;
                }
            }
        }
        match victim {
            Some(id) => {
                self.remove_peer(&id);
                true
            }
            None => false,
        }
    }

    /// Marks `id` as a neighbour and schedules a connection in `delay`.
    fn make_neighbour(&mut self, now: Instant, id: NodeId, delay: Duration) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.neighbour = true;
        if peer.connected(now) || peer.handshake.is_some() {
            return;
        }
        let at = now + delay;
        if peer.timers.connect.is_none_or(|c| c > at) {
            peer.timers.connect = Some(at);
        }
    }

    /// How many members are neighbours.
    fn neighbour_count(&mut self) -> usize {
        self.peers.neighbour_count()
    }

    /// Forgets a member and all its indices: O(log n), no pass over the
    /// other members (a flood of made-up members expiring costs each
    /// removal a bounded effort; see `tests_expiry`).
    fn remove_peer(&mut self, id: &NodeId) {
        #[cfg(test)]
        let work_before = self.peers.work();
        self.forget_certificate(id);
        self.forget_name(id);
        if let Some(p) = self.peers.remove(id) {
            // Its session indices, its IPv6 and IPv4 entries, the
            // initiation timestamp kept.
            self.peers.count_work(p.local_indices().count() as u64 + 4);
            for idx in p.local_indices() {
                self.by_index.remove(&idx);
            }
            self.by_ipv6.remove(&p.ipv6);
            // A replay of its old initiations stays refused.
            if let Some(ts) = p
                .history
                .as_ref()
                .map(|h| h.last_initiation_ts)
                .filter(|ts| *ts > 0)
            {
                self.restore_initiation_timestamps([(*id, ts)]);
            }
            self.ipv4_forget(id);
            if p.verified {
                self.events.push_back(Event::MembersChanged);
            }
        }
        #[cfg(test)]
        {
            let work = self.peers.work() - work_before;
            self.removal_work.max = self.removal_work.max.max(work);
            self.removal_work.total += work;
            self.removal_work.removals += 1;
        }
    }
}
