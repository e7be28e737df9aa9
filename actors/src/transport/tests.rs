//! Unit tests of the core with two transports wired by hand.

use super::Transport;
use crate::config::Config;
use crate::ids::{ConnId, Time};
use crate::keys::Persistence;
use crate::memory::Network;
use crate::output::{DownReason, Notice, Output};
use crate::wire::frame::Frame;
use crate::CallError;

const T: Time = Time(1_000_000);

fn pair() -> (Transport, Transport) {
    let a = Transport::new(Config::default(), &[1; 32], [11; 32]);
    let b = Transport::new(Config::default(), &[2; 32], [22; 32]);
    let (mut a, mut b) = (a, b);
    a.set_time(T);
    b.set_time(T);
    (a, b)
}

/// Moves every write of `from` on `conn` into `to` on `their`.
fn pump(from: &mut Transport, conn: ConnId, to: &mut Transport, their: ConnId) -> Vec<Output> {
    let mut other = Vec::new();
    while let Some(o) = from.poll_output() {
        match o {
            Output::Write { conn: c, bytes } if c == conn => to.handle_bytes(their, &bytes, T),
            o => other.push(o),
        }
    }
    other
}

#[test]
fn simultaneous_streams_keep_the_one_the_lower_node_opened() {
    let (mut a, mut b) = pair();
    let (low, high) = if a.node_id() < b.node_id() {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let (low_id, high_id) = (low.node_id(), high.node_id());
    // Stream 1 opened by the lower node, stream 2 by the higher, seen in
    // opposite orders on the two sides.
    low.handle_stream_open(ConnId(1), high_id, true, T);
    low.handle_stream_open(ConnId(2), high_id, false, T);
    high.handle_stream_open(ConnId(2), low_id, true, T);
    high.handle_stream_open(ConnId(1), low_id, false, T);
    for t in [low, high] {
        let closed: Vec<_> = std::iter::from_fn(|| t.poll_output())
            .filter_map(|o| match o {
                Output::Close { conn } => Some(conn),
                _ => None,
            })
            .collect();
        assert_eq!(closed, vec![ConnId(2)]);
        assert_eq!(
            t.peers.values().next().and_then(|p| p.active),
            Some(ConnId(1))
        );
    }
}

#[test]
fn learns_burst_on_open_and_bad_learns_are_refused() {
    let (mut a, mut b) = pair();
    let ea = a.start_engine(Persistence::Ephemeral);
    let eb = b.start_engine(Persistence::Ephemeral);
    while a.poll_output().is_some() {}
    a.handle_stream_open(ConnId(1), b.node_id(), true, T);
    b.handle_stream_open(ConnId(9), a.node_id(), false, T);
    pump(&mut a, ConnId(1), &mut b, ConnId(9));
    pump(&mut b, ConnId(9), &mut a, ConnId(1));
    assert_eq!(
        a.foreign_engines().collect::<Vec<_>>(),
        vec![(eb, b.node_id(), true)]
    );
    // b sends a's own learn record back: b does not host ea.
    let learn = a.engines[&ea].learn;
    let bytes = Frame::Learn(learn).to_bytes().unwrap();
    a.handle_bytes(ConnId(1), &bytes, T);
    assert_eq!(a.stats().forged, 1);
    // An expired learn record from the right node is stale.
    let mut old = b.make_learn(eb);
    old.expires = Time(5);
    old.engine_sig = b
        .keys
        .sign_engine(
            eb,
            &crate::wire::learn::Learn::engine_signed(eb, old.node, old.expires),
        )
        .unwrap();
    old.node_sig = b.keys.sign_node(&old.node_signed());
    a.handle_bytes(ConnId(1), &Frame::Learn(old).to_bytes().unwrap(), T);
    assert_eq!(a.stats().stale, 1);
}

#[test]
fn oversized_frames_close_the_stream() {
    let (mut a, b) = pair();
    a.handle_stream_open(ConnId(1), b.node_id(), true, T);
    while a.poll_output().is_some() {}
    let len = (a.config().max_frame as u32 + 1).to_le_bytes();
    a.handle_bytes(ConnId(1), &len, T);
    assert_eq!(a.stats().malformed, 1);
    assert_eq!(a.poll_output(), Some(Output::Close { conn: ConnId(1) }));
    assert_eq!(a.connected_peers().count(), 0);
}

#[test]
fn invalid_host_records_mean_no_such_engine() {
    let (mut a, mut b) = pair();
    let src = a.start_engine(Persistence::Ephemeral);
    let eb = b.start_engine(Persistence::Ephemeral);
    let good = b.engines[&eb].learn;
    let call = a.call(src, eb, vec![], 1000).unwrap();
    let fetches: Vec<_> = std::iter::from_fn(|| a.poll_output())
        .filter(|o| matches!(o, Output::Fetch { .. }))
        .collect();
    assert_eq!(fetches, vec![Output::Fetch { key: eb.0 }]);
    let mut altered = good;
    altered.expires = Time(good.expires.0 + 1);
    a.handle_record(eb.0, &[altered.to_bytes(), b"junk".to_vec()], T);
    assert_eq!(
        a.poll_notice(),
        Some(Notice::CallDone {
            call,
            caller: src,
            result: Err(CallError::NoSuchEngine)
        })
    );
    // The genuine record leads to a stream request instead.
    a.call(src, eb, vec![], 1000).unwrap();
    while a.poll_output().is_some() {}
    a.handle_record(eb.0, &[good.to_bytes()], T);
    assert_eq!(a.poll_output(), Some(Output::Open { peer: b.node_id() }));
}

#[test]
fn records_are_renewed_and_unrenewed_proxies_expire() {
    let config = Config {
        record_ttl_ms: 1000,
        ..Config::default()
    };
    let mut net = Network::new(5, T);
    let (x, y) = (net.add_node(config.clone()), net.add_node(config));
    net.connect(x, y);
    net.run();
    let ex = net.node_mut(x).start_engine(Persistence::Ephemeral);
    let ey = net.node_mut(y).start_engine(Persistence::Ephemeral);
    net.run();
    net.node_mut(x).monitor(ex, ey).unwrap();
    // Renewal at half the lifetime keeps proxies alive well past one lifetime.
    net.advance(5_000);
    assert_eq!(net.node(x).foreign_engines().count(), 1);
    assert!(net.node(x).poll_timeout().is_some());
    assert_eq!(net.node_mut(x).poll_notice(), None);
    // A node that stops renewing (here: its records are never sent because
    // it is cut off, and its proxies are unreachable) disappears on expiry.
    net.disconnect(x, y);
    net.run();
    assert_eq!(
        net.node_mut(x).poll_notice().map(|n| matches!(
            n,
            Notice::Down {
                reason: DownReason::Unreachable,
                ..
            }
        )),
        Some(true)
    );
    net.advance(1_000);
    assert_eq!(net.node(x).foreign_engines().count(), 0);
}

#[test]
fn name_lookups_without_an_answer_end_empty() {
    let (mut a, _) = pair();
    assert_eq!(a.lookup_name(""), Err(crate::NameError::Invalid));
    a.lookup_name("svc").unwrap();
    a.lookup_name("svc").unwrap();
    let fetches = std::iter::from_fn(|| a.poll_output()).count();
    assert_eq!(fetches, 1);
    let deadline = a.poll_timeout().unwrap();
    a.handle_timeout(deadline);
    assert_eq!(
        a.poll_notice(),
        Some(Notice::NameFound {
            name: "svc".into(),
            owner: None
        })
    );
    assert_eq!(a.poll_notice(), None);
}

mod scopes {
    use super::*;
    use proptest::prelude::*;

    /// A root-cluster member with one stream from a peer.
    fn member() -> Transport {
        let config = Config {
            scope_max_outbox: 4,
            ..Config::default()
        };
        let mut t = crate::scope::fixture::root_member(9, config, T);
        t.handle_stream_open(ConnId(1), crate::NodeId([3; 32]), false, T);
        while t.poll_output().is_some() {}
        t
    }

    proptest! {
        /// Scope frames with arbitrary bodies: dropped and counted, never a
        /// panic, and no more state than the limits allow.
        #[test]
        fn arbitrary_scope_frames_are_dropped_and_counted(
            frames in proptest::collection::vec((8u8..=12, proptest::collection::vec(any::<u8>(), 0..200)), 1..40)
        ) {
            let mut t = member();
            let (before, frames_before) = (t.stats().malformed, t.stats().frames_in);
            let mut n = 0;
            for (ty, body) in &frames {
                let mut b = ((body.len() + 1) as u32).to_le_bytes().to_vec();
                b.push(*ty);
                b.extend_from_slice(body);
                t.handle_bytes(ConnId(1), &b, T);
                n += 1;
            }
            while t.poll_output().is_some() {}
            let s = t.stats();
            // Each frame either parsed or was counted as malformed.
            prop_assert_eq!(s.malformed - before + s.frames_in - frames_before, n);
            t.handle_timeout(Time(u64::MAX / 2));
            prop_assert_eq!(t.scope_clusters().len(), 1);
            prop_assert!(t.scopes.as_ref().unwrap().outbox.values().all(|q| q.len() <= 4));
        }
    }
}

#[test]
fn has_output_says_whether_poll_output_has_work() {
    let (mut a, b) = pair();
    a.start_engine(Persistence::Ephemeral);
    assert!(a.has_output(), "the host record to publish");
    while a.poll_output().is_some() {}
    assert!(!a.has_output());
    a.handle_stream_open(ConnId(1), b.node_id(), true, T);
    assert!(a.has_output(), "the learn burst to write");
    assert!(matches!(a.poll_output(), Some(Output::Write { .. })));
    while a.poll_output().is_some() {}
    assert!(!a.has_output());
}
