//! Handshake cost: Tessel's IKpsk2 handshake (MACs, payload, static-secret
//! cache) against snow's stock handshake of the same pattern between the
//! same keys, measured in the same run.
//!
//! ```text
//! cargo run --release -p tessel-overlay --example handshake_bench [-- SECONDS]
//! ```
//!
//! Prints, per complete handshake (initiation made and read, response made
//! and read): the time with a warm cache (the peers met before), with a cold
//! one (a new pair of nodes every time), in a managed network (warm, with
//! both certificates carried and checked), and snow's, with the ratios.

// A benchmark: it measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use tessel_overlay::identity::{MemberCert, NetworkKey, NodeKey, OwnerKey};
use tessel_overlay::session::handshake::{
    consume_initiation, consume_response, create_initiation, HandshakeKeys,
};
use tessel_overlay::wire::{handshake_init, handshake_resp, member_cert};

const PATTERN: &str = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

/// Runs `f` repeatedly for about `budget`; returns the time per call.
fn time_per_call(budget: Duration, mut f: impl FnMut(u64)) -> Duration {
    for i in 0..20 {
        f(i);
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..50 {
            f(n);
            n += 1;
        }
    }
    start.elapsed() / u32::try_from(n).unwrap_or(u32::MAX)
}

/// One complete Tessel handshake between `a` and `b`.
fn tessel_handshake(a: &mut HandshakeKeys, b: &mut HandshakeKeys, b_id: &NodeKey, i: u64) {
    let now = Instant::now();
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    let (state, init) = create_initiation(a, &b_id.id(), 1, i, seed).expect("initiation");
    let packet = handshake_init::Packet::new_checked(&init[..]).expect("initiation packet");
    seed[31] = 1;
    let initiation = consume_initiation(b, &packet, seed).expect("initiation verifies");
    let (_, resp) = initiation.create_response(b, 2, now).expect("response");
    let packet = handshake_resp::Packet::new_checked(&resp[..]).expect("response packet");
    consume_response(state, &packet, now).expect("response verifies");
}

/// One complete handshake in a managed network: the handshake carries both
/// certificates, and each side checks the other's as the node does.
fn managed_handshake(
    a: &mut HandshakeKeys,
    b: &mut HandshakeKeys,
    ids: (&NodeKey, &NodeKey),
    owner: &OwnerKey,
    network: &NetworkKey,
    i: u64,
) {
    let now = Instant::now();
    let check = |bytes: &[u8], node: &NodeKey| {
        let cert = member_cert::unpad(bytes).expect("certificate");
        MemberCert::parse(cert)
            .and_then(|c| c.verify(&owner.id(), &network.id(), &node.id(), 1))
            .expect("certificate verifies");
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    let (state, init) = create_initiation(a, &ids.1.id(), 1, i, seed).expect("initiation");
    let packet = handshake_init::Packet::new_checked(&init[..]).expect("initiation packet");
    seed[31] = 1;
    let initiation = consume_initiation(b, &packet, seed).expect("initiation verifies");
    check(&initiation.certificate, ids.0);
    let (_, resp) = initiation.create_response(b, 2, now).expect("response");
    let packet = handshake_resp::Packet::new_checked(&resp[..]).expect("response packet");
    let (_, cert) = consume_response(state, &packet, now).expect("response verifies");
    check(&cert, ids.1);
}

/// One complete handshake of snow's own, between the same kind of keys.
fn snow_handshake(a: &NodeKey, b: &NodeKey, psk: &[u8; 32]) {
    let params: snow::params::NoiseParams = PATTERN.parse().expect("pattern");
    let b_public = b.id().noise_public().expect("key");
    let mut ini = snow::Builder::new(params.clone())
        .local_private_key(&a.noise_private()[..])
        .and_then(|x| x.remote_public_key(&b_public))
        .and_then(|x| x.psk(2, psk))
        .and_then(|x| x.build_initiator())
        .expect("initiator");
    let mut res = snow::Builder::new(params)
        .local_private_key(&b.noise_private()[..])
        .and_then(|x| x.psk(2, psk))
        .and_then(|x| x.build_responder())
        .expect("responder");
    let (mut m, mut p) = ([0u8; 256], [0u8; 256]);
    let n = ini.write_message(&[0; 40], &mut m).expect("write");
    res.read_message(&m[..n], &mut p).expect("read");
    let n = res.write_message(&[], &mut m).expect("write");
    ini.read_message(&m[..n], &mut p).expect("read");
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let network = NetworkKey::from_secret([7; 32]);
    let (a, b) = (NodeKey::from_seed([1; 32]), NodeKey::from_seed([2; 32]));
    let (mut ka, mut kb) = (
        HandshakeKeys::new(&a, &network),
        HandshakeKeys::new(&b, &network),
    );

    let warm = time_per_call(budget, |i| tessel_handshake(&mut ka, &mut kb, &b, i));
    let pairs: Vec<(NodeKey, NodeKey)> = (0..4096u32)
        .map(|i| {
            let mut s = [0u8; 32];
            s[..4].copy_from_slice(&i.to_le_bytes());
            let x = NodeKey::from_seed(s);
            s[31] = 1;
            (x, NodeKey::from_seed(s))
        })
        .collect();
    let cold = time_per_call(budget, |i| {
        let (x, y) = &pairs[(i % 4096) as usize];
        let (mut kx, mut ky) = (
            HandshakeKeys::new(x, &network),
            HandshakeKeys::new(y, &network),
        );
        tessel_handshake(&mut kx, &mut ky, y, i);
    });
    let owner = OwnerKey::from_seed([3; 32]);
    let groups: Vec<String> = vec!["ops".into(), "db".into()];
    let (mut ma, mut mb) = (
        HandshakeKeys::new(&a, &network),
        HandshakeKeys::new(&b, &network),
    );
    for (k, node) in [(&mut ma, &a), (&mut mb, &b)] {
        let cert = MemberCert::sign(&owner, &network.id(), &node.id(), "web-1", 2, &groups)
            .expect("certificate");
        k.set_certificate(cert.as_bytes().to_vec());
    }
    let managed = time_per_call(budget, |i| {
        managed_handshake(&mut ma, &mut mb, (&a, &b), &owner, &network, i);
    });
    let psk = [9u8; 32];
    let stock = time_per_call(budget, |_| snow_handshake(&a, &b, &psk));

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("complete IKpsk2 handshake (both sides), µs:");
    println!("  snow's own (baseline)   {:8.1}", us(stock));
    println!(
        "  tessel, warm cache      {:8.1}   {:.2}× snow",
        us(warm),
        us(warm) / us(stock)
    );
    println!(
        "  tessel, cold (new pair) {:8.1}   {:.2}× snow",
        us(cold),
        us(cold) / us(stock)
    );
    println!(
        "  tessel, managed (warm)  {:8.1}   {:.2}× snow, {:.2}× warm",
        us(managed),
        us(managed) / us(stock),
        us(managed) / us(warm)
    );
}
