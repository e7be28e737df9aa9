//! The node's members, with an index of their timer deadlines.
//!
//! A node may know thousands of members, yet on a wakeup only a few of them
//! have a timer due. The table keeps a min-heap of `(deadline, member)`, so
//! that finding the due members and the earliest deadline costs O(log n)
//! instead of a scan of every member.
//!
//! **How the index stays right.** The only way to change a member is through
//! this table ([`PeerTable::get_mut`], [`PeerTable::insert`]), and each of
//! them marks the member as touched. [`PeerTable::reindex`] files every
//! touched member's earliest deadline ([`super::peer::PeerTimers::next`])
//! anew. So arming or disarming a timer needs nothing more than setting it on
//! a `&mut Peer`: the index learns of it before the node next reads it.
//!
//! Filed entries that no longer hold (the member's deadline moved, or it was
//! forgotten) stay in the heap until they surface, and are skipped then; the
//! heap is rebuilt when such entries outnumber the live ones.
//!
//! **Expiry** has an index of its own: a min-heap of `(when the member's
//! news goes stale, member)`, one entry per member, filed from its
//! freshness when it joins. Fresh news does not touch it (a packet per
//! member would cost a heap push each); instead an entry that surfaces is
//! checked against the member's freshness now and filed again for later if
//! the news was renewed. So finding the members to expire costs O(log n)
//! per member looked at, never a scan, and forgetting one costs O(log n)
//! ([`PeerTable::work`] counts the steps, for the tests that bound them).
//!
//! The same bookkeeping keeps the [`Roster`] (what gossip and member upkeep
//! read of all members, in compact arrays sorted by node ID), the neighbour
//! count, the set of members with a session and how many members each
//! neighbour is the next hop of, for the cap on route claims. Entries hold
//! their member boxed, so that the map stays small and grows cheaply.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::Index;
use std::time::Instant;

use super::peer::Peer;
use super::roster::{Roster, Summary};
use crate::identity::NodeId;
use crate::limits::PEER_EXPIRY;

/// How soon a member found stale but kept (it still has a session) is
/// looked at again.
const EXPIRY_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// One member and its bookkeeping in the index.
#[derive(Clone, Debug)]
struct Slot {
    peer: Box<Peer>,
    /// The deadline filed in the heap for this member (`None`: none filed).
    filed: Option<Instant>,
    /// Whether the member is in the touched list.
    touched: bool,
    /// Whether the summary counts it as a neighbour.
    filed_neighbour: bool,
    /// Whether it is in the set of members with a session.
    filed_session: bool,
    /// Whether the count of verified members counts it.
    filed_verified: bool,
    /// Where it was last seen on the roster.
    roster_hint: usize,
    /// When its entry in the expiry heap says to look at it.
    expiry: Instant,
    /// The next hop counted for it in `routes_through`.
    filed_next_hop: Option<NodeId>,
}

/// How many members each member is the next hop of.
#[derive(Clone, Debug, Default)]
struct RouteCounts {
    by_hop: ahash::HashMap<NodeId, u32>,
    /// Members with a next hop.
    routed: usize,
}

impl RouteCounts {
    /// Moves one member's count from next hop `old` to `new`.
    fn file(&mut self, old: Option<NodeId>, new: Option<NodeId>) {
        if old == new {
            return;
        }
        if let Some(o) = old {
            self.routed -= 1;
            if let Some(n) = self.by_hop.get_mut(&o) {
                *n -= 1;
                if *n == 0 {
                    self.by_hop.remove(&o);
                }
            }
        }
        if let Some(n) = new {
            self.routed += 1;
            *self.by_hop.entry(n).or_default() += 1;
        }
    }
}

/// Members by node ID, with their deadlines indexed. See the module
/// documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerTable {
    /// Keyed with ahash: node IDs are chosen by their owners, and SipHash
    /// on 32 bytes costs more than the lookup it serves.
    slots: ahash::HashMap<NodeId, Slot>,
    /// Members changed since the last [`PeerTable::reindex`].
    touched: Vec<NodeId>,
    /// `(deadline, member)`, earliest first; entries whose deadline is no
    /// longer the member's filed one are stale.
    deadlines: BinaryHeap<Reverse<(Instant, NodeId)>>,
    /// Every member's summary as of the last reindex.
    roster: Roster,
    /// Members that the summaries count as neighbours.
    neighbours: usize,
    /// Members with a current session as of the last reindex, with their
    /// keys ([`super::contacts::key`]).
    with_session: BTreeMap<NodeId, u128>,
    /// Members that the summaries count as verified.
    verified: usize,
    /// `(when to look at the member for expiry, member)`, earliest first;
    /// entries that are not the member's filed `expiry` are stale.
    expiries: BinaryHeap<Reverse<(Instant, NodeId)>>,
    /// How many members each member is the next hop of (as filed).
    routes: RouteCounts,
    /// Steps taken besides the roster's (heap entries looked at, map
    /// changes), see [`PeerTable::work`].
    work: u64,
}

impl PeerTable {
    /// The member with this ID.
    pub(crate) fn get(&self, id: &NodeId) -> Option<&Peer> {
        self.slots.get(id).map(|s| &*s.peer)
    }

    /// The member with this ID, to change (its timers included).
    pub(crate) fn get_mut(&mut self, id: &NodeId) -> Option<&mut Peer> {
        let slot = self.slots.get_mut(id)?;
        if !slot.touched {
            slot.touched = true;
            self.touched.push(*id);
        }
        Some(&mut *slot.peer)
    }

    /// Whether a member with this ID is known.
    pub(crate) fn contains_key(&self, id: &NodeId) -> bool {
        self.slots.contains_key(id)
    }

    /// How many members are known.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no member is known.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every member, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Peer> + '_ {
        self.slots.values().map(|s| &*s.peer)
    }

    /// Adds (or replaces) a member.
    pub(crate) fn insert(&mut self, id: NodeId, peer: Peer) {
        self.remove(&id);
        let summary = Summary::of(&peer);
        self.roster.insert(summary);
        self.neighbours += usize::from(summary.neighbour);
        let session = peer.current.is_some();
        if session {
            self.with_session.insert(id, summary.key);
        }
        self.verified += usize::from(peer.verified);
        let verified = peer.verified;
        let expiry = peer.freshness() + PEER_EXPIRY;
        let next_hop = peer.route.next_hop;
        self.routes.file(None, next_hop);
        self.expiries.push(Reverse((expiry, id)));
        self.work += 2;
        self.slots.insert(
            id,
            Slot {
                peer: Box::new(peer),
                filed: None,
                touched: true,
                filed_neighbour: summary.neighbour,
                filed_session: session,
                filed_verified: verified,
                roster_hint: 0,
                expiry,
                filed_next_hop: next_hop,
            },
        );
        self.touched.push(id);
    }

    /// Forgets a member; its filed deadline and expiry go stale, and it
    /// stays in the touched list until the next reindex skips it. O(log n).
    pub(crate) fn remove(&mut self, id: &NodeId) -> Option<Peer> {
        let slot = self.slots.remove(id)?;
        self.work += 1;
        self.roster.remove(id);
        self.neighbours -= usize::from(slot.filed_neighbour);
        self.verified -= usize::from(slot.filed_verified);
        if slot.filed_session {
            self.with_session.remove(id);
            self.work += 1;
        }
        self.routes.file(slot.filed_next_hop, None);
        Some(*slot.peer)
    }

    /// How many members `hop` is the next hop of, and how many members
    /// have a next hop at all.
    pub(crate) fn routes_through(&mut self, hop: &NodeId) -> (usize, usize) {
        self.reindex();
        let n = self.routes.by_hop.get(hop).copied().unwrap_or(0);
        (n as usize, self.routes.routed)
    }

    /// Steps taken so far by the table: binary-search probes, roster
    /// entries shifted or dropped, heap entries looked at, map changes.
    /// Tests read it to bound the cost of each change.
    #[cfg(test)]
    pub(crate) fn work(&self) -> u64 {
        self.work + self.roster.work()
    }

    /// Counts `steps` of work done on the table's members by the node.
    pub(crate) fn count_work(&mut self, steps: u64) {
        self.work += steps;
    }

    /// The members whose news went stale by `now` (none heard of them for
    /// [`PEER_EXPIRY`]), in node ID order. Each is looked at again
    /// [`EXPIRY_RECHECK`] later if the caller keeps it; entries that
    /// surface with news renewed are filed again for when it goes stale.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<NodeId> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, id))) = self.expiries.peek() {
            if at > now {
                break;
            }
            self.expiries.pop();
            self.work += 1;
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            if slot.expiry != at {
                continue;
            }
            let stale_at = slot.peer.freshness() + PEER_EXPIRY;
            let again = if stale_at > now {
                stale_at
            } else {
                out.push(id);
                now + EXPIRY_RECHECK
            };
            slot.expiry = again;
            self.expiries.push(Reverse((again, id)));
            self.work += 1;
        }
        if self.expiries.len() > 2 * self.slots.len() + 64 {
            // Stale entries of members forgotten otherwise (evicted).
            self.work += self.expiries.len() as u64;
            self.expiries = self
                .slots
                .iter()
                .map(|(id, s)| Reverse((s.expiry, *id)))
                .collect();
        }
        out.sort_unstable();
        out
    }

    /// How many members are neighbours.
    pub(crate) fn neighbour_count(&mut self) -> usize {
        self.reindex();
        self.neighbours
    }

    /// How many members are verified (a handshake with them completed).
    pub(crate) fn verified_count(&mut self) -> usize {
        self.reindex();
        self.verified
    }

    /// The node IDs and keys of the members that had a current session at
    /// the last reindex, in node ID order (without reindexing: some may have
    /// lost it since, and the newest may be missing).
    pub(crate) fn session_keys_as_filed(&self) -> impl Iterator<Item = (NodeId, u128)> + '_ {
        self.with_session.iter().map(|(id, key)| (*id, *key))
    }

    /// The members with a current session, in node ID order.
    pub(crate) fn with_session(&mut self) -> impl Iterator<Item = &Peer> + '_ {
        self.reindex();
        let slots = &self.slots;
        self.with_session
            .keys()
            .filter_map(move |id| slots.get(id).map(|s| &*s.peer))
    }

    /// The roster of all members, up to date.
    pub(crate) fn roster(&mut self) -> &Roster {
        self.reindex();
        &self.roster
    }

    /// Files the deadlines of the members changed since the last call.
    pub(crate) fn reindex(&mut self) {
        for id in self.touched.drain(..) {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            slot.touched = false;
            let summary = Summary::of(&slot.peer);
            self.neighbours = self.neighbours + usize::from(summary.neighbour)
                - usize::from(slot.filed_neighbour);
            slot.filed_neighbour = summary.neighbour;
            self.verified =
                self.verified + usize::from(slot.peer.verified) - usize::from(slot.filed_verified);
            slot.filed_verified = slot.peer.verified;
            if let Some(at) = self.roster.update(summary, slot.roster_hint) {
                slot.roster_hint = at;
            }
            let session = slot.peer.current.is_some();
            if session != slot.filed_session {
                slot.filed_session = session;
                if session {
                    self.with_session.insert(id, summary.key);
                } else {
                    self.with_session.remove(&id);
                }
            }
            let (old, new) = (slot.filed_next_hop, slot.peer.route.next_hop);
            slot.filed_next_hop = new;
            self.routes.file(old, new);
            let next = slot.peer.timers.next(slot.peer.neighbour);
            if next != slot.filed {
                if let Some(at) = next {
                    self.deadlines.push(Reverse((at, id)));
                }
                slot.filed = next;
            }
        }
        if self.deadlines.len() > 2 * self.slots.len() + 64 {
            self.deadlines = self
                .slots
                .iter()
                .filter_map(|(id, s)| s.filed.map(|at| Reverse((at, *id))))
                .collect();
        }
    }

    /// The members with a deadline at or before `now`, in node ID order.
    /// Their entries leave the index; the caller is expected to run their
    /// timers, after which [`PeerTable::reindex`] files them again.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<NodeId> {
        self.reindex();
        let mut due = Vec::new();
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            if slot.filed != Some(at) {
                continue;
            }
            slot.filed = None;
            if !slot.touched {
                slot.touched = true;
                self.touched.push(id);
            }
            due.push(id);
        }
        due.sort_unstable();
        due
    }

    /// The earliest deadline of any member.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.reindex();
        while let Some(&Reverse((at, id))) = self.deadlines.peek() {
            if self.slots.get(&id).is_some_and(|s| s.filed == Some(at)) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }
}

impl Index<&NodeId> for PeerTable {
    type Output = Peer;

    /// The member with this ID.
    ///
    /// # Panics
    /// Panics if it is not known.
    fn index(&self, id: &NodeId) -> &Peer {
        &self.slots[id].peer
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::net::Ipv6Addr;
    use std::time::Duration;

    use super::*;
    use crate::identity::NodeKey;
    use crate::node::test_nodes::session;

    fn id(n: u8) -> NodeId {
        NodeKey::from_seed([n; 32]).id()
    }

    fn table(now: Instant, ids: &[NodeId]) -> PeerTable {
        let mut t = PeerTable::default();
        for &i in ids {
            t.insert(i, Peer::new(i, Ipv6Addr::LOCALHOST, None, now));
        }
        t
    }

    /// What a scan of every member would find.
    fn scan_due(t: &PeerTable, now: Instant) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = t
            .values()
            .filter(|p| p.timers.next(p.neighbour).is_some_and(|at| at <= now))
            .map(|p| p.id)
            .collect();
        v.sort_unstable();
        v
    }

    fn scan_next(t: &PeerTable) -> Option<Instant> {
        t.values().filter_map(|p| p.timers.next(p.neighbour)).min()
    }

    #[test]
    fn a_timer_armed_through_get_mut_is_found() {
        let now = Instant::now();
        let ids = [id(1), id(2), id(3)];
        let mut t = table(now, &ids);
        assert_eq!(t.next_deadline(), None);
        t.get_mut(&ids[1]).unwrap().timers.gossip = Some(now + Duration::from_secs(3));
        t.get_mut(&ids[2]).unwrap().timers.connect = Some(now + Duration::from_secs(1));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert!(t.take_due(now).is_empty());
        assert_eq!(t.take_due(now + Duration::from_secs(2)), vec![ids[2]]);
        // Still armed and not run: filed again.
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
    }

    #[test]
    fn moved_disarmed_and_forgotten_deadlines_go_stale() {
        let now = Instant::now();
        let ids = [id(1), id(2)];
        let mut t = table(now, &ids);
        let s = Duration::from_secs;
        t.get_mut(&ids[0]).unwrap().timers.retransmit = Some(now + s(1));
        t.get_mut(&ids[1]).unwrap().timers.keepalive = Some(now + s(2));
        assert_eq!(t.next_deadline(), Some(now + s(1)));
        t.get_mut(&ids[0]).unwrap().timers.retransmit = Some(now + s(5));
        assert_eq!(t.next_deadline(), Some(now + s(2)));
        t.get_mut(&ids[1]).unwrap().timers.keepalive = None;
        assert_eq!(t.next_deadline(), Some(now + s(5)));
        t.remove(&ids[0]);
        assert_eq!(t.next_deadline(), None);
        assert!(t.take_due(now + s(10)).is_empty());
    }

    #[test]
    fn index_roster_and_sets_agree_with_a_scan_through_random_changes() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{RngCore, SeedableRng};
        let now = Instant::now();
        let ids: Vec<NodeId> = (1..=12).map(id).collect();
        let mut t = table(now, &ids);
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut clock = now;
        for step in 0..5000 {
            let who = ids[rng.next_u32() as usize % ids.len()];
            match rng.next_u32() % 13 {
                0 => {
                    t.remove(&who);
                }
                1 => {
                    if !t.contains_key(&who) {
                        t.insert(who, Peer::new(who, Ipv6Addr::LOCALHOST, None, clock));
                    }
                }
                2 => clock += Duration::from_millis(u64::from(rng.next_u32() % 400)),
                3 => {
                    let expected = scan_due(&t, clock);
                    assert_eq!(t.take_due(clock), expected, "step {step}");
                    for pid in expected {
                        // Run them: disarm or re-arm later.
                        let p = t.get_mut(&pid).unwrap();
                        p.timers = Default::default();
                        if rng.next_u32() % 2 == 0 {
                            p.timers.gossip = Some(clock + Duration::from_secs(1));
                        }
                    }
                }
                4 => {
                    if let Some(p) = t.get_mut(&who) {
                        p.neighbour = !p.neighbour;
                        p.last_received = Some(clock);
                    }
                    let scanned = t.values().filter(|p| p.neighbour).count();
                    assert_eq!(t.neighbour_count(), scanned, "step {step}");
                }
                6 => {
                    if let Some(p) = t.get_mut(&who) {
                        p.current = match p.current {
                            Some(_) => None,
                            None => Some(session(clock)),
                        };
                    }
                    let mut scanned: Vec<NodeId> = t
                        .values()
                        .filter(|p| p.current.is_some())
                        .map(|p| p.id)
                        .collect();
                    scanned.sort();
                    let indexed: Vec<NodeId> = t.with_session().map(|p| p.id).collect();
                    assert_eq!(indexed, scanned, "step {step}");
                }
                7 => {
                    // Ten minutes pass now and then, so that news goes stale.
                    if rng.next_u32().is_multiple_of(8) {
                        clock += PEER_EXPIRY;
                    }
                    let mut scanned: Vec<NodeId> = t
                        .values()
                        .filter(|p| p.freshness() + PEER_EXPIRY <= clock)
                        .map(|p| p.id)
                        .collect();
                    scanned.sort_unstable();
                    let expired = t.take_expired(clock);
                    assert_eq!(expired, scanned, "step {step}");
                    // Forgotten, as the node does with members it expires.
                    for id in expired {
                        t.remove(&id);
                    }
                }
                5 => {
                    let mut scanned: Vec<Summary> = t.values().map(Summary::of).collect();
                    scanned.sort_by_key(|a| a.id);
                    let roster = t.roster();
                    let listed: Vec<Summary> = (0..roster.len())
                        .filter(|&i| roster.is_member(i))
                        .map(|i| roster.get(i))
                        .collect();
                    assert_eq!(listed, scanned, "step {step}");
                    let neighbours = scanned.iter().filter(|s| s.neighbour).count();
                    assert_eq!(t.neighbour_count(), neighbours, "step {step}");
                }
                _ => {
                    if let Some(p) = t.get_mut(&who) {
                        let at = (rng.next_u32() % 3 != 0).then(|| {
                            clock + Duration::from_millis(u64::from(rng.next_u32() % 3000))
                        });
                        match rng.next_u32() % 3 {
                            0 => p.timers.retransmit = at,
                            1 => p.timers.keepalive = at,
                            _ => p.timers.session_check = at,
                        }
                    }
                }
            }
            assert_eq!(t.next_deadline(), scan_next(&t), "step {step}");
            assert!(t.deadlines.len() <= 2 * t.len() + 64 + ids.len());
        }
    }
}
