//! The resolver against a small in-process DNS server on loopback (the
//! namespace test in `tests/netns/tests/scope_bootstrap.rs` uses dnsmasq).

use std::collections::HashMap;
use std::net::SocketAddr;

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

use super::*;
use crate::identity::NodeKey;

/// TXT records by name, each a list of character-strings.
type Zone = HashMap<&'static str, Vec<Vec<Vec<u8>>>>;

/// Answers TXT queries from `zone` until the test ends: NXDOMAIN for a
/// name it does not hold.
async fn serve(zone: Zone) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            let query = Message::from_vec(&buf[..n]).unwrap();
            let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
            answer.metadata.recursion_desired = query.metadata.recursion_desired;
            answer.metadata.recursion_available = true;
            let q = query.queries[0].clone();
            let asked = q.name().to_ascii();
            answer.add_query(q.clone());
            match zone.get(asked.trim_end_matches('.')) {
                None => answer.metadata.response_code = ResponseCode::NXDomain,
                Some(records) if q.query_type() == RecordType::TXT => {
                    for strings in records {
                        let strings: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
                        let rdata = RData::TXT(TXT::from_bytes(strings));
                        answer.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                    }
                }
                Some(_) => {}
            }
            socket
                .send_to(&answer.to_vec().unwrap(), from)
                .await
                .unwrap();
        }
    });
    addr
}

fn node(seed: u8) -> NodeId {
    NodeKey::from_seed([seed; 32]).id()
}

fn record(id: &NodeId) -> Vec<Vec<u8>> {
    vec![bootstrap::write(id).into_bytes()]
}

#[tokio::test]
async fn the_roots_named_at_the_name_come_back_in_order_without_the_rest() {
    let (a, b) = (node(1), node(2));
    let text = bootstrap::write(&b).into_bytes();
    let (head, tail) = text.split_at(30);
    let zone = Zone::from([
        (
            "_tessel-root.example.org",
            vec![
                record(&a),
                b"v=spf1 -all"
                    .to_vec()
                    .into_iter()
                    .map(|c| vec![c])
                    .collect(),
                vec![b"tessel-root=tessel-node-nonsense".to_vec()],
                vec![head.to_vec(), tail.to_vec()],
                record(&a),
            ],
        ),
        ("other.example.org", vec![vec![b"v=spf1 -all".to_vec()]]),
        ("empty.example.org", vec![]),
    ]);
    let server = serve(zone).await;

    let roots = resolve_bootstrap("_tessel-root.example.org", Some(server))
        .await
        .unwrap();
    assert_eq!(roots, vec![a, b]);
    // An absolute name is the same name.
    let roots = resolve_bootstrap("_tessel-root.example.org.", Some(server))
        .await
        .unwrap();
    assert_eq!(roots, vec![a, b]);

    match resolve_bootstrap("other.example.org", Some(server)).await {
        Err(BootstrapError::NoRoots {
            count: 1, rejected, ..
        }) => assert!(rejected.is_empty()),
        other => panic!("another service's record was taken: {other:?}"),
    }
    assert!(matches!(
        resolve_bootstrap("nowhere.example.org", Some(server)).await,
        Err(BootstrapError::NoSuchName { .. })
    ));
    assert!(matches!(
        resolve_bootstrap("empty.example.org", Some(server)).await,
        Err(BootstrapError::NoRecords { .. })
    ));
    for bad in ["", "a..b", "exa mple.org"] {
        assert!(
            matches!(
                resolve_bootstrap(bad, Some(server)).await,
                Err(BootstrapError::BadName { .. })
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn malformed_records_alone_are_an_error_that_says_why() {
    let zone = Zone::from([(
        "_tessel-root.example.org",
        vec![vec![b"tessel-root= tessel-node-x".to_vec()]],
    )]);
    let server = serve(zone).await;
    let e = resolve_bootstrap("_tessel-root.example.org", Some(server))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BootstrapError::NoRoots { count: 1, rejected, .. } if rejected.len() == 1),
        "{e:?}"
    );
    assert!(e.to_string().contains("one of them"), "{e}");
}

#[test]
fn the_last_good_answer_is_kept_for_its_name() {
    let dir = std::env::temp_dir().join(format!("tessel-bootstrap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = StateDir::open(&dir).unwrap();
    assert!(remembered(&state, "_tessel-root.example.org").is_empty());
    let roots = vec![node(3), node(4)];
    remember(&state, "_tessel-root.example.org", &roots).unwrap();
    assert_eq!(remembered(&state, "_tessel-root.example.org"), roots);
    assert!(remembered(&state, "_tessel-root.example.net").is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_are_taken_as_absolute() {
    let n = absolute("_tessel-root.example.org").unwrap();
    assert!(n.is_fqdn());
    assert_eq!(n, Name::from_ascii("_tessel-root.example.org.").unwrap());
}
