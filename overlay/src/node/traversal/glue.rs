//! The node's side of the hole-punching machine: what it tells the machine
//! (members' facts from the peer table, our own addresses, punch requests,
//! signals and timers) and what it does with the machine's outputs (MACs and
//! sends probes, seals and sends signals, opens and closes sockets, moves
//! members to the paths found).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::extra_sockets::STREAM_IDS_FROM;
use super::{candidates::probe_allowed, MemberFacts, Members, Output, OwnView};
use crate::identity::NodeId;
use crate::node::peer_table::PeerTable;
use crate::node::{Event, Node};
use crate::wire::probe;
use crate::wire::signal::Candidates;

/// A member with an IP packet sent or received within this long has traffic
/// waiting, for the punch backoff.
const ACTIVE_PAIR: Duration = Duration::from_secs(10);

impl Members for PeerTable {
    fn facts(&self, now: Instant, member: &NodeId) -> Option<MemberFacts> {
        self.get(member).map(|p| MemberFacts {
            direct: p.relay_hop.is_none() && p.reachable(now),
            endpoint: p.endpoint,
            last_punch: p.last_punch,
            punch_failures: p.punch_failures,
            active: !p.queue.is_empty()
                || p.handshake.is_some()
                || p.last_data
                    .is_some_and(|t| now.saturating_duration_since(t) < ACTIVE_PAIR),
        })
    }

    fn sockets_in_use(&self) -> BTreeSet<u16> {
        self.values().map(|p| p.socket).collect()
    }

    fn direct_from_main(&self, now: Instant) -> Vec<(NodeId, SocketAddr)> {
        self.values()
            .filter(|p| p.socket == 0 && p.relay_hop.is_none() && p.reachable(now))
            .filter_map(|p| Some((p.id, p.endpoint?)))
            .collect()
    }
}

impl Node {
    /// Our addresses and NAT as the machine needs them.
    fn own_view(&self) -> OwnView {
        OwnView {
            id: self.id,
            mapped: self.port_mapping(),
            reflexive: self.reflexive_addresses(),
            stun: self.nat_mapping(),
        }
    }

    /// Starts hole punching toward `pid` unless connected, already punching
    /// or punched lately: signals our candidates to it and probes what we know.
    pub(crate) fn start_punch(&mut self, now: Instant, pid: NodeId) {
        if !self.traversal.may_punch(now, &self.peers, pid) {
            return;
        }
        let own = self.own_view();
        let (id, ask) = self.traversal.request_punch(&own, &mut self.rng);
        if !self.send_candidates(now, pid, &ask) {
            // Nobody to ask: the handshake to the known endpoint is all we
            // have until a lookup finds a route (the next handshake tries
            // again).
            return;
        }
        if let Some(peer) = self.peers.get_mut(&pid) {
            peer.last_punch = Some(now);
        }
        self.traversal
            .begin_punch(now, &self.peers, &own, pid, id, &ask);
        self.run_traversal_outputs(now);
    }

    /// A member's candidates arrived (through `from`, with the signal's
    /// timestamp `ts`): the machine answers a request and probes them.
    pub(crate) fn on_candidates(
        &mut self,
        now: Instant,
        src: NodeId,
        from: NodeId,
        ts: u64,
        mut c: Candidates,
    ) {
        let (prefix, range) = (self.prefix, self.ipv4s.range());
        let Some(joining) = self
            .traversal
            .admit_candidates(now, src, from, &mut c, |a| {
                probe_allowed(a, &prefix, &range)
            })
        else {
            return;
        };
        // The candidates are the sender's word only: they become the
        // member's endpoint when a probe proves one (`Output::PathFound`),
        // never before, or handshakes would go where the sender pointed.
        let Some(peer) = self.add_peer(src, None, now, now) else {
            return;
        };
        peer.last_signal_ts = ts;
        if from != src {
            peer.route.next_hop = Some(from);
        }
        let own = self.own_view();
        self.traversal
            .on_candidates(now, &self.peers, &own, &mut self.rng, src, joining, c);
        self.run_traversal_outputs(now);
    }

    /// Runs the self-check, the punches whose deadline came, and the search
    /// for direct paths to members we reach through a relay.
    pub(crate) fn traversal_timers(&mut self, now: Instant) {
        if self.traversal.upgrade_due(now) {
            let mut relayed: Vec<NodeId> = self
                .peers
                .with_session()
                .filter(|p| p.relay_hop.is_some() && p.connected(now))
                .map(|p| p.id)
                .collect();
            // Table order is arbitrary; the node's behaviour must not be.
            relayed.sort_unstable();
            // Each punches again once its backoff allows.
            for pid in relayed {
                self.start_punch(now, pid);
            }
        }
        let own = self.own_view();
        self.traversal.timers(now, &self.peers, &own, &mut self.rng);
        self.run_traversal_outputs(now);
    }

    /// Does what the machine asked for, in order.
    pub(crate) fn run_traversal_outputs(&mut self, now: Instant) {
        while let Some(out) = self.traversal.poll_output() {
            match out {
                Output::Probe {
                    member,
                    socket,
                    to,
                    tx,
                    ttl,
                } => self.send_probe(socket, member, to, tx, ttl),
                Output::Signal {
                    member,
                    candidates,
                    salt,
                } => {
                    self.send_candidates_salted(now, member, &candidates, salt);
                }
                Output::OpenSockets(ids) => self.events.push_back(Event::OpenExtraSockets(ids)),
                Output::CloseSockets(ids) => self.events.push_back(Event::CloseExtraSockets(ids)),
                Output::PathFound {
                    member,
                    socket,
                    addr,
                    rtt,
                } => self.move_to_path(now, member, socket, addr, rtt),
                Output::PunchEnded { member, found } => {
                    if let Some(p) = self.peers.get_mut(&member) {
                        p.punch_failures = if found {
                            0
                        } else {
                            p.punch_failures.saturating_add(1)
                        };
                    }
                    if !found {
                        // With traffic waiting, a missed punch is retried at
                        // once (if its backoff allows: see `punch_wait`).
                        let started = self.traversal.stats.punches_started;
                        self.start_punch(now, member);
                        if self.traversal.stats.punches_started > started {
                            self.traversal.stats.fast_retries += 1;
                        }
                    }
                }
            }
        }
    }

    /// Sends a probe for `pid` to `to` from our socket `socket`, MAC'd for
    /// it (and for our pair, so that no other member can pass for us).
    fn send_probe(&mut self, socket: u16, pid: NodeId, to: SocketAddr, tx: u64, ttl: Option<u8>) {
        let Some(pair) = self.pair_keys.get(&self.node_key, &self.keys, &pid) else {
            return;
        };
        let mut msg = Vec::with_capacity(probe::PROBE_LEN);
        probe::emit_probe(self.id.as_bytes(), tx, &mut msg);
        probe::seal(&mut msg, &pair.to, &self.keys.mac_to(&pid));
        self.traversal.stats.probes_sent += 1;
        self.queue_datagram_ttl(socket, to, msg, ttl);
    }

    /// A punch found a direct path to `pid`, from our socket `socket` to
    /// `addr`: the member's session or handshake goes there.
    fn move_to_path(
        &mut self,
        now: Instant,
        pid: NodeId,
        socket: u16,
        addr: SocketAddr,
        rtt: Duration,
    ) {
        let Some(peer) = self.peers.get_mut(&pid) else {
            return;
        };
        if peer.endpoint == Some(addr) && peer.socket == socket && peer.relay_hop.is_none() {
            // Already there: the handshake in flight goes the same way.
            return;
        }
        peer.endpoint = Some(addr);
        peer.socket = socket;
        // The path was just proven both ways: a relayed datagram arriving
        // now (an answer to a copy sent before) must not take it back.
        peer.last_direct_rx = Some(now);
        let was_relayed = peer.relay_hop.take().is_some();
        if peer.connected(now) {
            // The session moves to the direct or faster path; the other side
            // follows when our next packet arrives from there.
            tracing::debug!(peer = %pid.short(), %addr, ?rtt, was_relayed, "moving to a better path");
            return;
        }
        let wants = peer.handshake.is_some() || !peer.queue.is_empty() || peer.neighbour;
        if wants {
            let since = peer.handshake.as_ref().map_or(now, |h| h.attempts_since);
            self.send_initiation(now, pid, since);
        }
    }

    /// The driver opened a connection that carries datagrams (a TCP
    /// connection, for networks that drop UDP) as socket `id` (at least
    /// [`STREAM_IDS_FROM`]) to or from `remote`. What arrives on it goes to
    /// [`Node::handle_extra_datagram`] with that ID; members reached through
    /// it are answered through it. If `remote` is a `--peer` address, the
    /// node greets it through the connection at once.
    pub fn attach_stream(&mut self, now: Instant, id: u16, remote: SocketAddr) {
        if id < STREAM_IDS_FROM {
            return;
        }
        self.traversal.extra.streams.insert(id);
        if self.bootstrap.iter().any(|b| b.addr == remote) {
            let stamp = crate::wire::hello::stamp_of(self.unix_ms_at(now));
            let mut msg = Vec::with_capacity(crate::wire::hello::LEN);
            crate::wire::hello::emit(false, self.id.as_bytes(), stamp, &mut msg);
            self.keys.mac_to_any().seal(&mut msg);
            self.queue_datagram(id, remote, msg.to_vec());
            // During a grace period, one under the old key too.
            if let Some(old) = self.retiring_hello_mac(now) {
                old.seal(&mut msg);
                self.queue_datagram(id, remote, msg.to_vec());
            }
        }
    }

    /// The connection `id` closed: members reached through it fall back to
    /// the main socket (and, when that cannot reach them, to other paths).
    pub fn detach_stream(&mut self, id: u16) {
        if !self.traversal.extra.streams.remove(&id) {
            return;
        }
        let through: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.socket == id)
            .map(|p| p.id)
            .collect();
        for pid in through {
            if let Some(p) = self.peers.get_mut(&pid) {
                p.socket = 0;
            }
        }
    }
}
