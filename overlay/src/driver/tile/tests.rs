//! The host in-process, without neighbours: the tile socket's permissions
//! and framing, refusals, and the control requests.

use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tessel_tile_link::channel::{Frame, Refusal};
use tessel_tile_link::file::{signed, FileName};
use tessel_tile_link::Dir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::*;
use crate::driver::control::api::answer_line;
use crate::driver::control::{Replier, Request};
use crate::identity::{NetworkKey, NodeKey};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The answer line to `request`, as a client reads it.
async fn ask(host: &TileHost, request: Request) -> serde_json::Value {
    let (reply, answer) = Replier::new();
    host.request(Call { request, reply });
    let line = answer_line(None, &answer.await.unwrap());
    serde_json::from_str(&line).unwrap()
}

fn publish(path: &std::path::Path) -> Request {
    Request::TilePublish {
        path: path.display().to_string(),
    }
}

async fn next_frame(s: &mut UnixStream, buf: &mut Vec<u8>) -> Vec<u8> {
    loop {
        if let Some((_, len)) = Frame::decode(buf).unwrap() {
            return buf.drain(..len).collect();
        }
        let mut chunk = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("a frame in time")
            .unwrap();
        assert!(n > 0, "the daemon closed the socket");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn socket_and_requests_of_a_tile_without_neighbours() {
    let dir =
        Scratch(std::env::temp_dir().join(format!("tessel-tile-host-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let signer = SigningKey::from_bytes(&[5; 32]);
    let opts = TileOptions {
        neighbours: Vec::new(),
        files: dir.0.join("files"),
        trusted: vec![signer.verifying_key()],
        run: None,
        advert_interval: Duration::from_secs(1),
    };
    let ctx = HostContext {
        node: NodeKey::from_seed([1; 32]).id(),
        ipv6: Ipv6Addr::LOCALHOST,
        prefix: NetworkPrefix::of(&NetworkKey::from_secret([2; 32]).id()),
    };
    let runtime = RuntimeDir::open(&dir.0.join("run"), &Default::default()).unwrap();
    let host = start(opts, ctx, &runtime).unwrap();
    let path = socket_path(runtime.path());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);

    // One MFM channel per tile; a packet toward an absent neighbour is
    // refused, not dropped.
    let mut mfm = UnixStream::connect(&path).await.unwrap();
    let mut other = UnixStream::connect(&path).await.unwrap();
    let (mut b1, mut b2) = (Vec::new(), Vec::new());
    mfm.write_all(&Frame::OpenMfm.to_vec().unwrap())
        .await
        .unwrap();
    let status = loop {
        let s = ask(&host, Request::TileStatus).await;
        if s["mfm_open"] == true {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(status["clients"], 2);
    assert_eq!(status["directions"], serde_json::json!([]));
    other
        .write_all(&Frame::OpenMfm.to_vec().unwrap())
        .await
        .unwrap();
    let f = next_frame(&mut other, &mut b2).await;
    assert_eq!(
        Frame::decode(&f).unwrap().unwrap().0,
        Frame::Refused {
            reason: Refusal::Taken,
            dir: Dir::North
        }
    );
    let send = Frame::Packet {
        dir: Dir::East,
        packet: &[0xa2, 1],
    };
    mfm.write_all(&send.to_vec().unwrap()).await.unwrap();
    let f = next_frame(&mut mfm, &mut b1).await;
    assert_eq!(
        Frame::decode(&f).unwrap().unwrap().0,
        Frame::Refused {
            reason: Refusal::Absent,
            dir: Dir::East
        }
    );

    // Publishing through the control request: verified, then live.
    let name = FileName::new("physics.mfz").unwrap();
    let file = signed::sign(&signer, &name, 1_000, b"content");
    let file_path = dir.0.join("physics.mfz.tsf");
    std::fs::write(&file_path, &file).unwrap();
    let r = ask(&host, publish(&file_path)).await;
    assert_eq!(r["size"], file.len(), "{r}");
    assert_eq!(
        std::fs::read(dir.0.join("files/live/physics.mfz")).unwrap(),
        file
    );
    let files = ask(&host, Request::TileFiles).await;
    assert_eq!(files["files"][0]["name"], "physics.mfz");
    assert_eq!(files["files"][0]["timestamp"], 1_000);
    let again = ask(&host, publish(&file_path)).await;
    assert_eq!(again["ok"], false, "{again}");
    assert_eq!(again["error"]["code"], "failed", "{again}");
    let bad = Request::TileAnnounce {
        announcement: "zz".into(),
    };
    let bad = ask(&host, bad).await;
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");

    // Stopping the host removes the socket.
    drop(host);
    for _ in 0..100 {
        if !path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!path.exists(), "the tile socket outlived its host");
}
