//! Three nodes in one process over the in-memory host: an engine registers
//! a name, another finds it, calls it, and subscribes to its events.
//!
//! Run with `cargo run -p tessel-actors --example in_memory`.

use tessel_actors::memory::Network;
use tessel_actors::{Config, Delivery, Event, Filter, Notice, Persistence, Time};

fn main() {
    let mut net = Network::new(1, Time(1_700_000_000_000));
    let nodes: Vec<usize> = (0..3).map(|_| net.add_node(Config::default())).collect();
    net.connect(nodes[0], nodes[1]);
    net.run();

    let server = net.node_mut(nodes[0]).start_engine(Persistence::Ephemeral);
    net.node_mut(nodes[0])
        .register(server, "clock")
        .expect("name is free");
    let client = net.node_mut(nodes[2]).start_engine(Persistence::Ephemeral);
    net.run();

    // Node 2 has no stream yet: it finds the name in the record store.
    net.node_mut(nodes[2])
        .lookup_name("clock")
        .expect("valid name");
    net.run();
    let Some(Notice::NameFound {
        owner: Some(owner), ..
    }) = net.node_mut(nodes[2]).poll_notice()
    else {
        panic!("name not found");
    };
    println!("\"clock\" is {owner}");

    let call = net
        .node_mut(nodes[2])
        .call(client, owner, b"time?".to_vec(), 1_000)
        .expect("sent");
    net.node_mut(nodes[2])
        .subscribe(client, owner, Filter::topic("tick/").with("zone", "utc"))
        .expect("sent");
    net.run();
    while let Some(d) = net.node_mut(nodes[0]).recv(server) {
        if let Delivery::Call {
            from,
            reply,
            payload,
        } = d
        {
            println!(
                "server: {} asks {:?}",
                from,
                String::from_utf8_lossy(&payload)
            );
            net.node_mut(nodes[0])
                .reply(reply, b"noon".to_vec())
                .expect("local engine");
        }
    }
    for zone in ["utc", "cet"] {
        let event = Event {
            topic: "tick/second".into(),
            fields: [("zone".to_owned(), zone.to_owned())].into(),
            payload: zone.as_bytes().to_vec(),
        };
        net.node_mut(nodes[0])
            .publish(server, event)
            .expect("local engine");
    }
    net.run();
    while let Some(n) = net.node_mut(nodes[2]).poll_notice() {
        if let Notice::CallDone {
            call: c, result, ..
        } = n
        {
            assert_eq!(c, call);
            println!(
                "client: answer {:?}",
                result.map(|r| String::from_utf8_lossy(&r).into_owned())
            );
        }
    }
    while let Some(d) = net.node_mut(nodes[2]).recv(client) {
        if let Delivery::Event { event, .. } = d {
            println!("client: event {} {:?}", event.topic, event.fields);
        }
    }
    let sent = net.node(nodes[0]).stats();
    println!(
        "events sent {}, filtered out {}",
        sent.events_sent, sent.events_filtered
    );
}
