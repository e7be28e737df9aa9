//! Forged, altered and replayed frames are dropped and counted.

use tessel_actors::memory::{Network, Sent};
use tessel_actors::wire::frame::{Deframer, FrameType};
use tessel_actors::wire::learn::Learn;
use tessel_actors::{Config, Delivery, EngineAddr, Persistence, Time};

/// Whole frames (header included) of the given type written from `from` to `to`.
fn frames(log: &[Sent], from: usize, to: usize, ty: FrameType) -> Vec<Vec<u8>> {
    let mut d = Deframer::new(1 << 20);
    for s in log.iter().filter(|s| s.from == from && s.to == to) {
        d.push(&s.bytes);
    }
    let mut out = Vec::new();
    while let Some(raw) = d.next_frame().unwrap() {
        if raw.ty == ty as u8 {
            let mut f = ((raw.body.len() + 1) as u32).to_le_bytes().to_vec();
            f.push(raw.ty);
            f.extend_from_slice(&raw.body);
            out.push(f);
        }
    }
    out
}

struct Setup {
    net: Network,
    a: EngineAddr,
    b: EngineAddr,
    message: Vec<u8>,
}

fn setup() -> Setup {
    let mut net = Network::new(3, Time(1_000_000));
    for _ in 0..3 {
        net.add_node(Config::default());
    }
    for (x, y) in [(0, 1), (0, 2), (1, 2)] {
        net.connect(x, y);
    }
    net.run();
    let a = net.node_mut(0).start_engine(Persistence::Ephemeral);
    let b = net.node_mut(1).start_engine(Persistence::Ephemeral);
    net.run();
    net.set_logging(true);
    net.node_mut(0).cast(a, b, b"pay 10".to_vec()).unwrap();
    net.run();
    let log = net.take_log();
    let mut msgs = frames(&log, 0, 1, FrameType::Message);
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        net.node_mut(1).recv(b),
        Some(Delivery::Cast {
            from: a,
            payload: b"pay 10".to_vec()
        })
    );
    Setup {
        net,
        a,
        b,
        message: msgs.remove(0),
    }
}

#[test]
fn replayed_message_is_dropped() {
    let Setup {
        mut net,
        b,
        message,
        ..
    } = setup();
    assert!(net.inject(0, 1, message));
    net.run();
    assert_eq!(net.node(1).stats().replayed, 1);
    assert_eq!(net.node_mut(1).recv(b), None);
}

#[test]
fn altered_message_is_dropped() {
    let Setup {
        mut net,
        b,
        mut message,
        ..
    } = setup();
    // The last payload byte: "pay 10" becomes "pay 11".
    let at = message.len() - 33;
    message[at] ^= 1;
    assert!(net.inject(0, 1, message));
    net.run();
    assert_eq!(net.node(1).stats().bad_mac, 1);
    assert_eq!(net.node_mut(1).recv(b), None);
}

#[test]
fn forged_message_from_another_member_is_dropped() {
    let Setup {
        mut net,
        a,
        b,
        message,
    } = setup();
    // Member 2 sends a's message as its own: a is not hosted by node 2.
    assert!(net.inject(2, 1, message));
    net.run();
    assert_eq!(net.node(1).stats().forged, 1);
    assert_eq!(net.node_mut(1).recv(b), None);
    // Nor can member 2 claim to host a: the learn record needs a's key.
    net.set_logging(true);
    let c = net.node_mut(0).start_engine(Persistence::Ephemeral);
    net.run();
    let log = net.take_log();
    let learn = &frames(&log, 0, 1, FrameType::Learn)[0];
    let mut l = Learn::parse(&learn[5..]).unwrap();
    assert_eq!(l.engine, c);
    l.node = net.id(2);
    let mut forged = ((l.encoded_len() + 1) as u32).to_le_bytes().to_vec();
    forged.push(FrameType::Learn as u8);
    l.write(&mut forged);
    assert!(net.inject(2, 1, forged));
    net.run();
    assert_eq!(net.node(1).stats().forged, 2);
    let hosts: Vec<_> = net
        .node(1)
        .foreign_engines()
        .filter(|(e, _, _)| *e == c)
        .collect();
    assert_eq!(hosts, vec![(c, net.id(0), true)]);
    let _ = a;
}

#[test]
fn garbage_closes_the_stream_without_panicking() {
    let Setup { mut net, .. } = setup();
    assert!(net.inject(2, 1, vec![0xff; 64]));
    net.run();
    assert_eq!(net.node(1).stats().malformed, 1);
    // A well-framed frame of unknown type is dropped and the stream stays.
    assert!(net.inject(0, 1, vec![1, 0, 0, 0, 0x7f]));
    net.run();
    assert_eq!(net.node(1).stats().malformed, 2);
    assert!(net.node(1).connected_peers().any(|p| p == net.id(0)));
}
