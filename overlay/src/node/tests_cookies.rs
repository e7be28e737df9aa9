//! Cookies in virtual time: a node under load answers initiations without a
//! valid cookie with a small cookie reply instead of a Diffie-Hellman; the
//! retry with the cookie's `mac2` completes; a cookie is good only from the
//! source it was given to; nothing changes without load; and the replies
//! themselves are bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::super::{cookies, initiation_limit, DropReason};
use super::{ping, two_nodes, Net, Pressure};
use crate::identity::{NetworkKey, NodeId, NodeKey};
use crate::session::handshake::{create_initiation, HandshakeKeys};
use crate::wire::mac::MacKey;
use crate::wire::{self, cookie_reply, handshake_init, handshake_resp};

/// An initiation to `target` with a valid MAC but Noise bytes of nothing:
/// what a member flooding costs to make (its Diffie-Hellman fails).
fn junk_initiation(target: &NodeId, i: u32) -> [u8; handshake_init::LEN] {
    let mut msg = [0u8; handshake_init::LEN];
    handshake_init::emit_header(&mut msg, i).fill(0x5a);
    msg[8..12].copy_from_slice(&i.to_le_bytes());
    let network = NetworkKey::from_secret([9; 32]);
    MacKey::for_recipient(&network.mac_key(), target.as_bytes()).seal(&mut msg);
    msg
}

fn flooder(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + i)), 4000)
}

/// Puts node 0 under load: junk initiations until the load bucket is spent.
fn load(net: &mut Net, from: u32) {
    let target = net.node(0).id();
    for i in 0..initiation_limit::LOAD {
        let msg = junk_initiation(&target, from + i);
        net.deliver(flooder(0), net.nodes[0].0, &msg);
    }
}

/// The datagrams node 0 sent to `to` since log entry `since`.
fn sent_to(net: &Net, since: usize, to: SocketAddr) -> Vec<Vec<u8>> {
    net.log[since..]
        .iter()
        .filter(|(f, t, _)| *f == net.nodes[0].0 && *t == to)
        .map(|(_, _, b)| b.clone())
        .collect()
}

#[test]
fn under_load_an_initiation_needs_a_cookie_from_its_own_source() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(1, 0));
    let target = net.node(0).id();
    load(&mut net, 1_000_000);

    // A member the node never met initiates from `here`.
    let network = NetworkKey::from_secret([9; 32]);
    let mut keys = HandshakeKeys::new(&NodeKey::from_seed([0x77; 32]), &network);
    let here: SocketAddr = "203.0.113.50:5000".parse().unwrap();
    let (_, init) = create_initiation(&mut keys, &target, 1, 1, [3; 32]).unwrap();
    let computed = net.node(0).handshake_stats().initiations_computed;
    let mark = net.log.len();
    net.deliver(here, net.nodes[0].0, &init);
    // A cookie reply, smaller than the initiation, and no Diffie-Hellman.
    let replies = sent_to(&net, mark, here);
    assert_eq!(replies.len(), 1, "{replies:?}");
    let reply = cookie_reply::Packet::new_checked(&replies[0][..]).expect("a cookie reply");
    assert!(replies[0].len() <= init.len());
    assert_eq!(net.node(0).handshake_stats().initiations_computed, computed);
    assert_eq!(net.node(0).drops().get(DropReason::CookieRequired), 1);
    assert_eq!(reply.receiver_index(), 1);
    let mac1 = handshake_init::Packet::new_checked(&init[..])
        .unwrap()
        .mac1();
    let cookie = reply.open(&keys.cookie_key(&target), &mac1).expect("opens");
    // Only the initiation it answers opens it.
    assert!(reply.open(&keys.cookie_key(&target), &[0; 16]).is_none());

    // The retry, a new initiation with the cookie's mac2, from another
    // port: refused (a cookie is bound to its source), with a new cookie.
    let (_, retry) = create_initiation(&mut keys, &target, 2, 2, [4; 32]).unwrap();
    let retry = handshake_init::with_mac2(&retry, &cookie);
    let elsewhere: SocketAddr = "203.0.113.50:5001".parse().unwrap();
    let mark = net.log.len();
    net.deliver(elsewhere, net.nodes[0].0, &retry);
    assert_eq!(net.node(0).handshake_stats().initiations_computed, computed);
    assert_eq!(net.node(0).drops().get(DropReason::CookieRequired), 2);
    assert_eq!(sent_to(&net, mark, elsewhere).len(), 1);

    // The same retry made again from the source the cookie was given to
    // gets its Diffie-Hellman and a response.
    let (_, retry) = create_initiation(&mut keys, &target, 3, 3, [5; 32]).unwrap();
    let retry = handshake_init::with_mac2(&retry, &cookie);
    let mark = net.log.len();
    net.deliver(here, net.nodes[0].0, &retry);
    assert_eq!(
        net.node(0).handshake_stats().initiations_computed,
        computed + 1
    );
    let answers = sent_to(&net, mark, here);
    assert!(
        answers
            .iter()
            .any(|b| handshake_resp::Packet::new_checked(&b[..]).is_ok()),
        "{answers:?}"
    );
    // A replay of it is a replay, cookie or not.
    net.deliver(here, net.nodes[0].0, &retry);
    assert_eq!(
        net.node(0).handshake_stats().initiations_computed,
        computed + 1
    );
    // The established member never noticed.
    assert!(ping(&mut net, 1, 0, b"still here"));
}

#[test]
fn a_member_completes_its_handshake_with_a_node_under_load() {
    let mut net = two_nodes();
    let target = net.node(0).id();
    // Under load before the member's first initiation arrives, and kept
    // under load by a flood from one address before every datagram.
    load(&mut net, 1_000_000);
    let mut i = 0u32;
    net.pressure = Some(Pressure {
        node: 0,
        from: flooder(1),
        make: Box::new(move || {
            i += 1;
            junk_initiation(&target, i).to_vec()
        }),
    });
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(1, 0));
    let (n0, n1) = (net.node(0).handshake_stats(), net.node(1).handshake_stats());
    assert!(n0.cookie_replies_sent >= 1, "{n0:?}");
    assert!(n1.cookies_taken >= 1, "{n1:?}");
    // The flood got no more Diffie-Hellmans than the load threshold and
    // its source's rate allow (and the member's handshake one).
    let secs = 3; // two, and one of slack
    let bound = (initiation_limit::LOAD + initiation_limit::RATE) * secs
        + initiation_limit::LOAD
        + initiation_limit::BURST
        + 1;
    assert!(n0.initiations_computed <= u64::from(bound), "{n0:?}");
    assert!(ping(&mut net, 1, 0, b"still here"));
}

#[test]
fn no_cookie_replies_without_load() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    assert!(net.connected(1, 0));
    let target = net.node(0).id();
    // Fewer initiations than the load threshold, spread over a second.
    for i in 0..initiation_limit::LOAD / 2 {
        let msg = junk_initiation(&target, i);
        net.deliver(flooder(i), net.nodes[0].0, &msg);
        net.now += Duration::from_millis(10);
    }
    let s = net.node(0).handshake_stats();
    assert_eq!(s.cookie_replies_sent, 0, "{s:?}");
    assert_eq!(net.node(0).drops().get(DropReason::CookieRequired), 0);
    assert!(s.initiations_computed >= u64::from(initiation_limit::LOAD / 2));
    assert_eq!(net.node(1).handshake_stats().cookies_taken, 0);
}

#[test]
fn cookie_replies_are_bounded() {
    let mut net = two_nodes();
    net.run_for(Duration::from_secs(2));
    let target = net.node(0).id();
    load(&mut net, 1_000_000);
    // Many sources (spoofed addresses) at once: each would get its burst,
    // but the replies all together stay within their own bound.
    let n = 3 * cookies::REPLIES_PER_SEC;
    let mark = net.log.len();
    for i in 0..n {
        let msg = junk_initiation(&target, i);
        net.deliver(flooder(10 + i), net.nodes[0].0, &msg);
    }
    let s = net.node(0).handshake_stats();
    let replies = net.log[mark..]
        .iter()
        .filter(|(f, _, b)| *f == net.nodes[0].0 && b[0] == wire::MessageType::CookieReply as u8)
        .count();
    assert_eq!(replies as u64, s.cookie_replies_sent);
    assert!(
        s.cookie_replies_sent <= u64::from(cookies::REPLIES_PER_SEC),
        "{s:?}"
    );
    assert!(s.cookie_replies_limited > 0, "{s:?}");
    // A second later the bound has room again.
    net.now += Duration::from_secs(1);
    load(&mut net, 2_000_000);
    let msg = junk_initiation(&target, 3_000_000);
    net.deliver(flooder(5), net.nodes[0].0, &msg);
    assert_eq!(
        net.node(0).handshake_stats().cookie_replies_sent,
        s.cookie_replies_sent + 1
    );
}
