//! The node's IPv4 view: which member holds which IPv4 overlay address
//! (see [`crate::identity::address`]). Only the node itself and members it
//! completed a handshake with hold one; an address held never moves to a
//! newcomer. A member only heard of holds nothing, but a packet from the
//! TUN for its first candidate, when nobody holds that address, starts a
//! handshake with it (first contact by IPv4 is first come, first served;
//! IPv6 is the authenticated address).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::{Event, Node};
use crate::identity::address::first_ipv4;
use crate::identity::NodeId;

/// How long after its first handshake in the network a node's own IPv4
/// address stays provisional (a member with a lower node ID that collides
/// with it may take it; see [`crate::identity::Ipv4Assignment::insert`]).
pub(crate) const IPV4_SETTLE: Duration = Duration::from_secs(60);

/// What the node knows of IPv4 besides its [`crate::identity::Ipv4Assignment`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Ipv4State {
    /// When our own address stops being provisional (`None`: no handshake yet).
    settles_at: Option<Instant>,
    /// Members heard of, by first candidate (the first one heard of wins):
    /// where a packet for an address nobody holds starts a handshake.
    first_contact: ahash::HashMap<Ipv4Addr, NodeId>,
}

impl Node {
    /// A handshake with `id` completed for the first time: it takes an
    /// IPv4 address in our view (ours may move while provisional).
    pub(crate) fn ipv4_member_verified(&mut self, now: Instant, id: NodeId) {
        let settles_at = *self.ipv4_state.settles_at.get_or_insert(now + IPV4_SETTLE);
        let provisional = now < settles_at;
        if let Some(mine) = self.ipv4s.insert(&self.network, id, provisional) {
            tracing::warn!(
                old = %self.ipv4, new = %mine, peer = %id.short(),
                "IPv4 collision while our address was provisional: address changed"
            );
            self.ipv4 = mine;
            self.events.push_back(Event::Ipv4Changed(mine));
        }
    }

    /// We heard of `id` (first- or second-hand).
    pub(crate) fn ipv4_heard_of(&mut self, id: NodeId) {
        let first = first_ipv4(&self.ipv4s.range(), &self.network, &id);
        self.ipv4_state.first_contact.entry(first).or_insert(id);
    }

    /// We forgot `id`: it holds nothing any more. Nobody else moves.
    pub(crate) fn ipv4_forget(&mut self, id: &NodeId) {
        self.ipv4s.remove(id);
        let first = first_ipv4(&self.ipv4s.range(), &self.network, id);
        if self.ipv4_state.first_contact.get(&first) == Some(id) {
            self.ipv4_state.first_contact.remove(&first);
        }
    }

    /// Who a packet for `addr` goes to: its holder, else a member heard of
    /// whose first candidate it is and that holds no other address.
    pub(crate) fn ipv4_owner(&self, addr: &Ipv4Addr) -> Option<NodeId> {
        self.ipv4s.owner_of(addr).or_else(|| {
            self.ipv4_state
                .first_contact
                .get(addr)
                .copied()
                .filter(|id| self.ipv4s.addr_of(id).is_none())
        })
    }
}
