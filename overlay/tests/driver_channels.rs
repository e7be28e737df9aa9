//! The daemon's tokio shell without a TUN device (no root needed): two nodes
//! on loopback UDP whose IP packets travel through channel devices, the
//! control socket answering `status`, settings changed while a node runs
//! (a config reload) and the public addresses it reports.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tessel_overlay::driver::control::answers::StatusAnswer;
use tessel_overlay::driver::settings::RuntimeSettings;
use tessel_overlay::driver::{self, control, ChannelDevice, DeviceSpec, RunOptions};
use tessel_overlay::identity::NetworkKey;
use tessel_overlay::node::Status;
use tokio::sync::{mpsc, oneshot, watch};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tessel-driver-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running node: its host-side packet channels, addresses and stop switch.
struct Running {
    to_node: mpsc::Sender<Vec<u8>>,
    from_node: mpsc::Receiver<Vec<u8>>,
    ipv6: Ipv6Addr,
    udp: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), driver::DriverError>>,
}

async fn start(dir: &Scratch, key: &NetworkKey, peers: Vec<SocketAddr>) -> Running {
    start_with(dir, key, peers, None, None).await
}

/// Like [`start`], with a channel of new settings and a watch of the
/// node's public addresses.
async fn start_with(
    dir: &Scratch,
    key: &NetworkKey,
    peers: Vec<SocketAddr>,
    settings: Option<mpsc::Receiver<RuntimeSettings>>,
    public_addresses: Option<watch::Sender<Vec<SocketAddr>>>,
) -> Running {
    let (to_node, from_host) = mpsc::channel(64);
    let (to_host, from_node) = mpsc::channel(64);
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let opts = RunOptions {
        state_dir: dir.0.clone(),
        runtime_dir: dir.0.join("run"),
        socket_group: Default::default(),
        network_key: key.clone(),
        ipv4_range: Default::default(),
        listen: "127.0.0.1:0".parse().unwrap(),
        peers,
        stun_servers: Vec::new(),
        settings,
        public_addresses,
        device: DeviceSpec::Channel(ChannelDevice::new(from_host, to_host)),
        lan_discovery: false,
        port_mapping: tessel_overlay::driver::portmap::PortMapping::Off,
        tcp: true,
        relay: true,
        tile: None,
        engine_stack: None,
        scopes: Default::default(),
        managed: None,
        name: None,
        dns: None,
        metrics: None,
        map: None,
    };
    let task = tokio::spawn(driver::run(
        opts,
        move |node, bound| {
            let _ = ready_tx.send((node.ipv6(), bound));
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let (ipv6, udp) = tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("node starts")
        .expect("ready is called");
    Running {
        to_node,
        from_node,
        ipv6,
        udp,
        stop,
        task,
    }
}

fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = 59;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// The node's status through the control API.
fn status(path: &std::path::Path) -> Result<Status, control::client::CallError> {
    let answer: StatusAnswer = control::client::call_as(path, &control::Request::Status)?;
    Ok(answer.node)
}

#[tokio::test(flavor = "current_thread")]
async fn two_daemons_exchange_packets_over_loopback_udp() {
    let key = NetworkKey::from_secret([42; 32]);
    let (da, db) = (Scratch::new("a"), Scratch::new("b"));
    let mut a = start(&da, &key, vec![]).await;
    let mut b = start(&db, &key, vec![a.udp]).await;

    // Wait, through B's control socket, until B has a session with A.
    let b_sock = db.0.join("run").join("tessel.sock");
    let connected = async {
        loop {
            let path = b_sock.clone();
            let answer = tokio::task::spawn_blocking(move || status(&path))
                .await
                .unwrap();
            if let Ok(status) = answer {
                if status.peers.iter().any(|p| p.connected) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .expect("B connects to A");

    let pkt = ipv6_packet(b.ipv6, a.ipv6, b"through the shell");
    b.to_node.send(pkt.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), a.from_node.recv()).await;
    assert_eq!(got.expect("delivered in time"), Some(pkt));
    let back = ipv6_packet(a.ipv6, b.ipv6, b"and back");
    a.to_node.send(back.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), b.from_node.recv()).await;
    assert_eq!(got.expect("delivered in time"), Some(back));

    // The control socket answers with a status that lists the peer.
    let path = da.0.join("run").join("tessel.sock");
    let status = tokio::task::spawn_blocking(move || status(&path))
        .await
        .unwrap()
        .expect("the control socket answers");
    assert_eq!(status.listen, a.udp.to_string());
    assert_eq!(status.peers.len(), 1);
    assert!(status.peers[0].connected);

    // Stopping returns Ok and removes the control socket.
    for n in [a, b] {
        n.stop.send(()).unwrap();
        assert!(n.task.await.unwrap().is_ok());
    }
    assert!(!da.0.join("run").join("tessel.sock").exists());
}

/// A node started alone is given a member's address while it runs (as a
/// reload of its config file does): it greets it, and packets flow. Once
/// a member answered its STUN request, it reports where it is reached
/// from elsewhere (here loopback: its own socket).
#[tokio::test(flavor = "current_thread")]
async fn settings_changed_while_running_apply_and_public_addresses_are_told() {
    let key = NetworkKey::from_secret([43; 32]);
    let (da, db) = (Scratch::new("settings-a"), Scratch::new("settings-b"));
    let (settings_tx, settings_rx) = mpsc::channel(4);
    let (public_tx, mut public_rx) = watch::channel(Vec::new());
    let a = start_with(&da, &key, vec![], Some(settings_rx), Some(public_tx)).await;
    let mut b = start(&db, &key, vec![]).await;
    settings_tx
        .send(RuntimeSettings {
            peers: vec![b.udp],
            stun_servers: Vec::new(),
            relay: false,
        })
        .await
        .unwrap();
    // A greets B, then reaches it by its overlay address.
    let pkt = ipv6_packet(a.ipv6, b.ipv6, b"after the reload");
    let delivered = async {
        loop {
            a.to_node.send(pkt.clone()).await.unwrap();
            let wait = tokio::time::timeout(Duration::from_millis(200), b.from_node.recv());
            if let Ok(Some(got)) = wait.await {
                if got == pkt {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), delivered)
        .await
        .expect("A reaches B through the address it was given while running");
    let public = async {
        loop {
            public_rx.changed().await.expect("the node runs");
            let now = public_rx.borrow_and_update().clone();
            if !now.is_empty() {
                return now;
            }
        }
    };
    let public = tokio::time::timeout(Duration::from_secs(10), public)
        .await
        .expect("A learns where it is reached");
    assert_eq!(public, vec![a.udp]);
    for n in [a, b] {
        n.stop.send(()).unwrap();
        assert!(n.task.await.unwrap().is_ok());
    }
}
