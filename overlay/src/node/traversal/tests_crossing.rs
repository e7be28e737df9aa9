//! A punch between two NATs that map per destination and allocate in
//! sequence: the reading, its signal, and the crossing line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::candidates::{allocation, mapping};
use super::crossing::{asker_is_sparse, LINE};
use super::reading::reading_ids;
use super::tests::{addr, drain, id, own, probe_ttls, probes, rng, run_until, Fake};
use super::{MemberFacts, Output, Traversal, OPENER_TTL, PUNCH_TIME};
use crate::identity::NodeId;
use crate::wire::signal::{candidate_kind, Candidate, Candidates, NatHint};

fn sequential(last_port: u16) -> NatHint {
    NatHint {
        mapping: mapping::DEPENDENT,
        allocation: allocation::SEQUENTIAL,
        step: 1,
        last_port,
    }
}

/// Members: `b` known at `b_at` (from gossip), and `m`, if any, connected
/// directly at `m_at` (whom a reading may probe).
fn members(b: (NodeId, SocketAddr), m: Option<(NodeId, SocketAddr)>) -> Fake {
    let mut members = Fake::default();
    for (id, at, direct) in
        std::iter::once((b.0, b.1, false)).chain(m.map(|(id, at)| (id, at, true)))
    {
        members.facts.insert(
            id,
            MemberFacts {
                direct,
                endpoint: Some(at),
                ..MemberFacts::default()
            },
        );
    }
    members
}

#[test]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
fn both_sides_sequential_read_their_nat_and_probe_crossing_lines_in_order() {
    let t0 = Instant::now();
    let (m, b) = (id(4), id(2));
    let m_at = addr("203.0.113.20:9740");
    let b_at = addr("203.0.113.9:30000");
    let members = members((b, b_at), Some((m, m_at)));
    let mut t = Traversal::default();
    // A self-check that saw another mapping come between its two sockets
    // took the step for 2; the reading sees 1.
    t.check.hint = Some(NatHint {
        step: 2,
        ..sequential(20_000)
    });
    // m vouched for b's address: its ports beyond the candidates may be probed.
    t.limits.vouch(t0, b, b_at.ip());

    let (pid, ask) = t.request_punch(&own(), &mut rng());
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    let out = drain(&mut t);
    let first = *reading_ids().start();
    let sockets = vec![first, first + 1];
    assert_eq!(probes(&out), vec![(0, b_at)], "the opener first");
    assert_eq!(out.last(), Some(&Output::OpenSockets(sockets.clone())));

    // The reading's probes, one from each of its sockets, to the connected
    // member, a few milliseconds apart.
    let out = run_until(&mut t, &members, t0 + Duration::from_millis(20));
    let sent: Vec<(Instant, u16, u64)> = out
        .iter()
        .filter_map(|(at, o)| match o {
            Output::Probe { socket, to, tx, .. } if *to == m_at => Some((*at, *socket, *tx)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent.iter().map(|s| s.1).collect::<Vec<_>>(),
        sockets,
        "{sent:?}"
    );
    assert!(sent[1].0 > sent[0].0);
    let (at, tx) = (sent[1].0, sent[0].2);
    // Our NAT gave them ports 20,004 and 20,005: the reading, step 1, is
    // told to the other side as fresh.
    let now = at + Duration::from_millis(30);
    for (socket, port) in [(first, 20_004), (first + 1, 20_005)] {
        let seen = SocketAddr::new("192.0.2.1".parse().unwrap(), port);
        t.on_probe_ack(now, &members, m, socket, m_at, tx, seen);
    }
    assert_eq!(drain(&mut t), vec![Output::CloseSockets(sockets)]);
    let out = run_until(&mut t, &members, now);
    let told = out
        .iter()
        .find_map(|(_, o)| match o {
            Output::Signal { candidates, .. } => Some(candidates.clone()),
            _ => None,
        })
        .expect("the reading, signalled");
    assert!(told.fresh && !told.request);
    assert_eq!((told.nat.last_port, told.nat.step), (20_005, 1));
    assert!(probes(&out.into_iter().map(|(_, o)| o).collect::<Vec<_>>()).is_empty());

    // The other side's reading: port 30,010 was its NAT's last.
    let theirs = Candidates {
        request: false,
        fresh: true,
        punch_id: pid,
        nat: sequential(30_010),
        extra_sockets: 0,
        list: vec![Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr: b_at,
        }],
    };
    let now = now + Duration::from_millis(40);
    t.on_candidates(now, &members, &own(), &mut rng(), b, false, theirs);
    let mut line = probe_ttls(&drain(&mut t));
    // The rest of the first pass: one probe every few milliseconds, in order.
    let paced = run_until(&mut t, &members, now + Duration::from_millis(200));
    let rest: Vec<(Instant, Output)> = paced
        .into_iter()
        .filter(|(_, o)| matches!(o, Output::Probe { ttl: Some(_), .. }))
        .collect();
    assert!(rest.windows(2).all(|w| w[1].0 > w[0].0), "paced");
    line.extend(probe_ttls(
        &rest.into_iter().map(|(_, o)| o).collect::<Vec<_>>(),
    ));
    // (The reading's arrival also opens toward the candidates again.)
    line.retain(|(to, _)| *to != b_at);
    assert_eq!(line.len(), LINE as usize);
    assert!(line.iter().all(|(_, ttl)| *ttl == Some(OPENER_TTL)));
    let ports: Vec<u16> = line.iter().map(|(to, _)| to.port()).collect();
    let sparse = asker_is_sparse(pid);
    let expected: Vec<u16> = (1..=LINE as u16)
        .map(|k| 30_010 + if sparse { 2 * k - 1 } else { k })
        .collect();
    assert_eq!(ports, expected);

    // Later rounds probe the line in earnest; a line that found nothing
    // ends the punch well before its usual time.
    let out = run_until(&mut t, &members, t0 + PUNCH_TIME);
    let earnest = probe_ttls(&out.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>());
    assert!(earnest
        .iter()
        .any(|(to, ttl)| to.port() == expected[LINE as usize - 1] && ttl.is_none()));
    let ended = out.iter().find_map(|(at, o)| match o {
        Output::PunchEnded { found: false, .. } => Some(*at),
        _ => None,
    });
    assert!(
        ended.is_some_and(|at| at < t0 + Duration::from_secs(4)),
        "{ended:?}"
    );
}

#[test]
#[allow(clippy::disallowed_methods)]
fn without_a_member_to_read_from_the_punch_probes_as_before() {
    let t0 = Instant::now();
    let b = id(2);
    let b_at = addr("203.0.113.9:30000");
    let members = members((b, b_at), None);
    let mut t = Traversal::default();
    t.check.hint = Some(sequential(20_000));
    let (pid, ask) = t.request_punch(&own(), &mut rng());
    t.begin_punch(t0, &members, &own(), b, pid, &ask);
    let out = drain(&mut t);
    assert!(!out.iter().any(|o| matches!(o, Output::OpenSockets(_))));
    assert_eq!(probes(&out), vec![(0, b_at)]);
}
