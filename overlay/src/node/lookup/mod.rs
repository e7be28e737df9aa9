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
//!
//! The protocol is a machine of its own, [`machine::Lookups`], with unit
//! tests that need no node; this file is the node's glue: it lends the
//! machine its view of the members and its sessions ([`machine::LookupNet`])
//! and acts on how our lookups end (queued packets go to the member found,
//! and a handshake along the new route; or they are dropped).

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::{DropReason, Node};
use crate::identity::NodeId;
use crate::limits::MAX_QUEUED_PACKETS;

mod machine;
#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests;

pub use machine::LookupStats;
pub(crate) use machine::Lookups;
use machine::{LookupEvent, LookupNet};

/// A handshake in flight this long when a lookup finds a route to its
/// member is sent again along the route.
const RESEND_AFTER_ANSWER: Duration = Duration::from_secs(1);

/// The node as the lookup machine sees it, at one instant.
struct NodeNet<'a> {
    node: &'a mut Node,
    now: Instant,
}

impl LookupNet for NodeNet<'_> {
    fn local_id(&self) -> NodeId {
        self.node.id
    }

    fn local_addr(&self) -> Ipv6Addr {
        self.node.ipv6
    }

    fn addr_of(&self, id: &NodeId) -> Ipv6Addr {
        self.node.prefix.node_addr(id)
    }

    fn is_member(&self, id: &NodeId) -> bool {
        self.node.peers.contains_key(id)
    }

    fn owner_of(&self, addr: Ipv6Addr) -> Option<NodeId> {
        self.node.by_ipv6.get(&addr).copied()
    }

    fn usable_hop(&self, id: &NodeId) -> bool {
        self.node.usable_hop(self.now, id)
    }

    fn closest_hop(&self, target: Ipv6Addr, avoid: &[NodeId]) -> Option<NodeId> {
        let key = super::contacts::key(target);
        self.node.closest_hop(self.now, key, avoid, false)
    }

    fn greedy_hop(&self, target: Ipv6Addr, came_from: NodeId) -> Option<NodeId> {
        let key = super::contacts::key(target);
        self.node.greedy_hop(self.now, key, Some(came_from))
    }

    fn next_hop(&self, to: NodeId, came_from: Option<NodeId>) -> Option<NodeId> {
        self.node.next_hop(self.now, to, came_from)
    }

    fn link_cost(&self, id: &NodeId) -> Option<u32> {
        self.node.peers.get(id).map(|p| p.link.cost())
    }

    fn random_id(&mut self) -> u64 {
        self.node.rng.next_u64()
    }

    fn send(&mut self, hop: NodeId, msg: &[u8]) -> bool {
        self.node.send_encrypted(self.now, hop, msg)
    }

    fn learn_route(&mut self, from: NodeId, id: NodeId, metric: u16) {
        let now = self.now;
        if self.node.add_peer(id, None, now, now).is_some() {
            self.node.route_update(now, from, id, metric);
        }
    }

    fn count_drop(&mut self, reason: DropReason) {
        self.node.drops.add(reason);
    }
}

impl Node {
    /// Lookup counters.
    pub fn lookup_stats(&self) -> LookupStats {
        self.lookups.stats()
    }

    /// Runs `f` on the lookup machine with the node as its view, then acts
    /// on the lookups that ended.
    fn with_lookups<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Lookups, &mut NodeNet<'_>) -> R,
    ) -> R {
        let mut lookups = std::mem::take(&mut self.lookups);
        let out = f(&mut lookups, &mut NodeNet { node: self, now });
        self.lookups = lookups;
        while let Some(event) = self.lookups.poll_event() {
            self.on_lookup_event(now, event);
        }
        out
    }

    /// Looks up the owner of `target`, keeping `packet` (if any) until it
    /// is known; false when no lookup runs (see
    /// [`Lookups::lookup_address`]).
    pub(crate) fn lookup_address(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        packet: Option<&[u8]>,
    ) -> bool {
        self.with_lookups(now, |l, net| l.lookup_address(net, now, target, packet))
    }

    /// Looks up a known member we have no route to, unless it was looked up
    /// lately.
    pub(crate) fn lookup_member(&mut self, now: Instant, pid: NodeId) {
        let Some(addr) = self.peers.get(&pid).map(|p| p.ipv6) else {
            return;
        };
        self.with_lookups(now, |l, net| l.lookup_member(net, now, addr));
    }

    /// Whether we have a direct session with `pid` that answers, or a route
    /// to it whose next hop answers.
    pub(crate) fn has_route(&self, now: Instant, pid: NodeId) -> bool {
        self.usable_hop(now, &pid)
            || self
                .peers
                .get(&pid)
                .and_then(|p| p.route.next_hop)
                .is_some_and(|v| self.usable_hop(now, &v))
    }

    /// Resends or gives up lookups whose answer is late.
    pub(crate) fn lookup_timers(&mut self, now: Instant) {
        self.with_lookups(now, |l, net| l.handle_timeout(net, now));
    }

    /// When [`Node::lookup_timers`] next has something to do.
    pub(crate) fn lookup_deadline(&self) -> Option<Instant> {
        self.lookups.poll_timeout()
    }

    /// Handles a lookup message that arrived on our session with `from`.
    pub(crate) fn consume_lookup(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        self.with_lookups(now, |l, net| l.handle_message(net, now, from, msg));
    }

    /// Acts on the end of a lookup of ours.
    fn on_lookup_event(&mut self, now: Instant, event: LookupEvent) {
        let (addr, owner, hop, packets) = match event {
            LookupEvent::Found {
                target,
                owner,
                hop,
                packets,
            } => (target, owner, hop, packets),
            LookupEvent::NotFound { target, packets } => {
                tracing::trace!(addr = %target, "lookup found no member");
                for _ in packets {
                    self.drops.add(DropReason::NoRoute);
                }
                return;
            }
        };
        tracing::debug!(
            addr = %addr,
            owner = %owner.short(),
            hop = %hop.short(),
            "lookup found a member"
        );
        let Some(peer) = self.peers.get_mut(&owner) else {
            return;
        };
        for pkt in packets {
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
