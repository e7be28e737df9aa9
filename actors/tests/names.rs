//! The name registry converges on one owner per name under churn.

use tessel_actors::memory::Network;
use tessel_actors::{Config, EngineAddr, NameError, Notice, Persistence, Time};

fn nodes(n: usize) -> Network {
    let mut net = Network::new(11, Time(5_000_000));
    for _ in 0..n {
        net.add_node(Config::default());
    }
    net
}

fn connect_all(net: &mut Network, n: usize) {
    for a in 0..n {
        for b in a + 1..n {
            if net.is_up(a) && net.is_up(b) {
                net.connect(a, b);
            }
        }
    }
    net.run();
}

fn views(net: &Network, n: usize) -> Vec<Vec<(String, EngineAddr)>> {
    (0..n)
        .filter(|&i| net.is_up(i))
        .map(|i| net.node(i).registered_names())
        .collect()
}

#[test]
fn concurrent_claims_converge_and_the_loser_is_told() {
    let mut net = nodes(3);
    let e: Vec<EngineAddr> = (0..3)
        .map(|i| net.node_mut(i).start_engine(Persistence::Ephemeral))
        .collect();
    // Engines 0 and 1 claim at the same time, engine 2 later: the rule picks
    // the lower address of the first two.
    net.node_mut(0).register(e[0], "svc").unwrap();
    net.node_mut(1).register(e[1], "svc").unwrap();
    net.advance(10);
    net.node_mut(2).register(e[2], "svc").unwrap();
    net.node_mut(2).register(e[2], "other").unwrap();
    connect_all(&mut net, 3);
    let winner = e[0].min(e[1]);
    for v in views(&net, 3) {
        assert_eq!(
            v,
            vec![("other".to_owned(), e[2]), ("svc".to_owned(), winner)]
        );
    }
    let mut lost = Vec::new();
    for i in 0..3 {
        while let Some(n) = net.node_mut(i).poll_notice() {
            if let Notice::NameLost {
                name,
                loser,
                winner: w,
            } = n
            {
                // The winner at the time the loser's node saw the conflict.
                assert_eq!(name, "svc");
                assert_ne!(w, loser);
                assert!(e.contains(&w));
                lost.push(loser);
            }
        }
    }
    lost.sort();
    let mut expect = vec![e[0].max(e[1]), e[2]];
    expect.sort();
    assert_eq!(lost, expect);
    // Registered names refuse a second owner.
    let loser = e[0].max(e[1]);
    let at = if loser == e[0] { 0 } else { 1 };
    assert_eq!(
        net.node_mut(at).register(loser, "svc"),
        Err(NameError::Taken(winner))
    );
}

#[test]
fn names_of_departed_engines_and_nodes_disappear() {
    let mut net = nodes(3);
    connect_all(&mut net, 3);
    let a = net.node_mut(0).start_engine(Persistence::Ephemeral);
    let b = net.node_mut(1).start_engine(Persistence::Ephemeral);
    net.run();
    net.node_mut(0).register(a, "alpha").unwrap();
    net.node_mut(1).register(b, "beta").unwrap();
    net.node_mut(1).register(b, "gamma").unwrap();
    net.run();
    assert_eq!(net.node(2).whereis("alpha"), Some(a));
    assert_eq!(net.node(2).whereis("beta"), Some(b));
    net.node_mut(1).unregister(b, "gamma").unwrap();
    assert_eq!(
        net.node_mut(1).unregister(b, "gamma"),
        Err(NameError::NotHeld)
    );
    net.node_mut(0).stop_engine(a);
    net.run();
    for v in views(&net, 3) {
        assert_eq!(v, vec![("beta".to_owned(), b)]);
    }
    net.remove_node(1);
    net.run();
    assert_eq!(views(&net, 3), vec![vec![], vec![]]);
    // A newcomer learns names from the nodes it connects to.
    let c = net.node_mut(2).start_engine(Persistence::Ephemeral);
    net.node_mut(2).register(c, "gamma").unwrap();
    let n = net.add_node(Config::default());
    connect_all(&mut net, n + 1);
    assert_eq!(net.node(n).whereis("gamma"), Some(c));
}

#[test]
fn names_are_found_through_the_record_store() {
    use tessel_actors::wire::name_record::{key_for, NameRecord};
    use tessel_actors::{CallError, Delivery};

    let mut net = nodes(2);
    let a = net.node_mut(0).start_engine(Persistence::Ephemeral);
    let c = net.node_mut(1).start_engine(Persistence::Ephemeral);
    net.node_mut(0).register(a, "svc").unwrap();
    net.run();
    // No stream between the nodes: the table does not know the name.
    assert_eq!(net.node(1).whereis("svc"), None);
    // A record for the same name that a third party made up is ignored.
    let fake = NameRecord {
        name: "svc".into(),
        engine: EngineAddr([1; 32]),
        registered: Time(0),
        expires: Time(u64::MAX),
        sig: [0; 64],
    };
    net.store_record(key_for("svc"), fake.to_bytes().unwrap());
    net.node_mut(1).lookup_name("svc").unwrap();
    net.node_mut(1).lookup_name("nobody").unwrap();
    net.run();
    let found: Vec<Notice> = std::iter::from_fn(|| net.node_mut(1).poll_notice()).collect();
    assert_eq!(
        found,
        vec![
            Notice::NameFound {
                name: "svc".into(),
                owner: Some(a)
            },
            Notice::NameFound {
                name: "nobody".into(),
                owner: None
            },
        ]
    );
    // The owner is then reached by its address alone.
    let call = net.node_mut(1).call(c, a, b"hi".to_vec(), 1000).unwrap();
    net.run();
    let Some(Delivery::Call { reply, .. }) = net.node_mut(0).recv(a) else {
        panic!("call not delivered");
    };
    net.node_mut(0).reply(reply, b"ok".to_vec()).unwrap();
    net.run();
    let done: Vec<Notice> = std::iter::from_fn(|| net.node_mut(1).poll_notice()).collect();
    assert_eq!(
        done,
        vec![Notice::CallDone {
            call,
            caller: c,
            result: Ok::<_, CallError>(b"ok".to_vec())
        }]
    );
    // Now connected, the table knows the name too.
    assert_eq!(net.node(1).whereis("svc"), Some(a));
}
