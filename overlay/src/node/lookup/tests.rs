//! Unit tests of the lookup machine alone, against a made-up view of a
//! node ([`FakeNet`]): no node, no sessions, no clock.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use super::machine::{
    LookupEvent, LookupNet, Lookups, LOOKUP_TIMEOUT, LOOKUP_TRIES, MAX_WAITING, RECENT,
};
use crate::identity::{NetworkKey, NetworkPrefix, NodeId, NodeKey};
use crate::node::DropReason;
use crate::wire::lookup::{Lookup, Op, HOP_LIMIT};

/// A node's surroundings as the machine sees them, with what it sent,
/// learned and dropped.
struct FakeNet {
    me: NodeId,
    prefix: NetworkPrefix,
    /// Members in the table.
    members: Vec<NodeId>,
    /// Direct sessions that answer.
    neighbours: Vec<NodeId>,
    /// Next hop toward members that are not neighbours.
    routes: HashMap<NodeId, NodeId>,
    /// Neighbours a message cannot leave for.
    refuse: Vec<NodeId>,
    link_cost: u32,
    next_id: u64,
    sent: Vec<(NodeId, Lookup)>,
    learned: Vec<(NodeId, NodeId, u16)>,
    drops: Vec<DropReason>,
}

fn id(n: u8) -> NodeId {
    NodeKey::from_seed([n; 32]).id()
}

impl FakeNet {
    fn new(neighbours: &[NodeId]) -> Self {
        Self {
            me: id(1),
            prefix: NetworkPrefix::of(&NetworkKey::from_secret([7; 32]).id()),
            members: neighbours.to_vec(),
            neighbours: neighbours.to_vec(),
            routes: HashMap::new(),
            refuse: Vec::new(),
            link_cost: 10,
            next_id: 100,
            sent: Vec::new(),
            learned: Vec::new(),
            drops: Vec::new(),
        }
    }

    fn distance(&self, id: &NodeId, target: Ipv6Addr) -> u128 {
        u128::from(self.prefix.node_addr(id)) ^ u128::from(target)
    }

    /// The neighbours from nearest `target` to farthest.
    fn by_distance(&self, target: Ipv6Addr) -> Vec<NodeId> {
        let mut v = self.neighbours.clone();
        v.sort_by_key(|n| self.distance(n, target));
        v
    }

    /// Takes what was sent so far.
    fn take_sent(&mut self) -> Vec<(NodeId, Lookup)> {
        std::mem::take(&mut self.sent)
    }
}

impl LookupNet for FakeNet {
    fn local_id(&self) -> NodeId {
        self.me
    }

    fn local_addr(&self) -> Ipv6Addr {
        self.prefix.node_addr(&self.me)
    }

    fn addr_of(&self, id: &NodeId) -> Ipv6Addr {
        self.prefix.node_addr(id)
    }

    fn is_member(&self, id: &NodeId) -> bool {
        self.members.contains(id)
    }

    fn owner_of(&self, addr: Ipv6Addr) -> Option<NodeId> {
        self.members
            .iter()
            .copied()
            .find(|m| self.prefix.node_addr(m) == addr)
    }

    fn usable_hop(&self, id: &NodeId) -> bool {
        self.neighbours.contains(id)
    }

    fn closest_hop(&self, target: Ipv6Addr, avoid: &[NodeId]) -> Option<NodeId> {
        self.by_distance(target)
            .into_iter()
            .find(|n| !avoid.contains(n))
    }

    fn greedy_hop(&self, target: Ipv6Addr, came_from: NodeId) -> Option<NodeId> {
        let ours = self.distance(&self.me, target);
        self.by_distance(target)
            .into_iter()
            .find(|n| *n != came_from && self.distance(n, target) < ours)
    }

    fn next_hop(&self, to: NodeId, came_from: Option<NodeId>) -> Option<NodeId> {
        let hop = if self.neighbours.contains(&to) {
            to
        } else {
            *self.routes.get(&to)?
        };
        (Some(hop) != came_from).then_some(hop)
    }

    fn link_cost(&self, id: &NodeId) -> Option<u32> {
        self.members.contains(id).then_some(self.link_cost)
    }

    fn random_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn send(&mut self, hop: NodeId, msg: &[u8]) -> bool {
        if self.refuse.contains(&hop) {
            return false;
        }
        self.sent.push((
            hop,
            Lookup::parse(msg).expect("the machine sends valid messages"),
        ));
        true
    }

    fn learn_route(&mut self, from: NodeId, id: NodeId, metric: u16) {
        self.learned.push((from, id, metric));
        if !self.members.contains(&id) {
            self.members.push(id);
        }
        self.routes.insert(id, from);
    }

    fn count_drop(&mut self, reason: DropReason) {
        self.drops.push(reason);
    }
}

/// An answer to request `req` from the member that owns (or not) its
/// target.
fn answer(req: &Lookup, op: Op, metric: u16) -> Vec<u8> {
    let msg = Lookup {
        hop_limit: HOP_LIMIT,
        op,
        metric,
        ..*req
    };
    crate::wire::to_vec(|o| msg.emit(o))
}

#[test]
fn a_lookup_asks_the_neighbour_nearest_the_address() {
    let (a, b, c) = (id(2), id(3), id(4));
    let mut net = FakeNet::new(&[a, b, c]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let target = net.addr_of(&id(9));
    assert!(m.lookup_address(&mut net, now, target, Some(b"pkt")));
    let sent = net.take_sent();
    assert_eq!(sent.len(), 1);
    let (hop, req) = sent[0];
    assert_eq!(hop, net.by_distance(target)[0]);
    assert_eq!(req.op, Op::Request);
    assert_eq!((req.target, req.origin), (target, *net.me.as_bytes()));
    assert_eq!(m.poll_timeout(), Some(now + LOOKUP_TIMEOUT));
    assert_eq!(m.stats().started, 1);
    // A second packet for the same address waits for the same lookup.
    assert!(m.lookup_address(&mut net, now, target, Some(b"pkt2")));
    assert!(net.take_sent().is_empty());
    assert_eq!(m.stats().started, 1);
}

#[test]
fn a_found_answer_ends_the_lookup_with_its_waiting_packets() {
    let (a, b) = (id(2), id(3));
    let mut net = FakeNet::new(&[a, b]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let owner = id(9);
    let target = net.addr_of(&owner);
    m.lookup_address(&mut net, now, target, Some(b"one"));
    let (hop, req) = net.take_sent()[0];
    let reply = answer(&req, Op::Found(*owner.as_bytes()), 20);
    m.handle_message(&mut net, now, hop, &reply);
    // The answer is news of a route to the owner through the neighbour.
    assert_eq!(net.learned, vec![(hop, owner, 20)]);
    assert_eq!(
        m.poll_event(),
        Some(LookupEvent::Found {
            target,
            owner,
            hop,
            packets: vec![b"one".to_vec()],
        })
    );
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.stats().found, 1);
    // Found lately: a member lookup for it is not sent again.
    m.lookup_member(&mut net, now + RECENT / 2, target);
    assert!(net.take_sent().is_empty());
}

#[test]
fn an_answer_naming_a_member_that_does_not_own_the_address_is_dropped() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let target = net.addr_of(&id(9));
    m.lookup_address(&mut net, now, target, None);
    let (hop, req) = net.take_sent()[0];
    let reply = answer(&req, Op::Found(*id(8).as_bytes()), 0);
    m.handle_message(&mut net, now, hop, &reply);
    assert_eq!(net.drops, vec![DropReason::LookupNoRoute]);
    assert!(net.learned.is_empty());
    assert_eq!(m.poll_event(), None);
    assert!(m.poll_timeout().is_some());
}

#[test]
fn an_answer_to_no_request_of_ours_is_ignored() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let target = net.addr_of(&id(9));
    m.lookup_address(&mut net, now, target, None);
    let (hop, req) = net.take_sent()[0];
    let wrong = Lookup {
        id: req.id + 1,
        ..req
    };
    m.handle_message(&mut net, now, hop, &answer(&wrong, Op::NotFound, 0));
    assert_eq!(m.poll_event(), None);
    assert!(net.take_sent().is_empty());
    assert_eq!(m.stats().not_found, 0);
}

#[test]
fn not_found_tries_another_first_hop_then_gives_up() {
    let (a, b) = (id(2), id(3));
    let mut net = FakeNet::new(&[a, b]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let target = net.addr_of(&id(9));
    m.lookup_address(&mut net, now, target, Some(b"p"));
    let (first, req) = net.take_sent()[0];
    m.handle_message(&mut net, now, first, &answer(&req, Op::NotFound, 0));
    let (second, again) = net.take_sent()[0];
    assert_ne!(second, first);
    assert_eq!(again.id, req.id);
    // The second path ends without the owner too, and no other is left.
    m.handle_message(&mut net, now, second, &answer(&req, Op::NotFound, 0));
    assert!(net.take_sent().is_empty());
    assert_eq!(
        m.poll_event(),
        Some(LookupEvent::NotFound {
            target,
            packets: vec![b"p".to_vec()],
        })
    );
    assert_eq!(m.stats().not_found, 1);
    // Not found lately: no new lookup for a while.
    assert!(!m.lookup_address(&mut net, now + RECENT / 2, target, None));
    assert!(m.lookup_address(&mut net, now + RECENT, target, None));
}

#[test]
fn an_unanswered_lookup_is_resent_and_given_up_after_its_tries() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let mut now = Instant::now();
    let target = net.addr_of(&id(9));
    m.lookup_address(&mut net, now, target, None);
    net.take_sent();
    // Nothing is due before the deadline.
    m.handle_timeout(&mut net, now + LOOKUP_TIMEOUT - Duration::from_millis(1));
    assert!(net.take_sent().is_empty());
    for _ in 1..LOOKUP_TRIES {
        now = m.poll_timeout().expect("pending");
        m.handle_timeout(&mut net, now);
        // No other neighbour: the same one is asked again.
        assert_eq!(net.take_sent().len(), 1);
        assert_eq!(m.poll_event(), None);
    }
    now = m.poll_timeout().expect("pending");
    m.handle_timeout(&mut net, now);
    assert!(net.take_sent().is_empty());
    assert!(matches!(m.poll_event(), Some(LookupEvent::NotFound { .. })));
    assert_eq!(m.stats().timed_out, 1);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_request_that_cannot_leave_tries_the_next_neighbour() {
    let (a, b) = (id(2), id(3));
    let mut net = FakeNet::new(&[a, b]);
    let target = net.addr_of(&id(9));
    let order = net.by_distance(target);
    net.refuse.push(order[0]);
    let mut m = Lookups::default();
    let now = Instant::now();
    // The first request does not leave: no lookup runs.
    assert!(!m.lookup_address(&mut net, now, target, None));
    net.refuse.clear();
    assert!(m.lookup_address(&mut net, now, target, None));
    assert_eq!(net.take_sent()[0].0, order[0]);
}

#[test]
fn waiting_packets_are_bounded() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let target = net.addr_of(&id(9));
    for i in 0..=MAX_WAITING as u8 {
        m.lookup_address(&mut net, now, target, Some(&[i]));
    }
    assert_eq!(net.drops, vec![DropReason::QueueFull]);
    let (hop, req) = net.take_sent()[0];
    m.handle_message(&mut net, now, hop, &answer(&req, Op::NotFound, 0));
    let Some(LookupEvent::NotFound { packets, .. }) = m.poll_event() else {
        panic!("the lookup ends");
    };
    // The oldest packet made way for the newest.
    assert_eq!(packets.len(), MAX_WAITING);
    assert_eq!(packets[0], vec![1]);
}

#[test]
fn a_request_for_our_own_address_is_answered_along_the_route_back() {
    let (a, origin) = (id(2), id(5));
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let req = Lookup {
        hop_limit: 5,
        op: Op::Request,
        id: 42,
        target: net.local_addr(),
        origin: *origin.as_bytes(),
        metric: 30,
    };
    m.handle_message(&mut net, now, a, &crate::wire::to_vec(|o| req.emit(o)));
    // The request left a route back to its origin through `a`.
    assert_eq!(net.learned, vec![(a, origin, 30)]);
    let sent = net.take_sent();
    assert_eq!(sent.len(), 1);
    let (hop, ans) = sent[0];
    assert_eq!(hop, a);
    assert_eq!(ans.op, Op::Found(*net.me.as_bytes()));
    assert_eq!((ans.id, ans.metric, ans.hop_limit), (42, 0, HOP_LIMIT));
    assert_eq!(m.stats().answered, 1);
}

#[test]
fn a_request_is_passed_nearer_its_target_with_its_cost_so_far() {
    let (a, b) = (id(2), id(3));
    let mut net = FakeNet::new(&[a, b]);
    let mut m = Lookups::default();
    let now = Instant::now();
    // A target nearer one of the neighbours than this node.
    let target = (10..200)
        .map(|n| net.addr_of(&id(n)))
        .find(|t| net.greedy_hop(*t, a) == Some(b))
        .expect("some address is nearer b");
    let req = Lookup {
        hop_limit: 5,
        op: Op::Request,
        id: 7,
        target,
        origin: *id(5).as_bytes(),
        metric: 30,
    };
    m.handle_message(&mut net, now, a, &crate::wire::to_vec(|o| req.emit(o)));
    let (hop, fwd) = net.take_sent()[0];
    assert_eq!(hop, b);
    assert_eq!((fwd.hop_limit, fwd.metric), (4, 30 + 10));
    assert_eq!(m.stats().forwarded, 1);
    assert_eq!(m.stats().answered, 0);
}

#[test]
fn a_request_nobody_nearer_can_take_is_answered_not_found() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    let req = Lookup {
        hop_limit: 1,
        op: Op::Request,
        id: 7,
        target: net.addr_of(&id(9)),
        origin: *id(5).as_bytes(),
        metric: 0,
    };
    m.handle_message(&mut net, now, a, &crate::wire::to_vec(|o| req.emit(o)));
    let (hop, ans) = net.take_sent()[0];
    assert_eq!((hop, ans.op), (a, Op::NotFound));
}

#[test]
fn messages_from_no_direct_session_and_garbage_are_dropped() {
    let a = id(2);
    let mut net = FakeNet::new(&[a]);
    let mut m = Lookups::default();
    let now = Instant::now();
    m.handle_message(&mut net, now, a, b"\x06garbage");
    let req = Lookup {
        hop_limit: 5,
        op: Op::Request,
        id: 7,
        target: net.addr_of(&id(9)),
        origin: *id(5).as_bytes(),
        metric: 0,
    };
    m.handle_message(&mut net, now, id(3), &crate::wire::to_vec(|o| req.emit(o)));
    assert_eq!(
        net.drops,
        vec![DropReason::BadInner, DropReason::LookupNoRoute]
    );
    assert!(net.sent.is_empty() && net.learned.is_empty());
}
