//! The lookup machine: our lookups in flight, their retries, the memory of
//! recent results, and the handling of every lookup message, apart from
//! the node.
//!
//! Inputs: [`Lookups::lookup_address`] and [`Lookups::lookup_member`]
//! ("need the owner of this address"), [`Lookups::handle_message`] (a
//! lookup message and the neighbour it came from) and
//! [`Lookups::handle_timeout`]. Outputs: messages sent toward a neighbour
//! and routes learned, both through [`LookupNet`] (the machine's view of
//! the node: whether a message could leave decides where a retry goes, and
//! a route learned from a request is the way its answer goes back), the
//! ends of our lookups from [`Lookups::poll_event`], and the next deadline
//! from [`Lookups::poll_timeout`].

use std::collections::{HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;
use crate::node::DropReason;
use crate::wire::gossip::UNREACHABLE;
use crate::wire::lookup::{Lookup, Op, HOP_LIMIT};

/// How long a request waits for its answer before it is sent again.
pub(crate) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests sent for one lookup before it is given up.
pub(crate) const LOOKUP_TRIES: u8 = 3;
/// Lookups of ours in flight at once.
pub(crate) const MAX_LOOKUPS: usize = 64;
/// Packets that wait for one lookup.
pub(crate) const MAX_WAITING: usize = 8;
/// An address looked up this recently is not looked up again (a member
/// found, or an address that no member owns: its packets get an ICMP error).
pub(crate) const RECENT: Duration = Duration::from_secs(10);
/// Addresses remembered as recently looked up.
const MAX_RECENT: usize = 1024;

/// What the lookup machine needs of the node around it: its own identity,
/// its neighbours and routes, and a way to send.
pub(crate) trait LookupNet {
    /// This node's ID.
    fn local_id(&self) -> NodeId;
    /// This node's overlay address.
    fn local_addr(&self) -> Ipv6Addr;
    /// The overlay address that `id` owns.
    fn addr_of(&self, id: &NodeId) -> Ipv6Addr;
    /// Whether `id` is a member in the node's table.
    fn is_member(&self, id: &NodeId) -> bool;
    /// The member in the table that owns `addr`, if any.
    fn owner_of(&self, addr: Ipv6Addr) -> Option<NodeId>;
    /// Whether `id` is a direct session that answers (lookups travel only
    /// over those).
    fn usable_hop(&self, id: &NodeId) -> bool;
    /// The neighbour nearest `target` by key, not one of `avoid` (it may be
    /// farther than this node: the first step of a message we start).
    fn closest_hop(&self, target: Ipv6Addr, avoid: &[NodeId]) -> Option<NodeId>;
    /// The neighbour nearer `target` by key than this node, never
    /// `came_from`.
    fn greedy_hop(&self, target: Ipv6Addr, came_from: NodeId) -> Option<NodeId>;
    /// The next hop toward member `to`, never `came_from`.
    fn next_hop(&self, to: NodeId, came_from: Option<NodeId>) -> Option<NodeId>;
    /// The cost of the link to `id`, if it is in the table.
    fn link_cost(&self, id: &NodeId) -> Option<u32>;
    /// A fresh random lookup ID.
    fn random_id(&mut self) -> u64;
    /// Sends `msg` to neighbour `hop`; false if it could not leave.
    fn send(&mut self, hop: NodeId, msg: &[u8]) -> bool;
    /// Takes news that neighbour `from` reaches `id` at cost `metric`
    /// (never this node or `from` itself).
    fn learn_route(&mut self, from: NodeId, id: NodeId, metric: u16);
    /// Counts a dropped message or packet.
    fn count_drop(&mut self, reason: DropReason);
}

/// How a lookup of ours ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupEvent {
    /// The owner of `target` is `owner`, a member in the table now, reached
    /// through `hop`; `packets` waited for it.
    Found {
        /// The address looked up.
        target: Ipv6Addr,
        /// Its owner.
        owner: NodeId,
        /// The neighbour the answer came from.
        hop: NodeId,
        /// Packets that waited for the answer.
        packets: Vec<Vec<u8>>,
    },
    /// Every path tried ended without the owner, or no answer came in time;
    /// `packets` waited for it in vain.
    NotFound {
        /// The address looked up.
        target: Ipv6Addr,
        /// Packets that waited for the answer.
        packets: Vec<Vec<u8>>,
    },
}

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

/// The lookup machine (see the module documentation).
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookups {
    pending: HashMap<Ipv6Addr, Pending>,
    /// Addresses looked up lately: when the lookup ended, and whether it
    /// found the owner.
    recent: HashMap<Ipv6Addr, (Instant, bool)>,
    events: VecDeque<LookupEvent>,
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

impl Lookups {
    /// The counters.
    pub(crate) fn stats(&self) -> LookupStats {
        self.stats
    }

    /// The next end of a lookup of ours.
    pub(crate) fn poll_event(&mut self) -> Option<LookupEvent> {
        self.events.pop_front()
    }

    /// When [`Lookups::handle_timeout`] next has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Looks up the owner of `target`, keeping `packet` (if any) until it
    /// is known. Returns false when no lookup runs: the address was looked
    /// up lately without an owner, too many lookups are in flight, or no
    /// member can take the request.
    pub(crate) fn lookup_address(
        &mut self,
        net: &mut impl LookupNet,
        now: Instant,
        target: Ipv6Addr,
        packet: Option<&[u8]>,
    ) -> bool {
        if let Some(p) = self.pending.get_mut(&target) {
            if let Some(pkt) = packet {
                if p.packets.len() >= MAX_WAITING {
                    p.packets.remove(0);
                    net.count_drop(DropReason::QueueFull);
                }
                p.packets.push(pkt.to_vec());
            }
            return true;
        }
        if self
            .recent
            .get(&target)
            .is_some_and(|&(at, found)| !found && now.saturating_duration_since(at) < RECENT)
        {
            return false;
        }
        if self.pending.len() >= MAX_LOOKUPS {
            return false;
        }
        let id = net.random_id();
        let Some(hop) = send_request(net, target, id, &[]) else {
            return false;
        };
        self.stats.started += 1;
        self.pending.insert(
            target,
            Pending {
                id,
                tries: 1,
                first_hops: vec![hop],
                deadline: now + LOOKUP_TIMEOUT,
                packets: packet.map(|p| vec![p.to_vec()]).unwrap_or_default(),
            },
        );
        true
    }

    /// Looks up the owner of `addr`, a member we have no route to, unless
    /// it was looked up lately (found or not).
    pub(crate) fn lookup_member(&mut self, net: &mut impl LookupNet, now: Instant, addr: Ipv6Addr) {
        if self.pending.contains_key(&addr)
            || self
                .recent
                .get(&addr)
                .is_some_and(|&(at, _)| now.saturating_duration_since(at) < RECENT)
        {
            return;
        }
        self.lookup_address(net, now, addr, None);
    }

    /// Resends or gives up lookups whose answer is late.
    pub(crate) fn handle_timeout(&mut self, net: &mut impl LookupNet, now: Instant) {
        let mut due: Vec<Ipv6Addr> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(a, _)| *a)
            .collect();
        due.sort_unstable();
        for target in due {
            if self.retry(net, now, target, true) {
                continue;
            }
            let p = self.pending.remove(&target).expect("listed");
            self.stats.timed_out += 1;
            self.remember(now, target, false);
            self.events.push_back(LookupEvent::NotFound {
                target,
                packets: p.packets,
            });
        }
        if self.recent.len() > MAX_RECENT {
            self.recent
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < RECENT);
        }
    }

    /// Handles a lookup message that arrived on our session with `from`.
    pub(crate) fn handle_message(
        &mut self,
        net: &mut impl LookupNet,
        now: Instant,
        from: NodeId,
        msg: &[u8],
    ) {
        let Ok(l) = Lookup::parse(msg) else {
            net.count_drop(DropReason::BadInner);
            return;
        };
        // Lookups travel only over direct sessions: the routes they leave
        // must lead somewhere.
        if !net.usable_hop(&from) {
            net.count_drop(DropReason::LookupNoRoute);
            return;
        }
        let local = net.local_id();
        let known = NodeId::known(&l.origin, |id| net.is_member(id) || *id == local)
            .or_else(|| NodeId::from_bytes(l.origin).ok());
        let Some(origin) = known else {
            net.count_drop(DropReason::BadInner);
            return;
        };
        let owner = match l.op {
            Op::Found(bytes) => {
                let owner = NodeId::known(&bytes, |id| net.is_member(id))
                    .or_else(|| NodeId::from_bytes(bytes).ok());
                match owner.filter(|o| net.addr_of(o) == l.target) {
                    Some(o) => Some(o),
                    None => {
                        net.count_drop(DropReason::LookupNoRoute);
                        return;
                    }
                }
            }
            _ => None,
        };
        if let Some(owner) = owner {
            learn_route(net, from, owner, l.metric);
        }
        match l.op {
            Op::Request if origin == local => net.count_drop(DropReason::LookupNoRoute),
            Op::Request => self.on_request(net, from, origin, &l),
            _ if origin == local => self.on_answer(net, now, from, &l, owner),
            _ => {
                // An answer on its way back to its origin.
                let next = net.next_hop(origin, Some(from));
                match next.filter(|_| l.hop_limit > 1) {
                    Some(hop) => {
                        let fwd = Lookup {
                            hop_limit: l.hop_limit - 1,
                            metric: cost_through(net, &from, l.metric),
                            ..l
                        };
                        if net.send(hop, &crate::wire::to_vec(|o| fwd.emit(o))) {
                            self.stats.forwarded += 1;
                        }
                    }
                    None => net.count_drop(DropReason::LookupNoRoute),
                }
            }
        }
    }

    /// A request from `origin`: answered here if this node owns the
    /// address, has a session with its owner or knows no one nearer;
    /// passed on otherwise.
    fn on_request(&mut self, net: &mut impl LookupNet, from: NodeId, origin: NodeId, l: &Lookup) {
        learn_route(net, from, origin, l.metric);
        let owner_hop = net.owner_of(l.target).filter(|o| net.usable_hop(o));
        let answer = if l.target == net.local_addr() {
            Some((Op::Found(*net.local_id().as_bytes()), 0))
        } else if let Some(o) = owner_hop {
            let cost = cost_through(net, &o, 0);
            Some((Op::Found(*o.as_bytes()), cost))
        } else {
            // Closer by key, else along a route to the owner if we know one.
            let next = net
                .greedy_hop(l.target, from)
                .or_else(|| {
                    let owner = net.owner_of(l.target)?;
                    net.next_hop(owner, Some(from))
                })
                .filter(|_| l.hop_limit > 1);
            match next {
                Some(hop) => {
                    let fwd = Lookup {
                        hop_limit: l.hop_limit - 1,
                        metric: cost_through(net, &from, l.metric),
                        ..*l
                    };
                    if net.send(hop, &crate::wire::to_vec(|o| fwd.emit(o))) {
                        self.stats.forwarded += 1;
                    }
                    None
                }
                None => Some((Op::NotFound, 0)),
            }
        };
        let Some((op, metric)) = answer else {
            return;
        };
        self.stats.answered += 1;
        let msg = Lookup {
            hop_limit: HOP_LIMIT,
            op,
            id: l.id,
            target: l.target,
            origin: l.origin,
            metric,
        };
        match net.next_hop(origin, None) {
            Some(hop) => {
                net.send(hop, &crate::wire::to_vec(|o| msg.emit(o)));
            }
            None => net.count_drop(DropReason::LookupNoRoute),
        }
    }

    /// The answer to a lookup of ours.
    fn on_answer(
        &mut self,
        net: &mut impl LookupNet,
        now: Instant,
        from: NodeId,
        l: &Lookup,
        owner: Option<NodeId>,
    ) {
        if self.pending.get(&l.target).is_none_or(|p| p.id != l.id) {
            return;
        }
        let Some(owner) = owner.filter(|o| net.is_member(o)) else {
            // This path ended without the owner: another may not.
            if self.retry(net, now, l.target, false) {
                return;
            }
            let p = self.pending.remove(&l.target).expect("checked");
            self.stats.not_found += 1;
            self.remember(now, l.target, false);
            self.events.push_back(LookupEvent::NotFound {
                target: l.target,
                packets: p.packets,
            });
            return;
        };
        let p = self.pending.remove(&l.target).expect("checked");
        self.stats.found += 1;
        self.remember(now, l.target, true);
        self.events.push_back(LookupEvent::Found {
            target: l.target,
            owner,
            hop: from,
            packets: p.packets,
        });
    }

    /// Sends the request of a pending lookup again, to a member it has not
    /// gone to yet if there is one, else (when `again` allows: the answer
    /// may have been lost) to the same; returns whether it left.
    fn retry(
        &mut self,
        net: &mut impl LookupNet,
        now: Instant,
        target: Ipv6Addr,
        again: bool,
    ) -> bool {
        let Some(p) = self.pending.get_mut(&target) else {
            return false;
        };
        if p.tries >= LOOKUP_TRIES {
            return false;
        }
        let hop = send_request(net, target, p.id, &p.first_hops)
            .or_else(|| again.then(|| send_request(net, target, p.id, &[]))?);
        let Some(hop) = hop else {
            return false;
        };
        p.tries += 1;
        p.deadline = now + LOOKUP_TIMEOUT;
        if !p.first_hops.contains(&hop) {
            p.first_hops.push(hop);
        }
        true
    }

    /// Remembers how the lookup of `target` ended.
    fn remember(&mut self, now: Instant, target: Ipv6Addr, found: bool) {
        if self.recent.len() >= MAX_RECENT {
            self.recent
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < RECENT);
        }
        if self.recent.len() < MAX_RECENT {
            self.recent.insert(target, (now, found));
        }
    }
}

/// Sends a request for `target` to the member closest to it that is not
/// one of `tried`; returns that member.
fn send_request(
    net: &mut impl LookupNet,
    target: Ipv6Addr,
    id: u64,
    tried: &[NodeId],
) -> Option<NodeId> {
    let hop = net.closest_hop(target, tried)?;
    let msg = Lookup {
        hop_limit: HOP_LIMIT,
        op: Op::Request,
        id,
        target,
        origin: *net.local_id().as_bytes(),
        metric: 0,
    };
    net.send(hop, &crate::wire::to_vec(|o| msg.emit(o)))
        .then_some(hop)
}

/// Takes a lookup message from `from` as news that `from` reaches `id` at
/// cost `metric`.
fn learn_route(net: &mut impl LookupNet, from: NodeId, id: NodeId, metric: u16) {
    if id == net.local_id() || id == from {
        return;
    }
    net.learn_route(from, id, metric);
}

/// Our route cost to `from` plus `metric`.
fn cost_through(net: &impl LookupNet, from: &NodeId, metric: u16) -> u16 {
    let link = net.link_cost(from).unwrap_or(u32::MAX);
    u32::from(metric)
        .saturating_add(link)
        .min(u32::from(UNREACHABLE - 1)) as u16
}
