//! Records through the embedded node's API (no root needed): one node
//! publishes a signed record, another fetches it by key, and a forged
//! record is refused.

use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use tessel_overlay::driver::embed::{EmbedOptions, EmbeddedNode};
use tessel_overlay::identity::NetworkKey;
use tessel_overlay::wire::record::{emit_record, record_key, signed_part, signing_message};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tessel-records-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(dir: &Scratch, key: &NetworkKey, peers: Vec<std::net::SocketAddr>) -> EmbeddedNode {
    let mut opts = EmbedOptions::new(dir.0.clone(), key.clone(), peers);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    EmbeddedNode::start(opts).await.expect("the node starts")
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_published_on_one_node_is_fetched_on_another() {
    let key = NetworkKey::from_secret([17; 32]);
    let (da, db) = (Scratch::new("a"), Scratch::new("b"));
    let a = start(&da, &key, vec![]).await;
    let b = start(&db, &key, vec![a.listen_addr()]).await;
    let connected = async {
        while !b.status().await.unwrap().peers.iter().any(|p| p.connected) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .expect("B connects to A");

    let engine = SigningKey::from_bytes(&[5; 32]);
    let publisher = engine.verifying_key().to_bytes();
    let part = signed_part(&publisher, 1, 300, b"host", b"hosted by A").unwrap();
    let sig = engine.sign(&signing_message(&part)).to_bytes();
    let record = emit_record(part, &sig);
    let k = a.publish_record(&record).await.expect("published");
    assert_eq!(k, record_key(&publisher, b"host"));

    let fetched = tokio::time::timeout(Duration::from_secs(10), b.fetch_record(k))
        .await
        .expect("answered in time")
        .expect("the node answers");
    assert_eq!(fetched, Some(record.clone()));
    let none = b.fetch_record([3; 32]).await.expect("the node answers");
    assert_eq!(none, None);

    let mut forged = record;
    forged[50] ^= 1;
    assert!(a.publish_record(&forged).await.is_err());

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
