//! Lookups: finding the member that owns an overlay address, and a relay
//! path to it, on demand, with no central server.
//!
//! A node that has a packet for an overlay address no member it knows owns,
//! or a member it has no route to, sends a **request** ([`crate::wire::lookup`])
//! toward the address by greedy forwarding ([`super::contacts`]). Each member
//! on the way takes the request as news of a route back to its origin
//! (through the member it came from, at the cost the request carries plus
//! that link's). The request ends at the owner, or at a member with a direct
//! session to the owner, which **answers** with the owner's node ID; or at a
//! member that knows no one closer, which answers that it found nothing. The
//! answer retraces the request's path along the routes the request left, and
//! each member on the way back takes it as news of a route to the owner. So
//! when the answer arrives, every member on the path has a route toward both
//! ends, and the existing relaying uses that chain at once: the handshake
//! goes through it while hole punching looks for a direct path.
//!
//! An answer is checked where it is used: its node ID must own the address
//! (the address derives from the ID), so a member cannot redirect a lookup
//! to another member; and an answer for no request of ours is ignored.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::{DropReason, Node};
use crate::identity::NodeId;
use crate::limits::MAX_QUEUED_PACKETS;
use crate::wire::gossip::UNREACHABLE;
use crate::wire::lookup::{Lookup, Op, HOP_LIMIT};

/// How long a request waits for its answer before it is sent again.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests sent for one lookup before it is given up.
const LOOKUP_TRIES: u8 = 3;
/// Lookups of ours in flight at once.
const MAX_LOOKUPS: usize = 64;
/// Packets that wait for one lookup.
const MAX_WAITING: usize = 8;
/// An address looked up this recently is not looked up again (a member
/// found, or an address that no member owns: its packets get an ICMP error).
const RECENT: Duration = Duration::from_secs(10);
/// A handshake in flight this long when a lookup finds a route to its
/// member is sent again along the route.
const RESEND_AFTER_ANSWER: Duration = Duration::from_secs(1);
/// Addresses remembered as recently looked up.
const MAX_RECENT: usize = 1024;

/// A lookup of ours in flight.
#[derive(Clone, Debug)]
struct Pending {
    id: u64,
    tries: u8,
    /// The members each request went to first: a request that ended
    /// without the owner goes to the next closest one.
    first_hops: Vec<NodeId>,
    deadline: Instant,
    /// Packets for the address, sent once its owner is known.
    packets: Vec<Vec<u8>>,
}

/// The node's lookups and their counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookups {
    pending: HashMap<Ipv6Addr, Pending>,
    /// Addresses looked up lately: when the lookup ended, and whether it
    /// found the owner.
    recent: HashMap<Ipv6Addr, (Instant, bool)>,
    stats: LookupStats,
}

/// Lookup counters, for `tessel status` and the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupStats {
    /// Lookups this node started.
    pub started: u64,
    /// Lookups of ours that found the owner.
    pub found: u64,
    /// Lookups of ours that ended without an owner.
    pub not_found: u64,
    /// Lookups of ours given up without an answer.
    pub timed_out: u64,
    /// Requests and answers passed on for others.
    pub forwarded: u64,
    /// Requests answered by this node (for itself or a member it has a
    /// session with, or that it found nothing).
    pub answered: u64,
}

impl Node {
    /// Lookup counters.
    pub fn lookup_stats(&self) -> LookupStats {
        self.lookups.stats
    }

    /// Looks up the owner of `target`, keeping `packet` (if any) until it
    /// is known. Returns false when no lookup runs: the address was looked
    /// up lately without an owner, too many lookups are in flight, or no
    /// member can take the request.
    pub(crate) fn lookup_address(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        packet: Option<&[u8]>,
    ) -> bool {
        if let Some(p) = self.lookups.pending.get_mut(&target) {
            if let Some(pkt) = packet {
                if p.packets.len() >= MAX_WAITING {
                    p.packets.remove(0);
                    self.drops.add(DropReason::QueueFull);
                }
                p.packets.push(pkt.to_vec());
            }
            return true;
        }
        if self
            .lookups
            .recent
            .get(&target)
            .is_some_and(|&(at, found)| !found && now.saturating_duration_since(at) < RECENT)
        {
            return false;
        }
        if self.lookups.pending.len() >= MAX_LOOKUPS {
            return false;
        }
        let id = self.rng.next_u64();
        let Some(hop) = self.send_request(now, target, id, &[]) else {
            return false;
        };
        self.lookups.stats.started += 1;
        let deadline = now + LOOKUP_TIMEOUT;
        self.lookups.pending.insert(
            target,
            Pending {
                id,
                tries: 1,
                first_hops: vec![hop],
                deadline,
                packets: packet.map(|p| vec![p.to_vec()]).unwrap_or_default(),
            },
        );
        true
    }

    /// Looks up a known member we have no route to, unless it was looked up
    /// lately.
    pub(crate) fn lookup_member(&mut self, now: Instant, pid: NodeId) {
        let Some(addr) = self.peers.get(&pid).map(|p| p.ipv6) else {
            return;
        };
        if self.lookups.pending.contains_key(&addr)
            || self
                .lookups
                .recent
                .get(&addr)
                .is_some_and(|&(at, _)| now.saturating_duration_since(at) < RECENT)
        {
            return;
        }
        self.lookup_address(now, addr, None);
    }

    /// Whether we have a direct session with `pid` that answers, or a route
    /// to it whose next hop answers.
    pub(crate) fn has_route(&self, now: Instant, pid: NodeId) -> bool {
        self.usable_hop(now, &pid)
            || self
                .peers
                .get(&pid)
                .and_then(|p| p.via)
                .is_some_and(|v| self.usable_hop(now, &v))
    }

    /// Sends a request for `target` to the member closest to it that is not
    /// one of `tried`; returns that member.
    fn send_request(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        id: u64,
        tried: &[NodeId],
    ) -> Option<NodeId> {
        let hop = self.closest_hop(now, super::contacts::key(target), tried, false)?;
        let msg = Lookup {
            hop_limit: HOP_LIMIT,
            op: Op::Request,
            id,
            target,
            origin: *self.id.as_bytes(),
            metric: 0,
        };
        self.send_encrypted(now, hop, &msg.emit()).then_some(hop)
    }

    /// Sends the request of a pending lookup again, to a member it has not
    /// gone to yet if there is one, else (when `again` allows: the answer
    /// may have been lost) to the same; returns whether it left.
    fn retry_lookup(&mut self, now: Instant, target: Ipv6Addr, again: bool) -> bool {
        let Some(p) = self.lookups.pending.get(&target) else {
            return false;
        };
        if p.tries >= LOOKUP_TRIES {
            return false;
        }
        let (id, tried) = (p.id, p.first_hops.clone());
        let hop = self
            .send_request(now, target, id, &tried)
            .or_else(|| again.then(|| self.send_request(now, target, id, &[]))?);
        let Some(hop) = hop else {
            return false;
        };
        let p = self.lookups.pending.get_mut(&target).expect("checked");
        p.tries += 1;
        p.deadline = now + LOOKUP_TIMEOUT;
        if !p.first_hops.contains(&hop) {
            p.first_hops.push(hop);
        }
        true
    }

    /// Resends or gives up lookups whose answer is late.
    pub(crate) fn lookup_timers(&mut self, now: Instant) {
        let mut due: Vec<Ipv6Addr> = self
            .lookups
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(a, _)| *a)
            .collect();
        due.sort_unstable();
        for target in due {
            if self.retry_lookup(now, target, true) {
                continue;
            }
            let p = self.lookups.pending.remove(&target).expect("listed");
            self.lookups.stats.timed_out += 1;
            for _ in p.packets {
                self.drops.add(DropReason::NoRoute);
            }
            self.remember_lookup(now, target, false);
        }
        if self.lookups.recent.len() > MAX_RECENT {
            self.lookups
                .recent
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < RECENT);
        }
    }

    /// When [`Node::lookup_timers`] next has something to do.
    pub(crate) fn lookup_deadline(&self) -> Option<Instant> {
        self.lookups.pending.values().map(|p| p.deadline).min()
    }

    fn remember_lookup(&mut self, now: Instant, target: Ipv6Addr, found: bool) {
        if self.lookups.recent.len() >= MAX_RECENT {
            self.lookups
                .recent
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < RECENT);
        }
        if self.lookups.recent.len() < MAX_RECENT {
            self.lookups.recent.insert(target, (now, found));
        }
    }

    /// Our route cost to `from` plus `metric`.
    fn cost_through(&self, from: &NodeId, metric: u16) -> u16 {
        let link = self.peers.get(from).map_or(u32::MAX, |p| p.link.cost());
        u32::from(metric)
            .saturating_add(link)
            .min(u32::from(UNREACHABLE - 1)) as u16
    }

    /// Takes a lookup message from `from` as news that `from` reaches `id`
    /// at cost `metric`.
    fn learn_route(&mut self, now: Instant, from: NodeId, id: NodeId, metric: u16) {
        if id == self.id || id == from {
            return;
        }
        if self.add_peer(id, None, now, now).is_none() {
            return;
        }
        self.route_update(now, from, id, metric);
    }

    /// Handles a lookup message that arrived on our session with `from`.
    pub(crate) fn consume_lookup(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(l) = Lookup::parse(msg) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        // Lookups travel only over direct sessions: the routes they leave
        // must lead somewhere.
        if !self.usable_hop(now, &from) {
            self.drops.add(DropReason::LookupNoRoute);
            return;
        }
        let known = NodeId::known(&l.origin, |id| {
            self.peers.contains_key(id) || *id == self.id
        })
        .or_else(|| NodeId::from_bytes(l.origin).ok());
        let Some(origin) = known else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        let owner = match l.op {
            Op::Found(bytes) => {
                let owner = NodeId::known(&bytes, |id| self.peers.contains_key(id))
                    .or_else(|| NodeId::from_bytes(bytes).ok());
                match owner.filter(|o| self.prefix.node_addr(o) == l.target) {
                    Some(o) => Some(o),
                    None => {
                        self.drops.add(DropReason::LookupNoRoute);
                        return;
                    }
                }
            }
            _ => None,
        };
        if let Some(owner) = owner {
            self.learn_route(now, from, owner, l.metric);
        }
        match l.op {
            Op::Request if origin == self.id => self.drops.add(DropReason::LookupNoRoute),
            Op::Request => self.on_request(now, from, origin, &l),
            _ if origin == self.id => self.on_answer(now, from, &l, owner),
            _ => {
                // An answer on its way back to its origin.
                let next = self.next_hop(now, origin, Some(from));
                match next.filter(|_| l.hop_limit > 1) {
                    Some(hop) => {
                        let fwd = Lookup {
                            hop_limit: l.hop_limit - 1,
                            metric: self.cost_through(&from, l.metric),
                            ..l
                        };
                        if self.send_encrypted(now, hop, &fwd.emit()) {
                            self.lookups.stats.forwarded += 1;
                        }
                    }
                    None => self.drops.add(DropReason::LookupNoRoute),
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, from: NodeId, origin: NodeId, l: &Lookup) {
        self.learn_route(now, from, origin, l.metric);
        let owner_hop = self
            .by_ipv6
            .get(&l.target)
            .copied()
            .filter(|o| self.usable_hop(now, o));
        let answer = if l.target == self.ipv6 {
            Some((Op::Found(*self.id.as_bytes()), 0))
        } else if let Some(o) = owner_hop {
            let cost = self.cost_through(&o, 0);
            Some((Op::Found(*o.as_bytes()), cost))
        } else {
            // Closer by key, else along a route to the owner if we know one.
            let next = self
                .greedy_hop(now, super::contacts::key(l.target), Some(from))
                .or_else(|| {
                    let owner = self.by_ipv6.get(&l.target).copied()?;
                    self.next_hop(now, owner, Some(from))
                })
                .filter(|_| l.hop_limit > 1);
            match next {
                Some(hop) => {
                    let fwd = Lookup {
                        hop_limit: l.hop_limit - 1,
                        metric: self.cost_through(&from, l.metric),
                        ..*l
                    };
                    if self.send_encrypted(now, hop, &fwd.emit()) {
                        self.lookups.stats.forwarded += 1;
                    }
                    None
                }
                None => Some((Op::NotFound, 0)),
            }
        };
        let Some((op, metric)) = answer else {
            return;
        };
        self.lookups.stats.answered += 1;
        let msg = Lookup {
            hop_limit: HOP_LIMIT,
            op,
            id: l.id,
            target: l.target,
            origin: l.origin,
            metric,
        };
        match self.next_hop(now, origin, None) {
            Some(hop) => {
                self.send_encrypted(now, hop, &msg.emit());
            }
            None => self.drops.add(DropReason::LookupNoRoute),
        }
    }

    /// The answer to a lookup of ours.
    fn on_answer(&mut self, now: Instant, from: NodeId, l: &Lookup, owner: Option<NodeId>) {
        if self
            .lookups
            .pending
            .get(&l.target)
            .is_none_or(|p| p.id != l.id)
        {
            return;
        }
        let Some(owner) = owner.filter(|o| self.peers.contains_key(o)) else {
            // This path ended without the owner: another may not.
            if self.retry_lookup(now, l.target, false) {
                return;
            }
            let p = self.lookups.pending.remove(&l.target).expect("checked");
            self.lookups.stats.not_found += 1;
            for _ in p.packets {
                self.drops.add(DropReason::NoRoute);
            }
            self.remember_lookup(now, l.target, false);
            return;
        };
        let p = self.lookups.pending.remove(&l.target).expect("checked");
        self.lookups.stats.found += 1;
        self.remember_lookup(now, l.target, true);
        tracing::debug!(owner = %owner.short(), via = %from.short(), "lookup found a member");
        let peer = self.peers.get_mut(&owner).expect("checked");
        for pkt in p.packets {
            if peer.queue.len() >= MAX_QUEUED_PACKETS {
                peer.queue.pop_front();
                self.drops.add(DropReason::QueueFull);
            }
            peer.queue.push_back(pkt);
        }
        let peer = &self.peers[&owner];
        if peer.connected(now) {
            if !peer.queue.is_empty() {
                self.flush_queue(now, owner);
            }
        } else if let Some(h) = peer.handshake.as_ref() {
            // A handshake long unanswered: send it again, along the new route.
            // (A younger one may still be answered; a new initiation would
            // void it.)
            if now.saturating_duration_since(h.sent_at) >= RESEND_AFTER_ANSWER {
                let since = h.attempts_since;
                self.send_initiation(now, owner, since);
            }
        } else {
            self.initiate(now, owner);
        }
    }
}
