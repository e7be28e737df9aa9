//! Records through the embedded node's API (no root needed): one node
//! publishes a value under a key, another fetches it with its publisher,
//! and a value too long is refused.

use std::time::Duration;

use tessel_overlay::identity::NetworkKey;

mod common;

use common::{start, Scratch};

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

    let key = [0x42; 32];
    a.publish_record(key, b"hosted by A", Duration::from_secs(300))
        .await
        .expect("published");
    let fetched = tokio::time::timeout(Duration::from_secs(10), b.fetch_record(key))
        .await
        .expect("answered in time")
        .expect("the node answers");
    assert_eq!(fetched, vec![(a.node_id(), b"hosted by A".to_vec())]);
    let none = b.fetch_record([3; 32]).await.expect("the node answers");
    assert!(none.is_empty());
    assert!(a
        .publish_record(key, &[0; 1025], Duration::from_secs(1))
        .await
        .is_err());

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
