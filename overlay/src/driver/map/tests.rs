//! The map's server over real TCP on loopback, with a made-up source: the
//! Host and token checks (421, 403, the cookie), the page and its policy,
//! one snapshot, and the event stream (a snapshot at once, then a pushed
//! one when the source's answer changes). Plain HTTP/1.1 written by hand,
//! so that nothing between the test and the server fixes up a header.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::access::{Access, Token};
use super::events::{SnapshotReply, Source};
use super::http::{bind, serve, MapServer};
use super::snapshot::{MapSnapshot, Member};

/// A bound on every wait: the test fails rather than hangs.
const WAIT: Duration = Duration::from_secs(10);

const TOKEN: &str = "0101010101010101010101010101010101";

fn snapshot(members: usize) -> MapSnapshot {
    MapSnapshot {
        members: (0..members)
            .map(|i| Member {
                id: format!("tessel-node-{i}"),
                ..Member::default()
            })
            .collect(),
        ..MapSnapshot::default()
    }
}

/// A server on a free loopback port whose source answers with the number
/// of members `members` holds; with `token`, it asks for one (as off
/// loopback).
fn start(token: Option<Token>) -> (MapServer, SocketAddr, watch::Sender<usize>) {
    let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (members, current) = watch::channel(1usize);
    let (tx, mut rx) = mpsc::channel::<SnapshotReply>(4);
    tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(snapshot(*current.borrow()));
        }
    });
    let access = Access::with_token(addr, token);
    let server = serve(listener, access, Source(tx), Duration::from_millis(50)).unwrap();
    (server, addr, members)
}

/// One request; the status line's code, the headers (lower-case names)
/// and the body.
async fn request(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut text = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_ascii_lowercase(), body.to_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn loopback_serves_the_page_for_its_own_host_only() {
    runtime().block_on(async {
        let (_server, addr, _) = start(None);
        let host = addr.to_string();
        let (code, head, body) = request(addr, "/", &[("Host", &host)]).await;
        assert_eq!(code, 200, "{head}");
        assert!(head.contains("content-type: text/html"), "{head}");
        assert!(head.contains("content-security-policy: default-src 'none'"));
        assert!(head.contains("x-frame-options: deny"));
        assert!(!head.contains("set-cookie"), "no token, no cookie");
        assert!(body.contains("<svg id=\"map\""));
        let localhost = format!("localhost:{}", addr.port());
        assert_eq!(request(addr, "/", &[("Host", &localhost)]).await.0, 200);
        // DNS rebinding: a name of someone else's pointing here.
        let rebound = format!("attacker.example:{}", addr.port());
        let (code, _, body) = request(addr, "/", &[("Host", &rebound)]).await;
        assert_eq!(code, 421, "{body}");
        assert_eq!(request(addr, "/", &[]).await.0, 421, "no Host header");
        assert_eq!(request(addr, "/nothing", &[("Host", &host)]).await.0, 404);
        let (code, head, body) = request(addr, "/snapshot.json", &[("Host", &host)]).await;
        assert_eq!(code, 200);
        assert!(head.contains("application/json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["members"].as_array().unwrap().len(), 1);
    });
}

#[test]
fn off_loopback_every_request_needs_the_token() {
    runtime().block_on(async {
        let token = Token::from_bytes(&[1; 17]);
        assert_eq!(token.as_str(), TOKEN);
        let (_server, addr, _) = start(Some(token));
        let host = addr.to_string();
        let h = [("Host", host.as_str())];
        assert_eq!(request(addr, "/", &h).await.0, 403);
        assert_eq!(request(addr, "/events", &h).await.0, 403);
        assert_eq!(request(addr, "/snapshot.json", &h).await.0, 403);
        assert_eq!(request(addr, "/?token=01", &h).await.0, 403);
        let (code, head, _) = request(addr, &format!("/?token={TOKEN}"), &h).await;
        assert_eq!(code, 200);
        let cookie = format!("tessel_map_{}={TOKEN}", addr.port());
        assert!(
            head.contains(&format!(
                "set-cookie: {cookie}; path=/; httponly; samesite=strict"
            )),
            "{head}"
        );
        let with_cookie = [("Host", host.as_str()), ("Cookie", cookie.as_str())];
        assert_eq!(request(addr, "/snapshot.json", &with_cookie).await.0, 200);
        // The right token with the wrong host is still refused.
        let rebound = format!("attacker.example:{}", addr.port());
        let (code, _, _) = request(addr, &format!("/?token={TOKEN}"), &[("Host", &rebound)]).await;
        assert_eq!(code, 421);
    });
}

/// Reads event blocks from an event stream until one named `name`; its data.
async fn next_event(lines: &mut tokio::io::Lines<BufReader<TcpStream>>, name: &str) -> String {
    let mut current = String::new();
    loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream stays open");
        if let Some(e) = line.strip_prefix("event: ") {
            current = e.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if current == name {
                return data.to_owned();
            }
        }
    }
}

#[test]
fn the_event_stream_pushes_a_snapshot_when_it_changes() {
    runtime().block_on(async {
        let (server, addr, members) = start(None);
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut lines = BufReader::new(s).lines();
        let status = lines.next_line().await.unwrap().unwrap();
        assert!(status.contains(" 200 "), "{status}");
        let mut head = Vec::new();
        loop {
            let l = lines.next_line().await.unwrap().unwrap();
            if l.is_empty() {
                break;
            }
            head.push(l.to_ascii_lowercase());
        }
        assert!(
            head.iter().any(|h| h == "content-type: text/event-stream"),
            "{head:?}"
        );
        let first: MapSnapshot =
            serde_json::from_str(&next_event(&mut lines, "snapshot").await).unwrap();
        assert_eq!(first.members.len(), 1);
        assert_eq!(server.viewers(), 1);
        members.send_replace(3);
        let pushed: MapSnapshot =
            serde_json::from_str(&next_event(&mut lines, "snapshot").await).unwrap();
        assert_eq!(pushed.members.len(), 3, "the change is pushed");
        drop(lines);
        // The stream's end is noticed when the next event cannot be written.
        members.send_replace(4);
        crate::driver::map::tests::wait_for(|| server.viewers() == 0).await;
    });
}

/// Polls `done` every 10 ms for at most [`WAIT`].
pub(super) async fn wait_for(mut done: impl FnMut() -> bool) {
    tokio::time::timeout(WAIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("in time");
}
