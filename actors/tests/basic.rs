//! Two- and three-node scenarios over the in-memory host.

use tessel_actors::memory::Network;
use tessel_actors::{
    CallError, Config, Delivery, DownReason, EngineAddr, Event, Filter, Notice, Persistence,
    SendError, Time,
};

const T0: Time = Time(1_700_000_000_000);

fn mesh(n: usize, config: &Config) -> Network {
    let mut net = Network::new(7, T0);
    for _ in 0..n {
        net.add_node(config.clone());
    }
    for a in 0..n {
        for b in a + 1..n {
            net.connect(a, b);
        }
    }
    net.run();
    net
}

fn engine(net: &mut Network, node: usize) -> EngineAddr {
    let e = net.node_mut(node).start_engine(Persistence::Ephemeral);
    net.run();
    e
}

fn notices(net: &mut Network, node: usize) -> Vec<Notice> {
    std::iter::from_fn(|| net.node_mut(node).poll_notice()).collect()
}

/// Answers every call waiting at `engine` with the request reversed.
fn serve(net: &mut Network, node: usize, engine: EngineAddr) -> usize {
    let mut n = 0;
    while let Some(d) = net.node_mut(node).recv(engine) {
        if let Delivery::Call { reply, payload, .. } = d {
            let mut p = payload;
            p.reverse();
            net.node_mut(node).reply(reply, p).unwrap();
            n += 1;
        }
    }
    net.run();
    n
}

#[test]
fn cast_and_call_across_nodes() {
    let mut net = mesh(2, &Config::default());
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 1);
    assert_eq!(
        net.node(0).foreign_engines().collect::<Vec<_>>(),
        vec![(b, net.id(1), true)]
    );
    net.node_mut(0).cast(a, b, b"hello".to_vec()).unwrap();
    net.run();
    assert_eq!(
        net.node_mut(1).recv(b),
        Some(Delivery::Cast {
            from: a,
            payload: b"hello".to_vec()
        })
    );
    let call = net.node_mut(0).call(a, b, b"abc".to_vec(), 1000).unwrap();
    net.run();
    assert_eq!(serve(&mut net, 1, b), 1);
    assert_eq!(
        notices(&mut net, 0),
        vec![Notice::CallDone {
            call,
            caller: a,
            result: Ok(b"cba".to_vec())
        }]
    );
    let s = net.node(1).stats();
    assert_eq!((s.forged, s.bad_mac, s.replayed, s.malformed), (0, 0, 0, 0));
}

#[test]
fn local_delivery_needs_no_stream() {
    let mut net = mesh(
        1,
        &Config {
            mailbox_capacity: 2,
            ..Config::default()
        },
    );
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 0);
    let t = net.node_mut(0);
    t.cast(a, b, vec![1]).unwrap();
    let call = t.call(a, b, vec![2], 50).unwrap();
    assert_eq!(t.cast(a, b, vec![3]), Err(SendError::MailboxFull(b)));
    assert_eq!(
        t.recv(b),
        Some(Delivery::Cast {
            from: a,
            payload: vec![1]
        })
    );
    serve(&mut net, 0, b);
    assert_eq!(
        notices(&mut net, 0),
        vec![Notice::CallDone {
            call,
            caller: a,
            result: Ok(vec![2])
        }]
    );
    assert_eq!(net.node(0).stats().frames_out, 0);
}

#[test]
fn calls_time_out_and_unknown_engines_are_reported() {
    let mut net = mesh(2, &Config::default());
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 1);
    let slow = net.node_mut(0).call(a, b, vec![], 100).unwrap();
    let nobody = EngineAddr([9; 32]);
    let lost = net.node_mut(0).call(a, nobody, vec![], 10_000).unwrap();
    net.run();
    net.advance(150);
    let got = notices(&mut net, 0);
    assert!(got.contains(&Notice::CallDone {
        call: slow,
        caller: a,
        result: Err(CallError::TimedOut)
    }));
    assert!(got.contains(&Notice::CallDone {
        call: lost,
        caller: a,
        result: Err(CallError::NoSuchEngine)
    }));
    // A late answer to the timed-out call is dropped, not delivered.
    serve(&mut net, 1, b);
    assert!(notices(&mut net, 0).is_empty());
}

#[test]
fn a_sender_with_only_an_address_finds_the_node() {
    let mut net = mesh(3, &Config::default());
    net.disconnect(0, 2);
    net.run();
    let a = engine(&mut net, 0);
    let c = engine(&mut net, 2);
    assert!(!net.node(0).connected_peers().any(|p| p == net.id(2)));
    // Only the host record, published when c started, tells node 0 where c is.
    let call = net.node_mut(0).call(a, c, b"xy".to_vec(), 1000).unwrap();
    net.node_mut(0).cast(a, c, b"first".to_vec()).unwrap();
    net.run();
    assert!(net.node(0).connected_peers().any(|p| p == net.id(2)));
    assert_eq!(
        net.node_mut(2)
            .recv(c)
            .map(|d| matches!(d, Delivery::Call { .. })),
        Some(true)
    );
    assert_eq!(
        net.node_mut(2).recv(c),
        Some(Delivery::Cast {
            from: a,
            payload: b"first".to_vec()
        })
    );
    net.node_mut(0).cast(a, c, b"more".to_vec()).unwrap();
    net.run();
    assert_eq!(
        net.node_mut(2).recv(c),
        Some(Delivery::Cast {
            from: a,
            payload: b"more".to_vec()
        })
    );
    let _ = call;
}

#[test]
fn stopped_engines_are_forgotten_and_monitors_fire() {
    let mut net = mesh(3, &Config::default());
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 1);
    let m = net.node_mut(0).monitor(a, b).unwrap();
    let call = net.node_mut(0).call(a, b, vec![], 1000).unwrap();
    net.run();
    assert!(net.node_mut(1).stop_engine(b));
    net.run();
    let got = notices(&mut net, 0);
    assert!(got.contains(&Notice::CallDone {
        call,
        caller: a,
        result: Err(CallError::Stopped)
    }));
    assert!(got.contains(&Notice::Down {
        monitor: m,
        watcher: a,
        target: b,
        reason: DownReason::Forgotten
    }));
    assert_eq!(net.node(0).foreign_engines().count(), 0);
    let left: Vec<_> = net.node(2).foreign_engines().map(|(e, _, _)| e).collect();
    assert_eq!(left, vec![a]);
    // A call to it now fails as "no such engine" once the stale record is tried.
    let again = net.node_mut(0).call(a, b, vec![], 1000).unwrap();
    net.run();
    assert_eq!(
        notices(&mut net, 0),
        vec![Notice::CallDone {
            call: again,
            caller: a,
            result: Err(CallError::NoSuchEngine)
        }]
    );
}

#[test]
fn a_dropped_stream_makes_engines_unreachable_until_it_returns() {
    let mut net = mesh(2, &Config::default());
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 1);
    let m = net.node_mut(0).monitor(a, b).unwrap();
    let call = net.node_mut(0).call(a, b, vec![], 1000).unwrap();
    net.disconnect(0, 1);
    net.run();
    let got = notices(&mut net, 0);
    assert!(got.contains(&Notice::CallDone {
        call,
        caller: a,
        result: Err(CallError::Unreachable)
    }));
    assert!(got.contains(&Notice::Down {
        monitor: m,
        watcher: a,
        target: b,
        reason: DownReason::Unreachable
    }));
    let before = net.node(0).stats().undeliverable;
    assert_eq!(
        net.node_mut(0).cast(a, b, vec![1]),
        Err(SendError::Unreachable(b))
    );
    assert_eq!(net.node(0).stats().undeliverable, before + 1);
    // The failed cast asked for a new stream; the nodes learn again.
    net.run();
    assert!(net.node(0).foreign_engines().all(|(_, _, up)| up));
    net.node_mut(0).cast(a, b, vec![2]).unwrap();
    net.run();
    let got: Vec<_> = std::iter::from_fn(|| net.node_mut(1).recv(b)).collect();
    assert_eq!(
        got,
        vec![Delivery::Cast {
            from: a,
            payload: vec![2]
        }]
    );
}

#[test]
fn subscriptions_forward_only_matching_events() {
    let mut net = mesh(2, &Config::default());
    let p = engine(&mut net, 0);
    let s = engine(&mut net, 1);
    let quiet = engine(&mut net, 1);
    net.node_mut(1)
        .subscribe(s, p, Filter::topic("orders/").with("region", "eu"))
        .unwrap();
    net.node_mut(1)
        .subscribe(quiet, p, Filter::topic("nothing"))
        .unwrap();
    net.run();
    let ev = |topic: &str, region: &str| Event {
        topic: topic.into(),
        fields: [("region".to_owned(), region.to_owned())].into(),
        payload: vec![7],
    };
    assert_eq!(
        net.node_mut(0).publish(p, ev("orders/new", "eu")).unwrap(),
        1
    );
    assert_eq!(
        net.node_mut(0).publish(p, ev("orders/new", "us")).unwrap(),
        0
    );
    assert_eq!(
        net.node_mut(0).publish(p, ev("stock/new", "eu")).unwrap(),
        0
    );
    net.run();
    assert_eq!(net.node(0).stats().events_sent, 1);
    assert_eq!(net.node(0).stats().events_filtered, 5);
    assert_eq!(
        net.node_mut(1).recv(s),
        Some(Delivery::Event {
            from: p,
            event: ev("orders/new", "eu")
        })
    );
    assert_eq!(net.node_mut(1).recv(s), None);
    assert_eq!(net.node_mut(1).recv(quiet), None);
}

#[test]
fn persistent_keys_survive_a_restart() {
    let mut net = mesh(1, &Config::default());
    let t = net.node_mut(0);
    let p = t.start_engine(Persistence::Persistent);
    let e = t.start_engine(Persistence::Ephemeral);
    let file = t.keys().export_persistent();
    assert!(t.stop_engine(p));
    assert!(t.stop_engine(e));
    assert!(t.resume_engine(p));
    assert!(!t.resume_engine(e));
    let mut other = Network::new(8, T0);
    let i = other.add_node(Config::default());
    let addrs = other.node_mut(i).keys_mut().import(&file).unwrap();
    assert_eq!(addrs, vec![p]);
    assert!(other.node_mut(i).resume_engine(p));
    assert_eq!(other.node(i).local_engines().collect::<Vec<_>>(), vec![p]);
}

#[test]
fn per_peer_limits_hold() {
    let config = Config {
        max_proxies_per_peer: 2,
        max_inbound_calls_per_peer: 1,
        ..Config::default()
    };
    let mut net = mesh(2, &config);
    let a = engine(&mut net, 0);
    for _ in 0..3 {
        engine(&mut net, 1);
    }
    assert_eq!(net.node(0).foreign_engines().count(), 2);
    assert_eq!(net.node(0).stats().limited, 1);
    let target = net.node(0).foreign_engines().next().unwrap().0;
    let c1 = net.node_mut(0).call(a, target, vec![], 1000).unwrap();
    let c2 = net.node_mut(0).call(a, target, vec![], 1000).unwrap();
    net.run();
    let got = notices(&mut net, 0);
    assert_eq!(
        got,
        vec![Notice::CallDone {
            call: c2,
            caller: a,
            result: Err(CallError::Busy)
        }]
    );
    serve(&mut net, 1, target);
    assert!(
        matches!(&notices(&mut net, 0)[..], [Notice::CallDone { call, result: Ok(_), .. }] if *call == c1)
    );
}

#[test]
fn full_remote_mailboxes_refuse_and_count() {
    let mut net = mesh(
        2,
        &Config {
            mailbox_capacity: 1,
            ..Config::default()
        },
    );
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 1);
    net.node_mut(0).cast(a, b, vec![1]).unwrap();
    net.node_mut(0).cast(a, b, vec![2]).unwrap();
    let call = net.node_mut(0).call(a, b, vec![3], 1000).unwrap();
    net.run();
    assert_eq!(net.node(1).stats().mailbox_full, 1);
    assert_eq!(
        notices(&mut net, 0),
        vec![Notice::CallDone {
            call,
            caller: a,
            result: Err(CallError::MailboxFull)
        }]
    );
    assert_eq!(
        net.node_mut(1).recv(b),
        Some(Delivery::Cast {
            from: a,
            payload: vec![1]
        })
    );
}

#[test]
fn local_and_remote_subscriptions_end_on_unsubscribe() {
    let mut net = mesh(2, &Config::default());
    let p = engine(&mut net, 0);
    let near = engine(&mut net, 0);
    let far = engine(&mut net, 1);
    let s1 = net
        .node_mut(0)
        .subscribe(near, p, Filter::default())
        .unwrap();
    let s2 = net
        .node_mut(1)
        .subscribe(far, p, Filter::default())
        .unwrap();
    net.run();
    assert_eq!(net.node_mut(0).publish(p, Event::default()).unwrap(), 2);
    net.run();
    assert!(matches!(net.node_mut(0).recv(near), Some(Delivery::Event { from, .. }) if from == p));
    assert!(matches!(net.node_mut(1).recv(far), Some(Delivery::Event { from, .. }) if from == p));
    assert!(net.node_mut(0).unsubscribe(s1));
    assert!(net.node_mut(1).unsubscribe(s2));
    assert!(!net.node_mut(1).unsubscribe(s2));
    net.run();
    assert_eq!(net.node_mut(0).publish(p, Event::default()).unwrap(), 0);
    // Subscribing from an engine this node does not run is refused.
    assert_eq!(
        net.node_mut(0).subscribe(far, p, Filter::default()),
        Err(SendError::NotLocal(far))
    );
}

#[test]
fn monitors_of_local_engines_and_demonitor() {
    let mut net = mesh(1, &Config::default());
    let a = engine(&mut net, 0);
    let b = engine(&mut net, 0);
    let c = engine(&mut net, 0);
    let t = net.node_mut(0);
    let mb = t.monitor(a, b).unwrap();
    let mc = t.monitor(a, c).unwrap();
    assert!(t.demonitor(mc));
    let unknown = t.monitor(a, EngineAddr([1; 32])).unwrap();
    assert!(t.stop_engine(b));
    assert!(t.stop_engine(c));
    let got = notices(&mut net, 0);
    assert_eq!(
        got,
        vec![
            Notice::Down {
                monitor: unknown,
                watcher: a,
                target: EngineAddr([1; 32]),
                reason: DownReason::NoSuchEngine
            },
            Notice::Down {
                monitor: mb,
                watcher: a,
                target: b,
                reason: DownReason::Stopped
            },
        ]
    );
}

#[test]
fn a_resumed_persistent_engine_is_reachable_again() {
    let mut net = mesh(2, &Config::default());
    let a = engine(&mut net, 0);
    let p = net.node_mut(1).start_engine(Persistence::Persistent);
    net.run();
    // Both directions have pair keys before the stop.
    net.node_mut(0).cast(a, p, vec![1]).unwrap();
    net.node_mut(1).cast(p, a, vec![2]).unwrap();
    net.run();
    assert!(net.node_mut(1).stop_engine(p));
    net.run();
    assert_eq!(net.node(0).foreign_engines().count(), 0);
    assert!(net.node_mut(1).resume_engine(p));
    net.run();
    net.node_mut(0).cast(a, p, vec![3]).unwrap();
    net.node_mut(1).cast(p, a, vec![4]).unwrap();
    net.run();
    assert_eq!(
        net.node_mut(1).recv(p),
        Some(Delivery::Cast {
            from: a,
            payload: vec![3]
        })
    );
    let got: Vec<_> = std::iter::from_fn(|| net.node_mut(0).recv(a)).collect();
    assert_eq!(
        got,
        vec![
            Delivery::Cast {
                from: p,
                payload: vec![2]
            },
            Delivery::Cast {
                from: p,
                payload: vec![4]
            },
        ]
    );
    assert_eq!(
        net.node(0).stats().unauthenticated + net.node(1).stats().unauthenticated,
        0
    );
}
