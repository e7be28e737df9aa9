//! Engines between two embedded nodes (no root, no TUN): their streams run
//! on the userspace stack's TCP sockets. An engine on A registers a name
//! and answers calls; an engine on B calls it by name through B's
//! `engines.sock`.

use std::time::Duration;

use serde_json::{json, Value};
use tessel_overlay::driver::embed::EmbeddedNode;
use tessel_overlay::driver::engines::socket_path;
use tessel_overlay::identity::NetworkKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

mod common;

use common::{start, Scratch};

async fn write(s: &mut UnixStream, v: &Value) {
    let body = serde_json::to_vec(v).unwrap();
    s.write_all(&(body.len() as u32).to_be_bytes())
        .await
        .unwrap();
    s.write_all(&body).await.unwrap();
}

async fn read(s: &mut UnixStream) -> Value {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// Sends a request and returns its answer (skipping pushed frames).
async fn ask(s: &mut UnixStream, id: u64, mut v: Value) -> Value {
    v["id"] = json!(id);
    write(s, &v).await;
    loop {
        let a = read(s).await;
        if a["id"] == json!(id) && a.get("event").is_none() {
            return a;
        }
    }
}

async fn connect(node: &EmbeddedNode) -> UnixStream {
    UnixStream::connect(socket_path(node.runtime_dir()))
        .await
        .expect("engines.sock")
}

#[tokio::test(flavor = "current_thread")]
async fn an_engine_on_one_embedded_node_calls_one_on_another_by_name() {
    let key = NetworkKey::from_secret([23; 32]);
    let (da, db) = (Scratch::new("a"), Scratch::new("b"));
    let a = start(&da, &key, vec![]).await;
    let b = start(&db, &key, vec![a.listen_addr()]).await;

    let mut echo = connect(&a).await;
    let started = ask(&mut echo, 1, json!({ "op": "start", "name": "echo-a" })).await;
    assert_eq!(started["ok"], true, "{started}");
    let echo_addr = started["engine"].as_str().unwrap().to_owned();
    tokio::spawn(async move {
        loop {
            let m = read(&mut echo).await;
            if m["event"] == "call" {
                let reply = json!({ "op": "reply", "reply_to": m["reply_to"], "data": m["data"] });
                write(&mut echo, &reply).await;
            }
        }
    });

    let mut caller = connect(&b).await;
    let me = ask(&mut caller, 1, json!({ "op": "start" })).await;
    let me = me["engine"].as_str().unwrap().to_owned();
    // "aGVsbG8=" is "hello" in base64.
    let call = json!({ "op": "call", "engine": me, "to": "echo-a", "data": "aGVsbG8=", "timeout_ms": 2000 });
    let answered = async {
        let mut id = 10;
        loop {
            id += 1;
            let a = ask(&mut caller, id, call.clone()).await;
            if a["ok"] == true {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(20), answered)
        .await
        .expect("B's engine reaches echo-a by name");
    assert_eq!(answer["data"], "aGVsbG8=");
    let list = ask(&mut caller, 99, json!({ "op": "list" })).await;
    let foreign = list["foreign"].as_array().unwrap();
    assert!(
        foreign.iter().any(|e| e["engine"] == echo_addr.as_str()),
        "{list}"
    );

    drop(caller);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
