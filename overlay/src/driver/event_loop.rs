//! The daemon's single task: it owns the node, the socket and the packet
//! device, and waits on whichever has work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::control::{self, SocketFile};
use super::device::{DeviceSpec, PacketDevice};
use super::state_dir::StateDir;
use super::udp::Udp;
use super::{clock, tun, DriverError};
use crate::identity::{NetworkKey, NodeKey};
use crate::limits::MAX_DATAGRAM;
use crate::node::{Action, Config, Event, Node};

/// Datagrams or packets handled per wakeup before checking the other sources.
const BATCH: usize = 64;

/// What `tessel up` asks for.
#[derive(Debug)]
pub struct RunOptions {
    /// The state dir.
    pub state_dir: PathBuf,
    /// The network to join.
    pub network_key: NetworkKey,
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// Members to contact first.
    pub peers: Vec<SocketAddr>,
    /// Where IP packets come from and go to.
    pub device: DeviceSpec,
}

/// Resolves on SIGINT or SIGTERM.
///
/// # Errors
/// Returns an error if the signal handlers cannot be installed.
pub fn shutdown_signal() -> Result<impl Future<Output = ()>, DriverError> {
    let io = |source| DriverError::Io {
        context: "installing signal handlers",
        source,
    };
    let mut sigint = signal(SignalKind::interrupt()).map_err(io)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(io)?;
    Ok(async move {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
    })
}

/// Runs the node until `shutdown` resolves; `ready` is called once the node
/// is up, with the node and its bound UDP address.
///
/// # Errors
/// Returns an error if the device, the socket or the state dir cannot be
/// set up, or if the socket fails while running.
pub async fn run(
    opts: RunOptions,
    ready: impl FnOnce(&Node, SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), DriverError> {
    let state = StateDir::open(&opts.state_dir)?;
    let node_key: NodeKey = state.node_key()?;
    let io = |context| move |source| DriverError::Io { context, source };
    let config = Config {
        known_peers: state.peers(&opts.network_key),
        node_key,
        network_key: opts.network_key.clone(),
        bootstrap: opts.peers.clone(),
        seed: clock::random_seed().map_err(io("reading the OS random source"))?,
        unix_ms: clock::unix_ms(),
    };
    let mut node = Node::new(config, clock::now());
    let udp = Udp::bind(opts.listen)?;
    let listen = udp.local_addr().map_err(io("reading the bound address"))?;
    let (requests_tx, mut requests) = mpsc::channel(16);
    let socket_path = state.socket_path();
    let server = control::serve(&socket_path, requests_tx)?;
    let _socket_file = SocketFile(socket_path);
    let dev = match opts.device {
        DeviceSpec::Tun { interface } => {
            PacketDevice::Tun(tun::create(&interface, node.ipv6(), node.ipv4())?)
        }
        DeviceSpec::Channel(ch) => PacketDevice::Channel(ch),
    };
    ready(&node, listen);
    tokio::pin!(shutdown);

    let ipv4 = node.ipv4();
    let mut shell = Shell {
        udp,
        dev,
        state,
        network_key: opts.network_key,
        listen,
        ipv4,
    };
    let mut udp_rx = vec![0u8; MAX_DATAGRAM];
    let mut tun_rx = vec![0u8; MAX_DATAGRAM];
    let mut out = vec![0u8; MAX_DATAGRAM + 64];
    let far = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
    let result = loop {
        let deadline = node
            .poll_timeout()
            .map_or(far, tokio::time::Instant::from_std);
        tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            r = shell.udp.recv_from(&mut udp_rx) => {
                let (n, from) = r.map_err(io("receiving from the UDP socket"))?;
                shell.on_datagram(&mut node, from, &udp_rx[..n], &mut out).await;
                for _ in 1..BATCH {
                    let Ok((n, from)) = shell.udp.try_recv_from(&mut udp_rx) else { break };
                    shell.on_datagram(&mut node, from, &udp_rx[..n], &mut out).await;
                }
            }
            r = shell.dev.recv(&mut tun_rx) => {
                let n = r.map_err(io("reading from the packet device"))?;
                shell.on_tun_packet(&mut node, &tun_rx[..n], &mut out).await;
                for _ in 1..BATCH {
                    let Ok(n) = shell.dev.try_recv(&mut tun_rx) else { break };
                    shell.on_tun_packet(&mut node, &tun_rx[..n], &mut out).await;
                }
            }
            _ = tokio::time::sleep_until(deadline) => node.handle_timeout(clock::now()),
            Some(req) = requests.recv() => {
                let _ = req.reply.send(shell.answer(&node, &req.command, clock::now()));
            }
        }
        shell.drain(&mut node).await;
    };
    server.abort();
    // Dropping the device removes the interface.
    drop(shell);
    result
}

/// The I/O half of the daemon.
struct Shell {
    udp: Udp,
    dev: PacketDevice,
    state: StateDir,
    network_key: NetworkKey,
    listen: SocketAddr,
    /// The IPv4 address currently on the interface.
    ipv4: std::net::Ipv4Addr,
}

impl Shell {
    async fn on_datagram(
        &mut self,
        node: &mut Node,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) {
        let action = node.handle_datagram(clock::now(), from, datagram, out);
        self.act(action, out).await;
    }

    async fn on_tun_packet(&mut self, node: &mut Node, packet: &[u8], out: &mut [u8]) {
        let action = node.handle_tun_packet(clock::now(), packet, out);
        self.act(action, out).await;
    }

    /// Does what the node asked with the output buffer.
    async fn act(&mut self, action: Action, out: &[u8]) {
        match action {
            Action::Send { to, len } => self.send(&out[..len], to).await,
            Action::Deliver { range } => {
                if let Err(e) = self.dev.send(&out[range]).await {
                    tracing::debug!(error = %e, "handing a packet to the device");
                }
            }
            Action::None => {}
        }
    }

    async fn send(&self, datagram: &[u8], to: SocketAddr) {
        if let Err(e) = self.udp.send_to(datagram, to).await {
            tracing::debug!(error = %e, %to, "sending a datagram");
        }
    }

    /// Sends the node's control datagrams and acts on its events.
    async fn drain(&mut self, node: &mut Node) {
        while let Some(t) = node.poll_transmit() {
            self.send(&t.payload, t.to).await;
        }
        let mut members_changed = false;
        while let Some(event) = node.poll_event() {
            match event {
                Event::Connected(peer) => tracing::debug!(peer = %peer, "connected"),
                Event::MembersChanged => members_changed = true,
                Event::Ipv4Changed(new) => {
                    let changed = self
                        .dev
                        .tun()
                        .map_or(Ok(()), |dev| tun::change_ipv4(dev, self.ipv4, new));
                    match changed {
                        Ok(()) => self.ipv4 = new,
                        Err(e) => {
                            tracing::error!(error = %e, "updating the interface's IPv4 address")
                        }
                    }
                }
            }
        }
        if members_changed {
            if let Err(e) = self
                .state
                .save_peers(&self.network_key, &node.known_members())
            {
                tracing::warn!(error = %e, "saving the peer cache");
            }
        }
    }

    fn answer(&self, node: &Node, command: &str, now: Instant) -> String {
        match command {
            "status" => {
                let mut status = node.status(now);
                status.listen = self.listen.to_string();
                serde_json::to_string(&status).expect("serialisable")
            }
            other => {
                serde_json::json!({ "error": format!("unknown request `{other}`") }).to_string()
            }
        }
    }
}
