//! The hole-punching machine alone: its inputs, its outputs and its
//! deadlines, with made-up members and no node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::extra_sockets::CHECK_SOCKETS;
use super::limits::JOINS_PER_SENDER;
use super::{MemberFacts, Members, Output, OwnView, Traversal, PUNCH_TIME};
use crate::identity::{NodeId, NodeKey};
use crate::node::{NatBehaviour, NatMapping};
use crate::wire::signal::{candidate_kind, Candidate, Candidates, NatHint};

/// Members as a test sets them up.
#[derive(Default)]
pub(super) struct Fake {
    pub(super) facts: BTreeMap<NodeId, MemberFacts>,
    in_use: BTreeSet<u16>,
}

impl Members for Fake {
    fn facts(&self, _now: Instant, member: &NodeId) -> Option<MemberFacts> {
        self.facts.get(member).copied()
    }

    fn sockets_in_use(&self) -> BTreeSet<u16> {
        self.in_use.clone()
    }

    fn direct_from_main(&self, _now: Instant) -> Vec<(NodeId, SocketAddr)> {
        self.facts
            .iter()
            .filter(|(_, f)| f.direct)
            .filter_map(|(id, f)| Some((*id, f.endpoint?)))
            .collect()
    }
}

/// One member, `b`, known at `there` (from gossip: no session).
pub(super) fn member_at(b: NodeId, there: SocketAddr) -> Fake {
    let mut members = Fake::default();
    members.facts.insert(
        b,
        MemberFacts {
            endpoint: Some(there),
            ..MemberFacts::default()
        },
    );
    members
}

pub(super) fn id(i: u8) -> NodeId {
    NodeKey::from_seed([i; 32]).id()
}

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub(super) fn own() -> OwnView {
    OwnView {
        id: id(200),
        mapped: None,
        reflexive: vec![addr("192.0.2.1:9740")],
        stun: NatMapping {
            behaviour: NatBehaviour::Unknown,
            allocation: tessel_nat::netcheck::PortAllocation::Unknown,
        },
    }
}

pub(super) fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([5; 32])
}

pub(super) fn drain(t: &mut Traversal) -> Vec<Output> {
    std::iter::from_fn(|| t.poll_output()).collect()
}

pub(super) fn probes(out: &[Output]) -> Vec<(u16, SocketAddr)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Probe { socket, to, .. } => Some((*socket, *to)),
            _ => None,
        })
        .collect()
}

fn request(punch_id: u64, list: &[&str]) -> Candidates {
    Candidates {
        request: true,
        fresh: false,
        punch_id,
        nat: NatHint::default(),
        extra_sockets: 0,
        list: list
            .iter()
            .map(|a| Candidate {
                kind: candidate_kind::REFLEXIVE,
                addr: addr(a),
            })
            .collect(),
    }
}

/// The tx of the first probe toward `to`.
fn tx_to(out: &[Output], to: SocketAddr) -> u64 {
    out.iter()
        .find_map(|o| match o {
            Output::Probe { to: t, tx, .. } if *t == to => Some(*tx),
            _ => None,
        })
        .expect("a probe there")
}

#[test]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
fn a_punch_probes_the_known_endpoint_and_gives_up_after_its_time() {
    let t0 = Instant::now();
    let b = id(2);
    let there = addr("203.0.113.9:40000");
    let members = member_at(b, there);
    let mut t = Traversal::default();
    assert!(t.may_punch(t0, &members, b));
    let (pid, ask) = t.request_punch(&own(), &mut rng());
    assert!(ask.request);
    assert_eq!(ask.punch_id, pid);
    assert!(ask.list.iter().any(|c| c.addr == addr("192.0.2.1:9740")));
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    assert_eq!(probes(&drain(&mut t)), vec![(0, there)]);
    assert!(!t.may_punch(t0, &members, b), "one punch at a time");
    // The scheduled rounds, each at its deadline, until the punch ends.
    let mut now = t0;
    let mut ended = None;
    while let Some(at) = t.next_deadline().filter(|_| ended.is_none()) {
        assert!(at > now, "a deadline that does not move on");
        now = at;
        t.timers(now, &members, &own(), &mut rng());
        for o in drain(&mut t) {
            if let Output::PunchEnded { member, found } = o {
                ended = Some((member, found, now));
            }
        }
    }
    assert_eq!(ended, Some((b, false, t0 + PUNCH_TIME)));
    assert_eq!(t.stats.punches_failed, 1);
    assert!(t.punches.is_empty());
}

#[test]
#[allow(clippy::disallowed_methods)]
fn a_request_is_answered_probed_and_an_ack_gives_the_path() {
    let t0 = Instant::now();
    let a = id(1);
    let members = Fake::default();
    let mut t = Traversal::default();
    let mut c = request(77, &["198.51.100.4:5000", "127.0.0.1:9740"]);
    let joining = t
        .admit_candidates(t0, a, id(3), &mut c, |s| !s.ip().is_loopback())
        .expect("admitted");
    assert!(joining);
    assert_eq!(t.stats.candidates_refused, 1);
    t.on_candidates(t0, &members, &own(), &mut rng(), a, joining, c);
    let out = drain(&mut t);
    // The answer first, then the probe of the candidate.
    assert!(matches!(
        &out[0],
        Output::Signal { member, candidates, .. } if *member == a && !candidates.request && candidates.punch_id == 77
    ));
    let to = addr("198.51.100.4:5000");
    assert_eq!(probes(&out), vec![(0, to)]);
    let tx = tx_to(&out, to);
    // Its ack, 40 ms later, from there: a direct path, and where it saw us.
    let later = t0 + Duration::from_millis(40);
    let seen = addr("192.0.2.1:61000");
    t.on_probe_ack(later, &members, a, 0, to, tx, seen);
    assert_eq!(
        drain(&mut t),
        vec![Output::PathFound {
            member: a,
            socket: 0,
            addr: to,
            rtt: Duration::from_millis(40),
        }]
    );
    assert_eq!(t.stats.direct_paths_found, 1);
    assert_eq!(t.observed[0].addr, seen);
    // An ack of a round that was never sent does nothing.
    t.on_probe_ack(later, &members, a, 0, to, tx.wrapping_add(9), seen);
    assert!(drain(&mut t).is_empty());
}

#[test]
#[allow(clippy::disallowed_methods)]
fn joins_are_refused_beyond_the_limit_of_one_member() {
    let t0 = Instant::now();
    let (a, via) = (id(1), id(3));
    let mut t = Traversal::default();
    for i in 0..JOINS_PER_SENDER {
        let mut c = request(i as u64, &["198.51.100.4:5000"]);
        assert_eq!(t.admit_candidates(t0, a, via, &mut c, |_| true), Some(true));
    }
    let mut c = request(99, &["198.51.100.4:5000"]);
    assert_eq!(t.admit_candidates(t0, a, via, &mut c, |_| true), None);
    assert_eq!(t.stats.joins_refused, 1);
}

#[test]
#[allow(clippy::disallowed_methods)]
fn a_probe_from_the_other_side_is_a_path_and_a_new_candidate() {
    let t0 = Instant::now();
    let a = id(1);
    let members = Fake::default();
    let mut t = Traversal::default();
    let mut c = request(500, &["198.51.100.4:5000"]);
    let joining = t.admit_candidates(t0, a, a, &mut c, |_| true).unwrap();
    t.on_candidates(t0, &members, &own(), &mut rng(), a, joining, c);
    drain(&mut t);
    // Its probe (its punch's tx) arrives from a port it did not name.
    let from = addr("198.51.100.4:5003");
    t.on_probe(t0, &members, a, 0, from, 500);
    let out = drain(&mut t);
    assert_eq!(probes(&out), vec![(0, from)], "the new endpoint, probed");
    assert!(matches!(
        out.last(),
        Some(Output::PathFound { member, addr, .. }) if *member == a && *addr == from
    ));
    // A probe that names no round of the punch is no path.
    t.on_probe(t0, &members, a, 0, from, 12_345);
    assert!(drain(&mut t).is_empty());
}

#[test]
#[allow(clippy::disallowed_methods)]
fn the_self_check_opens_two_sockets_probes_and_reads_the_nat() {
    let t0 = Instant::now();
    let m = id(4);
    let there = addr("203.0.113.20:9740");
    let mut members = Fake::default();
    members.facts.insert(
        m,
        MemberFacts {
            direct: true,
            endpoint: Some(there),
            ..MemberFacts::default()
        },
    );
    let mut t = Traversal {
        local_addrs: vec![addr("198.18.0.2:9740")],
        ..Traversal::default()
    };
    // The first run schedules the check; it starts at that deadline.
    t.timers(t0, &members, &own(), &mut rng());
    assert!(drain(&mut t).is_empty());
    let mut now = t.next_deadline().expect("scheduled");
    let mut out = Vec::new();
    for _ in 0..3 {
        t.timers(now, &members, &own(), &mut rng());
        out.extend(drain(&mut t));
        now = t.next_deadline().expect("running");
    }
    assert_eq!(out[0], Output::OpenSockets(CHECK_SOCKETS.to_vec()));
    assert_eq!(
        probes(&out),
        vec![
            (0, there),
            (CHECK_SOCKETS[0], there),
            (CHECK_SOCKETS[1], there)
        ]
    );
    let tx = tx_to(&out, there);
    // Ports 20,000, then 20,001 and 20,002: a sequence, step 1.
    for (socket, port) in [(0, 20_000), (1, 20_001), (2, 20_002)] {
        let seen = SocketAddr::new("192.0.2.1".parse().unwrap(), port);
        t.on_probe_ack(now, &members, m, socket, there, tx, seen);
    }
    assert_eq!(
        drain(&mut t),
        vec![Output::CloseSockets(CHECK_SOCKETS.to_vec())]
    );
    let hint = t.own_nat_hint(&own());
    assert_eq!((hint.step, hint.last_port), (1, 20_002));
}

#[test]
fn a_missed_punch_is_retried_at_once_only_while_traffic_waits() {
    use super::punch::punch_wait;
    use super::{FAST_RETRIES, PUNCH_COOLDOWN};
    for failures in 1..=FAST_RETRIES {
        assert_eq!(punch_wait(failures, true), Duration::ZERO);
        assert_eq!(
            punch_wait(failures, false),
            PUNCH_COOLDOWN * (1 << failures)
        );
    }
    // After a success (or none failed yet), the usual wait.
    assert_eq!(punch_wait(0, true), PUNCH_COOLDOWN);
    // Failing on and on backs off, active or not.
    assert_eq!(punch_wait(FAST_RETRIES + 1, true), PUNCH_COOLDOWN);
    assert_eq!(punch_wait(FAST_RETRIES + 2, true), PUNCH_COOLDOWN * 2);
    assert_eq!(punch_wait(u8::MAX, true), PUNCH_COOLDOWN * 32);
    assert_eq!(punch_wait(u8::MAX, false), PUNCH_COOLDOWN * 32);
}

/// Signals of candidates among `out`: (request, punch ID).
pub(super) fn signals(out: &[Output]) -> Vec<(bool, u64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Signal { candidates, .. } => Some((candidates.request, candidates.punch_id)),
            _ => None,
        })
        .collect()
}

/// Runs the machine's deadlines up to `until`, collecting its outputs.
pub(super) fn run_until(
    t: &mut Traversal,
    members: &Fake,
    until: Instant,
) -> Vec<(Instant, Output)> {
    let mut out = Vec::new();
    while let Some(at) = t.next_deadline().filter(|&at| at <= until) {
        t.timers(at, members, &own(), &mut rng());
        out.extend(drain(t).into_iter().map(|o| (at, o)));
    }
    out
}

#[test]
#[allow(clippy::disallowed_methods)]
fn an_unanswered_request_is_signalled_again_until_an_answer_comes() {
    let t0 = Instant::now();
    let b = id(2);
    let members = member_at(b, addr("203.0.113.9:40000"));
    let mut t = Traversal::default();
    let (pid, ask) = t.request_punch(&own(), &mut rng());
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    drain(&mut t);
    let out = run_until(&mut t, &members, t0 + Duration::from_secs(5));
    let resent: Vec<(Instant, (bool, u64))> = out
        .iter()
        .filter_map(|(at, o)| Some((*at, *signals(std::slice::from_ref(o)).first()?)))
        .collect();
    assert_eq!(
        resent,
        vec![
            (t0 + Duration::from_secs(1), (true, pid)),
            (t0 + Duration::from_secs(3), (true, pid)),
        ]
    );
    assert_eq!(t.stats.requests_resent, 2);

    // Answered within the first second: nothing is sent again.
    let mut t = Traversal::default();
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    let mut answer = request(pid, &["203.0.113.9:40001"]);
    answer.request = false;
    let at = t0 + Duration::from_millis(300);
    let joining = t.admit_candidates(at, b, id(3), &mut answer, |_| true);
    assert_eq!(joining, Some(false));
    t.on_candidates(at, &members, &own(), &mut rng(), b, false, answer);
    drain(&mut t);
    let out = run_until(&mut t, &members, t0 + Duration::from_secs(5));
    let outs: Vec<Output> = out.into_iter().map(|(_, o)| o).collect();
    assert!(signals(&outs).is_empty(), "{outs:?}");
    assert_eq!(t.stats.requests_resent, 0);
}

#[test]
#[allow(clippy::disallowed_methods)]
fn a_fresh_request_replaces_a_stale_punch_but_not_a_crossing_one() {
    let t0 = Instant::now();
    let a = id(1);
    let members = Fake::default();
    let mut t = Traversal::default();
    let mut first = request(100, &["198.51.100.4:5000"]);
    let joining = t.admit_candidates(t0, a, a, &mut first, |_| true).unwrap();
    t.on_candidates(t0, &members, &own(), &mut rng(), a, joining, first);
    drain(&mut t);
    // A crossing request (another ID, a moment later) keeps the punch.
    let soon = t0 + Duration::from_millis(200);
    let mut crossing = request(200, &["198.51.100.4:5000"]);
    assert_eq!(
        t.admit_candidates(soon, a, a, &mut crossing, |_| true),
        Some(false)
    );
    t.on_candidates(soon, &members, &own(), &mut rng(), a, false, crossing);
    drain(&mut t);
    assert!(t.punches[&a].owns_tx(100));
    // Seconds later, with nothing found, a new ID is a fresh start: joined
    // (and counted) anew, answered and probed at once.
    let later = t0 + Duration::from_secs(3);
    let mut fresh = request(300, &["198.51.100.4:5000"]);
    let joining = t.admit_candidates(later, a, a, &mut fresh, |_| true);
    assert_eq!(joining, Some(true));
    t.on_candidates(later, &members, &own(), &mut rng(), a, true, fresh);
    let out = drain(&mut t);
    assert_eq!(signals(&out), vec![(false, 300)]);
    assert_eq!(probes(&out), vec![(0, addr("198.51.100.4:5000"))]);
    assert!(t.punches[&a].owns_tx(300));
    assert!(!t.punches[&a].owns_tx(100));
    assert_eq!(t.stats.punches_joined, 3);
}

/// The probes among `out`: (destination, TTL).
pub(super) fn probe_ttls(out: &[Output]) -> Vec<(SocketAddr, Option<u8>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Probe { to, ttl, .. } => Some((*to, *ttl)),
            _ => None,
        })
        .collect()
}

#[test]
#[allow(clippy::disallowed_methods)]
fn punches_open_with_low_ttl_probes_and_probe_in_earnest_a_round_later() {
    use super::OPENER_TTL;
    let t0 = Instant::now();
    let b = id(2);
    let there = addr("203.0.113.9:40000");
    let mut members = member_at(b, there);
    // The asking side: openers at once, probes in earnest at 250 ms.
    let mut t = Traversal::default();
    let (pid, ask) = t.request_punch(&own(), &mut rng());
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    assert_eq!(probe_ttls(&drain(&mut t)), vec![(there, Some(OPENER_TTL))]);
    assert_eq!(t.next_deadline(), Some(t0 + Duration::from_millis(250)));
    let round = t0 + Duration::from_millis(250);
    t.timers(round, &members, &own(), &mut rng());
    assert_eq!(probe_ttls(&drain(&mut t)), vec![(there, None)]);
    // Candidates new to the punch get openers at once too.
    let mut answer = request(pid, &["198.51.100.7:4000"]);
    answer.request = false;
    let at = round + Duration::from_millis(10);
    t.admit_candidates(at, b, id(3), &mut answer, |_| true);
    t.on_candidates(at, &members, &own(), &mut rng(), b, false, answer);
    assert_eq!(
        probe_ttls(&drain(&mut t)),
        vec![
            (there, Some(OPENER_TTL)),
            (addr("198.51.100.7:4000"), Some(OPENER_TTL))
        ]
    );

    // The joining side: openers at once, after its answer; in earnest at
    // its next round.
    let a = id(1);
    members.facts.insert(a, MemberFacts::default());
    let mut t = Traversal::default();
    let mut c = request(500, &["198.51.100.4:5000"]);
    let joining = t.admit_candidates(t0, a, a, &mut c, |_| true).unwrap();
    t.on_candidates(t0, &members, &own(), &mut rng(), a, joining, c);
    let out = drain(&mut t);
    assert!(matches!(out[0], Output::Signal { .. }));
    assert_eq!(
        probe_ttls(&out),
        vec![(addr("198.51.100.4:5000"), Some(OPENER_TTL))]
    );
    t.timers(
        t0 + Duration::from_millis(250),
        &members,
        &own(),
        &mut rng(),
    );
    assert_eq!(
        probe_ttls(&drain(&mut t)),
        vec![(addr("198.51.100.4:5000"), None)]
    );
}

#[test]
#[allow(clippy::disallowed_methods)]
fn candidates_that_change_during_a_punch_are_told_again_by_either_side() {
    let t0 = Instant::now();
    let a = id(1);
    let mut members = Fake::default();
    members.facts.insert(a, MemberFacts::default());
    // We joined a's punch and answered with our candidates.
    let mut t = Traversal::default();
    let mut c = request(500, &["198.51.100.4:5000"]);
    let joining = t.admit_candidates(t0, a, a, &mut c, |_| true).unwrap();
    t.on_candidates(t0, &members, &own(), &mut rng(), a, joining, c);
    drain(&mut t);
    // Nothing changed by the first look: nothing is sent again.
    let one = t0 + Duration::from_secs(1);
    t.timers(one, &members, &own(), &mut rng());
    assert!(signals(&drain(&mut t)).is_empty());
    // A STUN answer shows a new address (our NAT renumbered): the next
    // look tells it, as an answer of the same punch.
    let mut moved = own();
    moved.reflexive = vec![addr("192.0.2.99:9740")];
    let three = t0 + Duration::from_secs(3);
    t.timers(three, &members, &moved, &mut rng());
    let out = drain(&mut t);
    assert_eq!(signals(&out), vec![(false, 500)]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Signal { candidates, .. } if candidates.list.iter().any(|c| c.addr == addr("192.0.2.99:9740"))
    )));
    assert_eq!(t.stats.requests_resent, 1);
}
