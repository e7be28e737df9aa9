//! The policy driven by hand, in virtual time.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const R: &str = "198.51.100.1:9740";

fn alone() -> NodeView {
    NodeView::default()
}

fn connected() -> NodeView {
    NodeView {
        connected: true,
        udp_answers: Vec::new(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Ticks once a second from `from` to `to` (inclusive), collecting commands.
fn run(p: &mut Policy, t0: Instant, from: u64, to: u64, view: &NodeView) -> Vec<Command> {
    (from..=to)
        .flat_map(|s| p.tick(t0 + secs(s), view))
        .collect()
}

fn dial_of(cmds: &[Command]) -> Option<u16> {
    cmds.iter().find_map(|c| match c {
        Command::Dial { id, .. } => Some(*id),
        _ => None,
    })
}

#[test]
fn a_node_with_a_session_never_dials() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    assert!(p.tick(t0 + secs(1), &connected()).is_empty());
    assert!(run(&mut p, t0, 2, 600, &connected()).is_empty());
    assert_eq!(p.status(t0).counters.dials, 0);
    assert_eq!(p.status(t0).links[0].state, "unused");
}

#[test]
fn a_lonely_node_dials_its_peers_after_the_fallback_delay() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R), addr(R), addr("192.0.2.9:9740")], t0);
    assert!(run(&mut p, t0, 0, 2, &alone()).is_empty());
    let cmds = p.tick(t0 + FALLBACK_AFTER, &alone());
    assert_eq!(cmds.len(), 2, "one dial per distinct --peer: {cmds:?}");
    let ids: Vec<u16> = cmds
        .iter()
        .map(|c| match c {
            Command::Dial { id, .. } => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(ids.iter().all(|id| *id >= STREAM_IDS_FROM));
    assert_ne!(ids[0], ids[1]);
    // A dial in flight is not repeated.
    assert!(p.tick(t0 + secs(4), &alone()).is_empty());
}

#[test]
fn lonely_again_later_dials_again() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    assert!(run(&mut p, t0, 1, 100, &connected()).is_empty());
    // The sessions died at 101 s: dial 3 s later.
    assert!(run(&mut p, t0, 101, 103, &alone()).is_empty());
    assert!(dial_of(&p.tick(t0 + secs(104), &alone())).is_some());
}

/// Dials R at `t0 + 3 s` and connects; returns the link's socket ID.
fn up(p: &mut Policy, t0: Instant) -> u16 {
    let id = dial_of(&run(p, t0, 0, 3, &alone())).expect("dialed");
    assert!(p.dial_succeeded(t0 + secs(3), id));
    assert_eq!(p.remote(id), Some(addr(R)));
    id
}

#[test]
fn a_used_link_reconnects_with_backoff_and_keeps_its_id() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    let id = up(&mut p, t0);
    assert!(p.datagram(t0 + secs(3), id, true, 52).is_empty());
    p.handshake_completed(id);
    // From here on the node has a session through it.
    assert!(run(&mut p, t0, 4, 30, &connected()).is_empty());
    // The far end goes away: the connection closes, the node keeps the ID.
    let cmds = p.closed(t0 + secs(31), id, false);
    assert_eq!(cmds, vec![Command::Close { id }]);
    assert_eq!(p.status(t0 + secs(31)).links[0].state, "waiting");
    // Dialed again 1 s later, then 2 s, 4 s, ... after each failure.
    let mut at = 32;
    let mut expected_wait = 1;
    for _ in 0..8 {
        let cmds = p.tick(t0 + secs(at), &connected());
        assert_eq!(
            cmds,
            vec![Command::Dial {
                id,
                remote: addr(R)
            }],
            "at {at} s"
        );
        assert!(p.dial_failed(t0 + secs(at), id).is_empty());
        expected_wait = (expected_wait * 2).min(MAX_BACKOFF.as_secs());
        assert!(p
            .tick(t0 + secs(at + expected_wait - 1), &connected())
            .is_empty());
        at += expected_wait;
    }
    assert_eq!(expected_wait, 30);
    // Back up: the backoff starts again from 1 s once it carries traffic.
    assert_eq!(
        p.tick(t0 + secs(at), &connected()),
        vec![Command::Dial {
            id,
            remote: addr(R)
        }]
    );
    assert!(p.dial_succeeded(t0 + secs(at), id));
    assert!(p.datagram(t0 + secs(at), id, true, 100).is_empty());
    p.handshake_completed(id);
    assert_eq!(
        p.closed(t0 + secs(at + 1), id, false),
        vec![Command::Close { id }]
    );
    assert_eq!(
        p.tick(t0 + secs(at + 2), &connected()),
        vec![Command::Dial {
            id,
            remote: addr(R)
        }]
    );
}

#[test]
fn a_link_that_never_carried_traffic_is_dropped_once_udp_sessions_exist() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    let id = dial_of(&run(&mut p, t0, 0, 3, &alone())).unwrap();
    // Meanwhile UDP got the node a session; the dial fails.
    assert!(p.tick(t0 + secs(4), &connected()).is_empty());
    assert_eq!(
        p.dial_failed(t0 + secs(5), id),
        vec![Command::Detach { id }]
    );
    assert_eq!(p.status(t0).links[0].state, "unused");
    assert!(run(&mut p, t0, 6, 100, &connected()).is_empty());
}

#[test]
fn a_failing_link_of_a_lonely_node_keeps_trying() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    let id = dial_of(&run(&mut p, t0, 0, 3, &alone())).unwrap();
    assert!(p.dial_failed(t0 + secs(4), id).is_empty());
    assert_eq!(
        p.tick(t0 + secs(5), &alone()),
        vec![Command::Dial {
            id,
            remote: addr(R)
        }]
    );
}

#[test]
fn an_answer_over_udp_closes_the_link() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    let id = up(&mut p, t0);
    p.datagram(t0 + secs(3), id, true, 52);
    p.handshake_completed(id);
    // An answer from before the connection came up proves nothing.
    let old = NodeView {
        connected: true,
        udp_answers: vec![(addr(R), t0 + secs(1))],
    };
    assert!(p.tick(t0 + secs(10), &old).is_empty());
    // Nor does one from another address.
    let other = NodeView {
        connected: true,
        udp_answers: vec![(addr("192.0.2.7:9740"), t0 + secs(9))],
    };
    assert!(p.tick(t0 + secs(11), &other).is_empty());
    let fresh = NodeView {
        connected: true,
        udp_answers: vec![(addr(R), t0 + secs(12))],
    };
    assert_eq!(
        p.tick(t0 + secs(12), &fresh),
        vec![Command::Close { id }, Command::Detach { id }]
    );
    let s = p.status(t0 + secs(12));
    assert_eq!(s.counters.closed_udp_works, 1);
    assert!(s.connections.is_empty());
    assert_eq!(s.links[0].state, "unused");
    assert!(run(&mut p, t0, 13, 300, &fresh).is_empty());
}

#[test]
fn an_unused_dialed_connection_is_closed_when_idle() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    let id = up(&mut p, t0);
    p.datagram(t0 + secs(3), id, true, 52);
    p.handshake_completed(id);
    // Keepalives every 25 s keep it.
    for s in (28..200).step_by(25) {
        p.sent(t0 + secs(s), id, 32);
    }
    assert!(run(&mut p, t0, 4, 200, &connected()).is_empty());
    // Then the sessions move elsewhere.
    let last = 178;
    let cmds = run(&mut p, t0, 201, last + 60, &connected());
    assert_eq!(cmds, vec![Command::Close { id }, Command::Detach { id }]);
    assert_eq!(p.status(t0).counters.closed_idle, 1);
}

#[test]
fn accepted_connections_must_speak_the_protocol() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[], t0);
    let b = addr("203.0.113.1:40000");
    // First datagram dropped by the node: closed.
    let id = p.accepted(t0, b).unwrap();
    assert_eq!(
        p.datagram(t0, id, false, 18),
        vec![Command::Close { id }, Command::Detach { id }]
    );
    // Datagrams the node takes, and some it drops (data of a session the
    // node forgot in a restart), but no handshake within the timeout:
    // closed.
    let id = p.accepted(t0, b).unwrap();
    for s in 0..HANDSHAKE_TIMEOUT.as_secs() {
        assert!(p.datagram(t0 + secs(s), id, s % 3 == 0, 52).is_empty());
    }
    let silent = run(&mut p, t0, 1, HANDSHAKE_TIMEOUT.as_secs(), &connected());
    assert_eq!(silent, vec![Command::Close { id }, Command::Detach { id }]);
    // Nothing the node takes at all: closed sooner.
    let t2 = t0 + HANDSHAKE_TIMEOUT;
    let id = p.accepted(t2, b).unwrap();
    let quiet = FIRST_DATAGRAM_TIMEOUT.as_secs();
    let secs_after = |s: u64| HANDSHAKE_TIMEOUT.as_secs() + s;
    assert!(run(
        &mut p,
        t0,
        secs_after(1),
        secs_after(quiet - 1),
        &connected()
    )
    .is_empty());
    let silent = run(
        &mut p,
        t0,
        secs_after(quiet),
        secs_after(quiet),
        &connected(),
    );
    assert_eq!(silent, vec![Command::Close { id }, Command::Detach { id }]);
    // Once a handshake completed over it, it stays past the timeout.
    let t1 = t0 + HANDSHAKE_TIMEOUT + FIRST_DATAGRAM_TIMEOUT + secs(20);
    let id = p.accepted(t1, b).unwrap();
    assert!(p.datagram(t1, id, true, 52).is_empty());
    assert!(p.datagram(t1, id, false, 52).is_empty());
    p.handshake_completed(id);
    assert!(p.datagram(t1 + secs(1), id, false, 52).is_empty());
    // Traffic every 25 s keeps it; silence for ACCEPTED_IDLE closes it.
    for s in (46..400).step_by(25) {
        p.datagram(t0 + secs(s), id, true, 32);
    }
    assert!(run(&mut p, t0, 22, 400, &connected()).is_empty());
    let cmds = run(&mut p, t0, 401, 396 + ACCEPTED_IDLE.as_secs(), &connected());
    assert_eq!(cmds, vec![Command::Close { id }, Command::Detach { id }]);
    let c = p.status(t0).counters;
    assert_eq!(
        (
            c.accepted,
            c.closed_rejected,
            c.closed_silent,
            c.closed_idle
        ),
        (4, 1, 2, 1)
    );
    // A bad frame, or the far end closing, also detaches.
    let id = p.accepted(t0, b).unwrap();
    assert_eq!(
        p.closed(t0, id, true),
        vec![Command::Close { id }, Command::Detach { id }]
    );
    assert_eq!(p.status(t0).counters.closed_bad_frame, 1);
}

#[test]
fn accepted_connections_are_bounded() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[], t0);
    let from = |i: usize| addr(&format!("203.0.113.{}:{}", i % 64 + 1, 40000 + i));
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..MAX_ACCEPTED {
        ids.insert(p.accepted(t0, from(i)).expect("room"));
    }
    assert_eq!(ids.len(), MAX_ACCEPTED);
    assert_eq!(p.accepted(t0, addr("198.51.100.9:1")), None);
    assert_eq!(p.status(t0).counters.refused, 1);
    let first = *ids.iter().next().unwrap();
    p.closed(t0, first, false);
    assert!(p.accepted(t0, from(0)).is_some());
}

#[test]
fn one_address_gets_only_its_share_of_accepted_connections() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[], t0);
    let greedy = |port: u16| addr(&format!("203.0.113.7:{port}"));
    let mine: Vec<u16> = (0..MAX_ACCEPTED_PER_ADDRESS as u16)
        .map(|i| p.accepted(t0, greedy(40000 + i)).expect("room"))
        .collect();
    // Another port of the same address: refused, and counted.
    assert_eq!(p.accepted(t0, greedy(50000)), None);
    assert_eq!(p.status(t0).counters.refused_per_address, 1);
    // Other addresses still get in.
    assert!(p.accepted(t0, addr("203.0.113.8:40000")).is_some());
    // One of its connections closes: it may open one again.
    p.closed(t0, mine[0], false);
    assert!(p.accepted(t0, greedy(50001)).is_some());
}

#[test]
fn socket_ids_wrap_and_skip_those_in_use() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[], t0);
    let b = addr("203.0.113.1:40000");
    let keep = p.accepted(t0, b).unwrap();
    assert_eq!(keep, STREAM_IDS_FROM);
    let mut last = keep;
    for _ in 0..(u16::MAX - STREAM_IDS_FROM) {
        let id = p.accepted(t0, b).unwrap();
        assert_ne!(id, keep);
        p.closed(t0, id, false);
        last = id;
    }
    assert_eq!(last, u16::MAX);
    // Wrapped: the first ID is still open, so the next one after it.
    assert_eq!(p.accepted(t0, b), Some(STREAM_IDS_FROM + 1));
}

#[test]
fn stale_reports_are_ignored() {
    let t0 = Instant::now();
    let mut p = Policy::new(&[addr(R)], t0);
    assert!(!p.dial_succeeded(t0, 0x9000));
    assert!(p.dial_failed(t0, 0x9000).is_empty());
    assert!(p.datagram(t0, 0x9000, true, 1).is_empty());
    assert!(p.closed(t0, 0x9000, false).is_empty());
    p.sent(t0, 0x9000, 1);
    assert!(p.status(t0).connections.is_empty());
}
