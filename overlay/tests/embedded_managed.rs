//! Managed mode through the embedded node's API (no root needed): two
//! members with the owner's certificates reach each other and see each
//! other's names; a node started with an expired certificate is refused at
//! start, and one without a certificate gets no session with a member.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessel_overlay::driver::embed::{EmbedOptions, EmbeddedNode};
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::{DriverError, Membership};
use tessel_overlay::identity::{MemberCert, NetworkKey, OwnerKey};

mod common;

use common::{start, Scratch};

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Options for a member in `dir` with a certificate from `owner` named
/// `name`, valid until `not_after`.
fn member(
    dir: &Scratch,
    key: &NetworkKey,
    owner: &OwnerKey,
    name: &str,
    not_after: u64,
    peers: Vec<std::net::SocketAddr>,
) -> EmbedOptions {
    let node = StateDir::open(&dir.0).unwrap().node_key().unwrap().id();
    let certificate = MemberCert::sign(
        owner,
        &key.id(),
        &node,
        name,
        not_after,
        &["ops".to_string()],
    )
    .unwrap();
    let mut opts = EmbedOptions::new(dir.0.clone(), key.clone(), peers);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.managed = Some(Membership {
        owner: owner.id(),
        certificate,
    });
    opts
}

#[tokio::test(flavor = "current_thread")]
async fn certified_members_connect_and_others_are_refused() {
    let key = NetworkKey::from_secret([23; 32]);
    let owner = OwnerKey::from_seed([24; 32]);
    let day = unix_now() + 86_400;
    let (da, db, dc, dd) = (
        Scratch::new("managed-a"),
        Scratch::new("managed-b"),
        Scratch::new("managed-c"),
        Scratch::new("managed-d"),
    );
    let a = EmbeddedNode::start(member(&da, &key, &owner, "alpha", day, vec![]))
        .await
        .expect("a certified member starts");
    let b = EmbeddedNode::start(member(
        &db,
        &key,
        &owner,
        "bravo",
        day,
        vec![a.listen_addr()],
    ))
    .await
    .expect("a certified member starts");
    let connected = async {
        loop {
            let s = b.status().await.unwrap();
            if let Some(p) = s.peers.iter().find(|p| p.connected) {
                return p.certificate.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let seen = tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .expect("B connects to A")
        .expect("A's certificate is shown");
    assert_eq!(seen.name, "alpha");
    assert_eq!(seen.groups, vec!["ops".to_string()]);
    assert!(a.status().await.unwrap().managed.is_some());

    // An expired certificate: refused at start, nothing runs.
    let expired = member(&dc, &key, &owner, "charlie", unix_now() - 60, vec![]);
    match EmbeddedNode::start(expired).await {
        Err(DriverError::Membership { .. }) => {}
        other => panic!("an expired certificate must be refused, got {other:?}"),
    }

    // No certificate: A refuses its handshakes and it gets no session.
    let d = start(&dd, &key, vec![a.listen_addr()]).await;
    let refused = async {
        while a
            .status()
            .await
            .unwrap()
            .drops
            .get("cert_missing")
            .copied()
            .unwrap_or(0)
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("A counts D's handshakes as missing a certificate");
    assert!(!d.status().await.unwrap().peers.iter().any(|p| p.connected));

    for n in [a, b, d] {
        n.shutdown().await.unwrap();
    }
}
