//! The daemon's single task: it owns the node, the socket and the packet
//! device, and waits on whichever has work.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use super::control::answers::{
    DownAnswer, HandoverAnswer, IpAnswer, RevocationsAnswer, StatusAnswer,
};
use super::control::{self, ApiError, Call, ErrorCode, Reply, Request, SocketFile};
use super::device::{DeviceSpec, PacketDevice, RxBatch};
use super::dns::PendingNames;
use super::engines::{EngineHost, StreamMode};
use super::extra_sockets::ExtraSockets;
use super::lan::{LanDatagram, LanDiscovery};
use super::local_addrs;
use super::metrics::http::{self as metrics_http, SnapshotReply, Sources};
use super::metrics::{Snapshot, TcpMetrics};
use super::ping::PendingPings;
use super::portmap::{Mapper, PortMapping};
use super::public_addrs::PublicWatch;
use super::records::PendingRecords;
use super::runtime_dir::{RuntimeDir, SocketGroup, CONTROL_SOCKET};
use super::scopes::ScopeOptions;
use super::send_batch::{SendBatch, MAX_SEGMENTS};
use super::settings::{self, RuntimeSettings};
use super::state_dir::StateDir;
use super::tcp::TcpTransport;
use super::tile::{self, HostContext, TileHost, TileOptions};
use super::udp::{Received, Udp};
use super::{clock, tun, DriverError, Membership};
use crate::identity::address::{Ipv4Range, NetworkPrefix};
use crate::identity::{NetworkKey, NodeKey};
use crate::limits::MAX_DATAGRAM;
use crate::node::{Action, Config, Event, Node, STREAM_IDS_FROM};

/// How often the interface addresses are read again (hole-punching candidates).
const ADDRESS_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);
/// How much later than the timer a new deadline may be and keep the timer.
const TIMER_SLACK: std::time::Duration = std::time::Duration::from_millis(1);
/// Datagrams or packets handled per wakeup before checking the other sources.
const BATCH: usize = 64;
/// How long the loop keeps looking for packets after a turn that carried
/// some, before it sleeps: the answer to what it just sent often comes
/// within this, and taking it then saves the wakeup from idle, which costs
/// tens of microseconds (more in a VM). Off by default
/// (`TESSEL_LINGER_US=50` turns it on): with it on, hole punching against
/// stock Linux routers failed in about half of the lab's runs, for a reason
/// not found yet. TUN devices only.
const LINGER: std::time::Duration = std::time::Duration::ZERO;
/// The longest one linger may last while packets keep coming: timers and
/// the runtime's other tasks wait at most this.
const LINGER_MAX: std::time::Duration = std::time::Duration::from_millis(1);
/// See [`LINGER`].
const LINGER_ENV: &str = "TESSEL_LINGER_US";

/// What `tessel up` asks for.
#[derive(Debug)]
pub struct RunOptions {
    /// The state dir.
    pub state_dir: PathBuf,
    /// Where the local sockets go ([`super::runtime_dir`];
    /// [`super::runtime_dir::daemon_default`] when not configured).
    pub runtime_dir: PathBuf,
    /// Which group may use the local sockets.
    pub socket_group: SocketGroup,
    /// The network to join.
    pub network_key: NetworkKey,
    /// The IPv4 range of the overlay's addresses (`--ipv4-range`).
    pub ipv4_range: Ipv4Range,
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// Members to contact first.
    pub peers: Vec<SocketAddr>,
    /// STUN servers to ask for the node's reflexive address (`--stun`).
    pub stun_servers: Vec<SocketAddr>,
    /// New settings to apply while the node runs (a reload of the config
    /// file); `None`: they never change.
    pub settings: Option<mpsc::Receiver<RuntimeSettings>>,
    /// Told where machines elsewhere may reach the node
    /// ([`Node::public_addresses`]) whenever that changes, while the
    /// receiver lives; `None`: nobody asks.
    pub public_addresses: Option<watch::Sender<Vec<SocketAddr>>>,
    /// Where IP packets come from and go to.
    pub device: DeviceSpec,
    /// Whether to find members on the same LAN by multicast beacons.
    pub lan_discovery: bool,
    /// Whether to map the UDP port on the gateway (PCP, NAT-PMP, UPnP).
    pub port_mapping: PortMapping,
    /// Whether to carry datagrams over TCP too: accept connections on the
    /// UDP address and port, and dial the `peers` over TCP when UDP gets the
    /// node no session (`tessel up --no-tcp` turns it off).
    pub tcp: bool,
    /// Whether to relay for other members (`tessel up --no-relay` refuses).
    pub relay: bool,
    /// The userspace stack, when there is no TUN device: engines carry
    /// their streams on its TCP sockets (`None`: kernel TCP in TUN mode,
    /// no streams otherwise).
    pub engine_stack: Option<tessel_stack::StackHandle>,
    /// The tile to host (`tessel up --tile …`); `None` starts nothing
    /// tile-related. Needs a TUN device.
    pub tile: Option<TileOptions>,
    /// The scopes (`tessel up --scope-root …`); off by default.
    pub scopes: ScopeOptions,
    /// Managed mode (`tessel up --owner --cert`); `None`: the network key
    /// alone admits members.
    pub managed: Option<Membership>,
    /// This node's name (`tessel up --name`); `None`: the one kept in the
    /// state dir, if any (in a managed network, the certificate's).
    pub name: Option<crate::identity::NodeName>,
    /// The DNS responder for names (`None`: off).
    pub dns: Option<super::dns::DnsOptions>,
    /// Where to serve the metrics (`tessel up --metrics`); `None`: nowhere.
    pub metrics: Option<SocketAddr>,
    /// The live map (`tessel up --map`); `None`: none.
    pub map: Option<super::map::MapOptions>,
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
/// is up, with the node (which it may still adjust before traffic flows)
/// and its bound UDP address.
///
/// # Errors
/// Returns an error if the device, the socket or the state dir cannot be
/// set up, or if the socket fails while running.
pub async fn run(
    opts: RunOptions,
    ready: impl FnOnce(&mut Node, SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), DriverError> {
    let state = StateDir::open(&opts.state_dir)?;
    let _state_lock = state.lock()?;
    let runtime_dir = RuntimeDir::open(&opts.runtime_dir, &opts.socket_group)?;
    let node_key: NodeKey = state.node_key()?;
    let io = |context| move |source| DriverError::Io { context, source };
    let streams = match (&opts.device, &opts.engine_stack) {
        (DeviceSpec::Tun { interface }, _) => StreamMode::Kernel {
            own: NetworkPrefix::of(&opts.network_key.id()).node_addr(&node_key.id()),
            device: interface.clone(),
        },
        (_, Some(stack)) => StreamMode::Stack(stack.clone()),
        (_, None) => StreamMode::Off,
    };
    let mut engines = EngineHost::start(&state, &runtime_dir, &node_key, streams, &opts.scopes)?;
    let (network_key, retiring) =
        super::rotation::start_keys(&state, &opts.network_key, clock::unix_ms())?;
    let config = Config {
        known_peers: state.peers(&opts.network_key),
        node_key,
        network_key,
        ipv4_range: opts.ipv4_range,
        bootstrap: opts.peers.clone(),
        stun_servers: opts.stun_servers.clone(),
        seed: clock::random_seed().map_err(io("reading the OS random source"))?,
        unix_ms: clock::unix_ms(),
    };
    let mut node = Node::new(config, clock::now());
    if let Some((key, refuse_after_unix_ms)) = retiring {
        node.set_retiring_key(clock::now(), key, refuse_after_unix_ms);
    }
    super::membership::apply(&mut node, opts.managed.as_ref(), &state, clock::now())?;
    super::rotation::restore_signed_rotation(&mut node, &state)?;
    super::names::apply(
        &mut node,
        opts.name.as_ref(),
        &state,
        clock::now(),
        clock::unix_ms(),
    )?;
    node.restore_initiation_timestamps(state.initiation_timestamps(&opts.network_key));
    node.set_relaying(opts.relay);
    let udp = Udp::bind(opts.listen)?.with_gro();
    let listen = udp.local_addr().map_err(io("reading the bound address"))?;
    node.set_local_port(listen.port());
    node.set_local_addresses(local_addrs::reachable_at(listen, &opts.ipv4_range));
    let (requests_tx, mut requests) = mpsc::channel(16);
    let socket_path = runtime_dir.control_socket();
    let listener = runtime_dir
        .bind(CONTROL_SOCKET)
        .map_err(|source| DriverError::Control {
            path: socket_path.clone(),
            source,
        })?;
    let server = control::serve(listener, requests_tx);
    let _socket_file = SocketFile(socket_path);
    let tun_name = match &opts.device {
        DeviceSpec::Tun { interface } => Some(interface.clone()),
        DeviceSpec::Channel(_) => None,
    };
    let mut lan = LanDiscovery::start(opts.lan_discovery, listen, tun_name);
    if lan.is_on() {
        node.start_lan_beacons(clock::now());
    }
    let mut lan_rx = vec![0u8; 2048];
    if opts.tile.is_some() && matches!(opts.device, DeviceSpec::Channel(_)) {
        return Err(DriverError::Service {
            what: "tile host".to_owned(),
            reason: "tile links need the TUN device (they are kernel TCP connections between overlay addresses); drop --userspace".to_owned(),
        });
    }
    let metrics_listener = opts.metrics.map(metrics_http::bind).transpose()?;
    let dev = match opts.device {
        DeviceSpec::Tun { interface } => {
            super::route_clash::warn_if_routed_elsewhere(&interface, &opts.ipv4_range);
            PacketDevice::tun(tun::create(
                &interface,
                node.ipv6(),
                node.ipv4(),
                &opts.ipv4_range,
            )?)
        }
        DeviceSpec::Channel(ch) => PacketDevice::Channel(ch),
    };
    engines.listen();
    ready(&mut node, listen);
    super::service_manager::ready(&format!("up: {} {} on {listen}", node.ipv6(), node.ipv4()));
    let tiles: Option<TileHost> = match opts.tile {
        None => None,
        Some(t) => {
            let ctx = HostContext {
                node: node.id(),
                ipv6: node.ipv6(),
                prefix: NetworkPrefix::of(&opts.network_key.id()),
            };
            Some(tile::start(t, ctx, &runtime_dir)?)
        }
    };
    // Scrapes wait on this channel; with no endpoint its sender stays here,
    // unused, so the loop's branch never fires.
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<SnapshotReply>(4);
    let _metrics = match metrics_listener {
        Some(listener) => {
            let sources = Sources {
                node: metrics_tx.clone(),
                tile: tiles.as_ref().map(TileHost::metrics_source),
            };
            Some(metrics_http::serve(listener, sources)?)
        }
        None => None,
    };
    // The map's requests for snapshots, like the scrapes above.
    let (map_tx, mut map_rx) = mpsc::channel::<super::map::SnapshotReply>(4);
    let _map = match opts.map {
        Some(m) => {
            let source = super::map::Source(map_tx.clone());
            // The URL without its token: logs may be read by others.
            tracing::info!("map at {}", m.access.public_url());
            Some(
                super::map::serve(m.listener, m.access, source, super::map::NODE_REFRESH)
                    .map_err(io("serving the map"))?,
            )
        }
        None => None,
    };
    tokio::pin!(shutdown);
    let mut mapper = Mapper::start(opts.port_mapping, listen.port());
    let mut dns = super::dns::DnsService::start(opts.dns.as_ref());
    let mut new_settings = opts.settings;
    let mut public = PublicWatch::new(opts.public_addresses);
    let ipv4_range = opts.ipv4_range;

    let ipv4 = node.ipv4();
    let mut shell = Shell {
        pings: PendingPings::default(),
        records: PendingRecords::default(),
        names: PendingNames::default(),
        engines,
        tcp: TcpTransport::start(opts.tcp, listen, &opts.peers),
        extra: ExtraSockets::new(listen),
        udp,
        sends: SendBatch::default(),
        dev,
        state,
        network_key: opts.network_key,
        listen,
        ipv4,
        ipv4_range,
        stopping: false,
    };
    // Not with a channel device: its packets come from a task on this same
    // runtime (the userspace stack), which cannot run while the loop looks.
    let linger = match shell.dev.tun_device() {
        None => std::time::Duration::ZERO,
        Some(_) => std::env::var(LINGER_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(LINGER, std::time::Duration::from_micros),
    };
    let mut udp_rx = vec![0u8; MAX_DATAGRAM];
    let mut tun_rx = RxBatch::new();
    let mut out = vec![0u8; MAX_DATAGRAM + 64];
    let far = clock::tokio_now() + std::time::Duration::from_secs(86_400);
    // One timer, moved when the deadline moves (a new one each turn would
    // be entered into and taken out of the timer wheel every time).
    let timer = tokio::time::sleep_until(far);
    tokio::pin!(timer);
    let mut addresses = tokio::time::interval(ADDRESS_REFRESH);
    addresses.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let deadline = node
            .poll_timeout()
            .into_iter()
            .chain(shell.pings.next_deadline())
            .chain(shell.records.next_deadline())
            .chain(shell.names.next_deadline())
            .chain(shell.engines.next_deadline())
            .min()
            .map_or(far, tokio::time::Instant::from_std);
        // A deadline up to a millisecond after a pending timer's keeps the
        // timer (the engines' deadlines are wall-clock milliseconds,
        // converted afresh each turn): it fires a little early, and the
        // next turn sets it again.
        let later = deadline.checked_duration_since(timer.deadline());
        if timer.is_elapsed() || later.is_none_or(|d| d >= TIMER_SLACK) {
            timer.as_mut().reset(deadline);
        }
        let mut data_turn = false;
        tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            r = shell.udp.recv(&mut udp_rx) => {
                data_turn = true;
                let got = r.map_err(io("receiving from the UDP socket"))?;
                // BATCH datagrams, not receives: one GRO receive may bring
                // dozens, and the device must get its turn under a flood.
                let mut taken = got.count();
                shell.on_datagrams(&mut node, got, &udp_rx, &mut out).await;
                while taken < BATCH {
                    let Ok(got) = shell.udp.try_recv(&mut udp_rx) else { break };
                    taken += got.count();
                    shell.on_datagrams(&mut node, got, &udp_rx, &mut out).await;
                }
            }
            r = shell.dev.recv(&mut tun_rx) => {
                data_turn = true;
                r.map_err(io("reading from the packet device"))?;
                shell.on_tun_packets(&mut node, &tun_rx, &mut out).await;
                for _ in 1..BATCH {
                    if shell.dev.try_recv(&mut tun_rx).is_err() {
                        break;
                    }
                    shell.on_tun_packets(&mut node, &tun_rx, &mut out).await;
                }
            }
            Some(d) = shell.extra.rx.recv() => {
                let action = node.handle_extra_datagram(clock::now(), d.socket, d.from, &d.data, &mut out);
                shell.act(&node, action, &out).await;
            }
            () = &mut timer => node.handle_timeout(clock::now()),
            _ = addresses.tick() => node.set_local_addresses(local_addrs::reachable_at(listen, &ipv4_range)),
            s = next_settings(&mut new_settings) => {
                settings::apply(&mut node, &mut shell.tcp, &s, clock::now());
            }
            () = public.due() => public.check(&node),
            m = mapper.changed() => node.set_port_mapping(m.map(|m| (m.protocol.name(), m.external))),
            LanDatagram { from, len, on_link } = lan.next(&mut lan_rx) => {
                node.handle_lan_beacon(clock::now(), from, on_link, &lan_rx[..len]);
            }
            input = shell.tcp.next() => {
                let action = shell.tcp.handle(&mut node, input, &mut out);
                shell.act(&node, action, &out).await;
            }
            Some(input) = shell.engines.next() => {
                shell.engines.handle(&node, input);
                for _ in 1..BATCH {
                    let Some(input) = shell.engines.try_next() else { break };
                    shell.engines.handle(&node, input);
                }
            }
            Some(req) = requests.recv() => shell.on_request(&mut node, tiles.as_ref(), req),
            Some(q) = dns.next() => shell.names.ask(&mut node, q, clock::now()),
            Some(reply) = metrics_rx.recv() => {
                let _ = reply.send(shell.metrics(&node));
            }
            Some(reply) = map_rx.recv() => {
                let _ = reply.send(super::map::node_snapshot_of(&node, clock::now()));
            }
        }
        // Delivered packets go to the device before anything else runs:
        // one write for the turn's batch.
        shell.flush_device().await;
        if shell.drain(&mut node).await {
            lan.send_beacon(|| node.lan_beacon(clock::now(), listen.port()))
                .await;
        }
        if shell.engines.drain(&mut node) {
            // The stream writes left packets on the TUN device: send them
            // before waking local programs, which would take the CPU first.
            for _ in 0..BATCH {
                if shell.dev.recv_now(&mut tun_rx).is_err() {
                    break;
                }
                shell.on_tun_packets(&mut node, &tun_rx, &mut out).await;
            }
        }
        shell.flush_sends().await;
        if data_turn && !linger.is_zero() {
            shell
                .linger(&mut node, linger, &mut udp_rx, &mut tun_rx, &mut out)
                .await;
        }
        shell.engines.flush_clients();
        shell.pings.expire(clock::now());
        shell.records.expire(clock::now());
        shell.names.expire(clock::now());
        if shell.stopping {
            break Ok(());
        }
    };
    super::service_manager::stopping();
    server.abort();
    shell.save_initiation_timestamps(&node);
    drop(tiles);
    // Delete the gateway's mapping (bounded to about a second).
    mapper.stop().await;
    // Dropping the device removes the interface.
    drop(shell);
    result
}

/// The I/O half of the daemon.
struct Shell {
    udp: Udp,
    /// Datagrams for `udp`, sent at the end of the turn (or when the next
    /// one cannot join them).
    sends: SendBatch,
    /// `tessel ping` requests waiting for their pong.
    pings: PendingPings,
    /// `record_fetch` requests waiting for the node's answer.
    records: PendingRecords,
    /// DNS queries waiting for the node to resolve a name.
    names: PendingNames,
    /// The engines hosted by this node.
    engines: EngineHost,
    /// Extra sockets for hole punching.
    extra: ExtraSockets,
    /// TCP connections (socket IDs from `STREAM_IDS_FROM`).
    tcp: TcpTransport,
    dev: PacketDevice,
    state: StateDir,
    network_key: NetworkKey,
    listen: SocketAddr,
    /// The IPv4 address currently on the interface.
    ipv4: std::net::Ipv4Addr,
    /// The range it comes from.
    ipv4_range: Ipv4Range,
    /// `tessel down` asked the node to stop.
    stopping: bool,
}

impl Shell {
    async fn on_datagrams(&mut self, node: &mut Node, got: Received, buf: &[u8], out: &mut [u8]) {
        let now = clock::now();
        for datagram in got.datagrams(buf) {
            let action = node.handle_datagram(now, got.from, datagram, out);
            self.act(node, action, out).await;
        }
    }

    async fn on_tun_packets(&mut self, node: &mut Node, rx: &RxBatch, out: &mut [u8]) {
        let now = clock::now();
        for i in 0..rx.len() {
            let action = node.handle_tun_packet(now, rx.packet(i), out);
            self.act(node, action, out).await;
        }
    }

    /// Keeps taking datagrams and packets, without waiting for the runtime,
    /// until none has come for `linger` (or [`LINGER_MAX`] has passed);
    /// yields the CPU between looks. What they make the node send goes at
    /// once; its events and timers wait for the next turn.
    async fn linger(
        &mut self,
        node: &mut Node,
        linger: std::time::Duration,
        udp_rx: &mut [u8],
        tun_rx: &mut RxBatch,
        out: &mut [u8],
    ) {
        let start = clock::now();
        let mut last = start;
        loop {
            let mut got = false;
            if let Ok(r) = self.udp.recv_now(udp_rx) {
                self.on_datagrams(node, r, udp_rx, out).await;
                got = true;
            }
            if self.dev.recv_now(tun_rx).is_ok() {
                self.on_tun_packets(node, tun_rx, out).await;
                got = true;
            }
            let now = clock::now();
            if got {
                self.flush_device().await;
                self.flush_sends().await;
                last = now;
            } else if now - last >= linger || now - start >= LINGER_MAX {
                return;
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Does what the node asked with the output buffer.
    async fn act(&mut self, node: &Node, action: Action, out: &[u8]) {
        match action {
            Action::Send { to, len } => self.send(&out[..len], to).await,
            Action::SendExtra { socket, len, .. } if socket >= STREAM_IDS_FROM => {
                self.tcp.send(socket, &out[..len])
            }
            Action::SendExtra { socket, to, len } => self.extra.send(socket, &out[..len], to).await,
            Action::Deliver { range } => {
                let packet = &out[range];
                if let Err(e) = self.dev.queue(packet).await {
                    tracing::debug!(error = %e, "handing a packet to the device");
                }
                if let Some(stream) = self.engines.stream_of(packet) {
                    // The packet must be on its socket before the engine
                    // reads it.
                    self.flush_device().await;
                    self.engines.delivered(node, stream);
                }
            }
            Action::None => {}
        }
    }

    /// Writes the packets delivered since the last flush to the device.
    async fn flush_device(&mut self) {
        if let Err(e) = self.dev.flush().await {
            tracing::debug!(error = %e, "writing packets to the device");
        }
    }

    /// Queues a datagram for the main socket; it leaves with the run it
    /// joins (see [`SendBatch`]).
    async fn send(&mut self, datagram: &[u8], to: SocketAddr) {
        let limit = if self.udp.gso() { MAX_SEGMENTS } else { 1 };
        if !self.sends.fits(to, datagram.len(), limit) {
            self.flush_sends().await;
        }
        self.sends.push(to, datagram);
    }

    /// Sends the queued datagrams.
    async fn flush_sends(&mut self) {
        if let Some((buf, to, segment)) = self.sends.take() {
            if let Err(e) = self.udp.send_segments(buf, to, segment).await {
                tracing::debug!(error = %e, %to, "sending datagrams");
            }
        }
    }

    /// Acts on the node's events and sends its control datagrams; returns
    /// whether a round of LAN beacons is due.
    async fn drain(&mut self, node: &mut Node) -> bool {
        let mut members_changed = false;
        let mut lan_beacons = false;
        while let Some(event) = node.poll_event() {
            match event {
                Event::Connected(peer) => {
                    tracing::debug!(peer = %peer, "connected");
                    self.engines.peer_connected(node, &peer);
                }
                Event::MembersChanged => members_changed = true,
                Event::LanBeaconDue => lan_beacons = true,
                Event::NetworkKeyChanged => super::rotation::persist(node, &self.state),
                Event::OpenExtraSockets(ids) => self.extra.open(&ids),
                Event::CloseExtraSockets(ids) => self.extra.close(&ids),
                Event::Pong(pong) => self.pings.answer(&pong),
                Event::Records { key, records } => {
                    self.engines.on_records(&key, &records);
                    self.records.answer(&key, &records);
                }
                Event::NameResolved { name, member } => self.names.answer(node, &name, member),
                Event::RevocationsChanged(bytes) => {
                    if let Err(e) = self.state.save_revocations(&bytes) {
                        tracing::error!(error = %e, "keeping the revocation list");
                    }
                }
                Event::OwnerHandoversChanged(held) => {
                    if let Err(e) = self.state.save_owner_handovers(&held) {
                        tracing::error!(error = %e, "keeping the owner handovers");
                    }
                }
                Event::Ipv4Changed(new) => {
                    let changed = self.dev.tun_device().map_or(Ok(()), |dev| {
                        tun::change_ipv4(dev, self.ipv4, new, &self.ipv4_range)
                    });
                    match changed {
                        Ok(()) => self.ipv4 = new,
                        Err(e) => {
                            tracing::error!(error = %e, "updating the interface's IPv4 address")
                        }
                    }
                }
            }
        }
        // After the events: they may have opened the sockets these use.
        while let Some(t) = node.poll_transmit() {
            if let (true, Some(ttl)) = (t.from_main(), t.ttl) {
                // After what was queued before it.
                self.flush_sends().await;
                if let Err(e) = self.udp.try_send_with_ttl(&t.payload, t.to, ttl) {
                    tracing::debug!(error = %e, to = %t.to, "sending an opener");
                }
            } else if t.from_main() {
                self.send(&t.payload, t.to).await;
            } else if t.socket >= STREAM_IDS_FROM {
                // A stream has no IP TTL of its own to set; openers are
                // UDP's.
                self.tcp.send(t.socket, &t.payload);
            } else if let Some(ttl) = t.ttl {
                self.extra.send_with_ttl(t.socket, &t.payload, t.to, ttl);
            } else {
                self.extra.send(t.socket, &t.payload, t.to).await;
            }
        }
        if members_changed {
            if let Err(e) = self
                .state
                .save_peers(&self.network_key, &node.known_members())
            {
                tracing::warn!(error = %e, "saving the peer cache");
            }
            self.save_initiation_timestamps(node);
        }
        lan_beacons
    }

    /// The counters for one scrape of the metrics endpoint.
    fn metrics(&self, node: &Node) -> Snapshot {
        let tcp = self.tcp.status();
        Snapshot {
            node: node.metrics(clock::now()),
            tcp: TcpMetrics {
                enabled: tcp.enabled,
                connections: tcp.connections.len() as u64,
                counters: tcp.counters,
            },
            engines: self.engines.metrics(),
            tile: None,
        }
    }

    /// Keeps the last initiation timestamps of members for the next run.
    fn save_initiation_timestamps(&self, node: &Node) {
        let times = node.initiation_timestamps();
        if let Err(e) = self
            .state
            .save_initiation_timestamps(&self.network_key, &times)
        {
            tracing::warn!(error = %e, "saving the initiation timestamps");
        }
    }

    /// Answers a control request, or hands it to whatever answers it.
    fn on_request(&mut self, node: &mut Node, tiles: Option<&TileHost>, call: Call) {
        let now = clock::now();
        let Call { request, reply } = call;
        match request {
            Request::Status => reply.ok(&self.status(node, now)),
            Request::Ip => reply.ok(&IpAnswer {
                node_id: node.id().to_string(),
                ipv6: node.ipv6().to_string(),
                ipv4: node.ipv4().to_string(),
            }),
            Request::Ping { target } => self.pings.start(node, &target, reply, now),
            Request::Whois { target } => {
                reply.send(super::whois::answer(node, &target, self.listen, now));
            }
            Request::Down => {
                self.stopping = true;
                tracing::info!("stopping: asked over the control socket");
                reply.ok(&DownAnswer { stopping: true });
            }
            Request::NetworkRotate { grace_s, signed } => {
                reply.send(super::rotation::rotate_request(
                    node,
                    &self.state,
                    grace_s,
                    signed.as_deref(),
                    now,
                ));
            }
            Request::NetworkRevocations { list } => reply.send(revocations(node, &list, now)),
            Request::NetworkHandover { handover } => reply.send(handover_to(node, &handover, now)),
            Request::RecordPublish { key, ttl_s, value } => {
                reply.send(super::records::publish(node, &key, ttl_s, &value, now));
            }
            Request::RecordFetch { key } => self.records.fetch(node, &key, reply, now),
            Request::EngineList => reply.ok(&self.engines.list()),
            #[cfg(feature = "test-hooks")]
            Request::EngineTamper { mode } => reply.send(self.engines.tamper(&mode)),
            Request::TileStatus
            | Request::TileFiles
            | Request::TilePublish { .. }
            | Request::TileAnnounce { .. } => match tiles {
                Some(t) => t.request(Call { request, reply }),
                None => reply.err(ApiError::new(
                    ErrorCode::Unavailable,
                    "this node hosts no tile (start it with --tile)",
                )),
            },
            Request::Scope { args } => self.engines.scope_request(args, reply),
        }
    }

    /// The `status` answer: the node's status with the driver's parts.
    fn status(&self, node: &Node, now: Instant) -> StatusAnswer {
        let mut status = node.status(now);
        status.listen = self.listen.to_string();
        StatusAnswer {
            node: status,
            tcp: self.tcp.status(),
            engines: self.engines.status(),
        }
    }
}

/// The next settings to apply; never resolves if there is no sender (any
/// more).
async fn next_settings(rx: &mut Option<mpsc::Receiver<RuntimeSettings>>) -> RuntimeSettings {
    if let Some(rx) = rx {
        if let Some(s) = rx.recv().await {
            return s;
        }
    }
    std::future::pending().await
}

/// Hands the running node a revocation list (`network_revocations`):
/// answers with its serial and the members whose sessions it closed.
/// `network_handover`: hands the node the owner's handover to a new key.
fn handover_to(node: &mut Node, text: &str, now: Instant) -> Reply {
    let handover = crate::identity::OwnerHandover::from_text(text).map_err(|e| {
        ApiError::bad_request(format!(
            "not an owner handover ({e}): give the tessel-handover-… text"
        ))
    })?;
    let outcome = node
        .apply_owner_handover(now, handover)
        .map_err(|e| ApiError::new(ErrorCode::Failed, e.to_string()))?;
    control::api::reply(&HandoverAnswer {
        owner: outcome.owner.to_string(),
        grace_end_unix_s: outcome.grace_end_s,
    })
}

fn revocations(node: &mut Node, text: &str, now: Instant) -> Reply {
    let list = crate::identity::RevocationList::from_text(text).map_err(|e| {
        ApiError::bad_request(format!(
            "not a revocation list ({e}): give the tessel-revoked-… text"
        ))
    })?;
    let outcome = node
        .apply_revocations(now, list)
        .map_err(|e| ApiError::new(ErrorCode::Failed, e.to_string()))?;
    control::api::reply(&RevocationsAnswer {
        serial: outcome.serial,
        sessions_closed: outcome.sessions_closed,
    })
}
