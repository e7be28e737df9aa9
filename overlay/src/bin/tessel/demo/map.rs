//! `tessel demo --map`: the live map of the whole emulated network, served
//! by the demo itself on the host (127.0.0.1:9746 by default).
//!
//! The demo asks every node for its status anyway, so it knows both ends
//! of every pair: the map it serves shows all the members, every pair's
//! path as both ends report it (direct, relayed through whom, or TCP) and
//! each member's NAT, which one node's own map could not (a node sees only
//! its own sessions). The page is the daemon's (`tessel up --map`), fed by
//! this module instead of an event loop:
//!
//! - a server thread runs the map's HTTP server on a runtime of its own;
//! - a feed thread answers its requests for snapshots: with the statuses
//!   the demo's watch just read if there are new ones ([`DemoMap::views`]),
//!   else by asking every node itself, plus the narration so far
//!   ([`super::narrate::Narrator::tell`]).
//!
//! The map shows the punching as it happens only if the page is open
//! before the nodes start: the demo says where it is and waits for the
//! page (or Enter) first, and at the end keeps it up until Enter or
//! Ctrl-C. With stdin closed it does not wait.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tessel_overlay::driver::map::{
    self, Access, Link, LinkKind, MapSnapshot, Member, Nat as NatView, Source, View, ViewKind,
};

use super::narrate::Narrator;
use super::pairs::{combine, PairPath};
use super::plan::{self, Nat, MEMBERS};
use super::signals::Interrupt;
use super::state;
use super::status::{node_status, NodeView};

/// How often an open page is refreshed.
const REFRESH: Duration = Duration::from_millis(500);

/// Lines of the narration the page shows.
const STORY_LINES: usize = 14;

/// How long the demo waits for the page before starting anyway.
const PAGE_WAIT: Duration = Duration::from_secs(120);

/// What the page says about the demo's view.
const NOTE: &str = "Every node's own view, combined by tessel demo, which asks each node for \
                    its status: a pair's path is what both ends report. Relayed links bend \
                    toward the member that relays them.";

/// Every node's view at one moment, in [`MEMBERS`] order (`None`: no answer).
pub(crate) type Views = Vec<Option<NodeView>>;

/// The running map; dropping it stops the server.
pub(crate) struct DemoMap {
    access: Access,
    viewers: Arc<AtomicUsize>,
    views: Sender<Views>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl DemoMap {
    /// Serves the map on `addr`, the nodes asked with the binary `exe`,
    /// the narration read from `story`.
    pub(crate) fn start(addr: SocketAddr, exe: &Path, story: Receiver<String>) -> Result<Self> {
        let listener = map::bind(addr).map_err(|e| anyhow!("--map {addr}: {e}"))?;
        let bound = listener.local_addr().context("reading the map's address")?;
        let access = Access::for_address(bound).map_err(|e| anyhow!("--map {addr}: {e}"))?;
        let (requests_tx, requests) = tokio::sync::mpsc::channel(4);
        let (views_tx, views_rx) = mpsc::channel();
        let exe = exe.to_owned();
        let feed = std::thread::Builder::new()
            .name("demo-map-feed".to_owned())
            .spawn(move || feed(requests, views_rx, story, &exe))
            .context("starting the map's feed")?;
        let viewers = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (ready_tx, ready) = mpsc::channel();
        let server_access = access.clone();
        let counted = viewers.clone();
        let server = std::thread::Builder::new()
            .name("demo-map".to_owned())
            .spawn(move || {
                let source = Source(requests_tx);
                let ready_ok = ready_tx.clone();
                let serve = move || -> Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .context("starting the map's runtime")?;
                    runtime.block_on(async move {
                        let server = map::serve(listener, server_access, source, REFRESH)
                            .context("serving the map")?;
                        let _ = ready_ok.send(Ok(()));
                        tokio::pin!(stopped);
                        loop {
                            counted.store(server.viewers(), Ordering::Relaxed);
                            tokio::select! {
                                _ = &mut stopped => return Ok(()),
                                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                            }
                        }
                    })
                };
                if let Err(e) = serve() {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .context("starting the map's server")?;
        ready
            .recv()
            .map_err(|_| anyhow!("the map's server ended at start"))??;
        Ok(Self {
            access,
            viewers,
            views: views_tx,
            stop: Some(stop),
            threads: vec![server, feed],
        })
    }

    /// The URL to open (with its token off loopback).
    pub(crate) fn url(&self) -> String {
        self.access.url()
    }

    /// Where the demo's watch hands the statuses it read.
    pub(crate) fn views(&self) -> Sender<Views> {
        self.views.clone()
    }

    /// Says where the map is and waits until a page opens it, Enter is
    /// pressed or stdin ends (or [`PAGE_WAIT`] passes).
    pub(crate) fn wait_for_page(
        &self,
        say: &Narrator,
        keys: &Keyboard,
        interrupt: &Interrupt,
    ) -> Result<()> {
        say.say(format!(
            "the live map is at {}: open it now to watch the network form; the nodes start \
             when the page connects (or press Enter)",
            self.url()
        ));
        let mut waited = Duration::ZERO;
        loop {
            if interrupt.raised() {
                bail!("interrupted before the nodes started");
            }
            if self.viewers.load(Ordering::Relaxed) > 0 {
                say.say("the map is open: starting the nodes");
                return Ok(());
            }
            if keys.pressed().is_some() {
                return Ok(());
            }
            if waited >= PAGE_WAIT {
                say.say("no page opened the map: starting anyway");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
            waited += Duration::from_millis(100);
        }
    }

    /// Keeps the map up until Enter, Ctrl-C or the end of stdin; `keep`
    /// says what happens next.
    pub(crate) fn wait_at_end(
        &self,
        say: &Narrator,
        keys: &Keyboard,
        interrupt: &Interrupt,
        keep: bool,
    ) {
        let next = if keep {
            "close it and leave the network running"
        } else {
            "stop the nodes and remove everything"
        };
        say.say(format!(
            "the map stays up at {}: press Enter (or Ctrl-C) to {next}",
            self.url()
        ));
        while !interrupt.raised() && keys.pressed().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DemoMap {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The server's end drops the feed's request channel, which ends it.
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Lines typed on stdin, read on a thread of their own.
pub(crate) struct Keyboard(Receiver<bool>);

impl Keyboard {
    /// Starts reading stdin.
    pub(crate) fn start() -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("demo-keyboard".to_owned())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut line = String::new();
                loop {
                    line.clear();
                    match stdin.read_line(&mut line) {
                        Ok(0) | Err(_) => {
                            let _ = tx.send(false);
                            return;
                        }
                        Ok(_) => {
                            if tx.send(true).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        if spawned.is_err() {
            // No thread, no keyboard: as if stdin were closed.
            let (tx, rx) = mpsc::channel();
            let _ = tx.send(false);
            return Self(rx);
        }
        Self(rx)
    }

    /// `Some(true)` when Enter was pressed since the last look,
    /// `Some(false)` when stdin has ended (for good), `None` otherwise.
    pub(crate) fn pressed(&self) -> Option<bool> {
        match self.0.try_recv() {
            Ok(line) => Some(line),
            Err(TryRecvError::Disconnected) => Some(false),
            Err(TryRecvError::Empty) => None,
        }
    }
}

/// Answers the server's requests until it stops.
fn feed(
    mut requests: tokio::sync::mpsc::Receiver<map::SnapshotReply>,
    views: Receiver<Views>,
    story: Receiver<String>,
    exe: &Path,
) {
    let mut told: VecDeque<String> = VecDeque::new();
    while let Some(reply) = requests.blocking_recv() {
        told.extend(story.try_iter());
        while told.len() > STORY_LINES {
            told.pop_front();
        }
        // The watch's latest round, if it polled since the last request;
        // else a round of our own.
        let latest = views.try_iter().last().unwrap_or_else(|| poll(exe));
        let _ = reply.send(network_snapshot(&latest, told.iter().cloned().collect()));
    }
}

/// Every member's status, asked at once; `None` where there is no node
/// (yet) or it did not answer.
fn poll(exe: &Path) -> Views {
    std::thread::scope(|s| {
        let asks: Vec<_> = MEMBERS
            .iter()
            .map(|m| {
                let dir: PathBuf = state::node_dir(m.name);
                s.spawn(move || {
                    let run = dir.join("run");
                    if !run.exists() {
                        return None;
                    }
                    node_status(exe, &dir.join("state"), &run).ok()
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().ok().flatten()).collect()
    })
}

/// How the page names the NAT a member was put behind.
fn nat_label(nat: Nat) -> String {
    match nat {
        Nat::None => "public address".to_owned(),
        Nat::UdpBlocked => "UDP blocked: TCP only".to_owned(),
        nat => format!("{} NAT", nat.label()),
    }
}

/// The whole network's map from every node's view (`views` in [`MEMBERS`]
/// order) and the story so far.
pub(crate) fn network_snapshot(views: &[Option<NodeView>], story: Vec<String>) -> MapSnapshot {
    let members = MEMBERS
        .iter()
        .zip(views)
        .filter_map(|(m, v)| {
            let v = v.as_ref()?;
            Some(Member {
                id: v.node_id.clone(),
                name: Some(m.name.to_owned()),
                this_node: false,
                ipv4: v.ipv4.map(|a| a.to_string()),
                ipv6: v.ipv6.map(|a| a.to_string()),
                nat: Some(NatView {
                    kind: nat_label(m.nat),
                    mapping: v.nat.mapping.clone(),
                    allocation: v.nat.allocation.clone(),
                    reflexive: v.nat.reflexive.clone(),
                    port_mapping: None,
                }),
            })
        })
        .collect();
    let links = plan::pairs()
        .into_iter()
        .filter_map(|(a, b)| link(views.get(a)?.as_ref()?, views.get(b)?.as_ref()?))
        .collect();
    MapSnapshot {
        view: View {
            kind: ViewKind::Network,
            centre: views
                .first()
                .and_then(|v| v.as_ref())
                .map(|v| v.node_id.clone()),
            note: NOTE.to_owned(),
        },
        members,
        links,
        silent_members: 0,
        story,
    }
}

/// The link between two nodes, from both their views.
fn link(va: &NodeView, vb: &NodeView) -> Option<Link> {
    let (ab, ba) = (va.peer(&vb.node_id), vb.peer(&va.node_id));
    let path = combine(&va.path_to(&vb.node_id), &vb.path_to(&va.node_id));
    let tcp = [ab, ba]
        .iter()
        .flatten()
        .any(|p| p.transport.as_deref() == Some("tcp"));
    let (kind, via) = match path {
        PairPath::Unconnected => return None,
        PairPath::Relayed(via) => (LinkKind::Relay, Some(via)),
        PairPath::Direct if tcp => (LinkKind::Tcp, None),
        PairPath::Direct => (LinkKind::Direct, None),
    };
    let direct = kind != LinkKind::Relay;
    Some(Link {
        a: va.node_id.clone(),
        b: vb.node_id.clone(),
        kind,
        via,
        rtt_ms: ab
            .and_then(|p| p.rtt_ms)
            .or_else(|| ba.and_then(|p| p.rtt_ms))
            .filter(|_| direct),
        rx_bytes: ab.map(|p| p.rx_bytes),
        tx_bytes: ab.map(|p| p.tx_bytes),
        endpoint: ab.and_then(|p| p.endpoint.clone()).filter(|_| direct),
        carried: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::status::{Path as PeerPath, PeerView};

    fn view(i: usize, peers: Vec<PeerView>) -> Option<NodeView> {
        Some(NodeView {
            node_id: format!("tessel-node-{i}"),
            peers,
            ..NodeView::default()
        })
    }

    fn peer(i: usize, path: PeerPath, transport: &str) -> PeerView {
        PeerView {
            node_id: format!("tessel-node-{i}"),
            connected: path != PeerPath::None,
            path,
            endpoint: Some(format!("192.0.2.{i}:9740")),
            transport: Some(transport.to_owned()),
            rtt_ms: Some(2.0),
            rx_bytes: 5,
            tx_bytes: 7,
        }
    }

    #[test]
    fn pairs_become_links_as_both_ends_report_them() {
        let relay = || PeerPath::Relay("tessel-node-0".into());
        // 0 public; 1 and 3 direct; 1 and 5 relayed (one side says so);
        // 6 joined 0 over TCP; 2 answers nothing.
        let mut views: Views = vec![None; MEMBERS.len()];
        views[0] = view(0, vec![peer(6, PeerPath::Direct, "tcp")]);
        views[1] = view(
            1,
            vec![
                peer(3, PeerPath::Direct, "udp"),
                peer(5, PeerPath::Direct, "udp"),
            ],
        );
        views[3] = view(3, vec![peer(1, PeerPath::Direct, "udp")]);
        views[5] = view(5, vec![peer(1, relay(), "udp")]);
        views[6] = view(6, vec![peer(0, PeerPath::Direct, "tcp")]);
        let snap = network_snapshot(&views, vec!["a line".into()]);
        assert_eq!(snap.view.kind, ViewKind::Network);
        assert_eq!(snap.view.centre.as_deref(), Some("tessel-node-0"));
        assert_eq!(
            snap.members.len(),
            5,
            "the node that did not answer is left out"
        );
        assert_eq!(snap.members[1].name.as_deref(), Some(MEMBERS[1].name));
        assert_eq!(
            snap.members[0].nat.as_ref().map(|n| n.kind.as_str()),
            Some("public address")
        );
        let find = |a: usize, b: usize| {
            snap.links
                .iter()
                .find(|l| l.a == format!("tessel-node-{a}") && l.b == format!("tessel-node-{b}"))
                .map(|l| (l.kind, l.via.clone(), l.rtt_ms))
        };
        assert_eq!(find(1, 3), Some((LinkKind::Direct, None, Some(2.0))));
        assert_eq!(
            find(1, 5),
            Some((LinkKind::Relay, Some("tessel-node-0".into()), None))
        );
        assert_eq!(find(0, 6), Some((LinkKind::Tcp, None, Some(2.0))));
        assert_eq!(snap.links.len(), 3, "{:?}", snap.links);
        assert_eq!(snap.story, vec!["a line".to_owned()]);
    }
}
