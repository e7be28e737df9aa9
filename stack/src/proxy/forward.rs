//! Port forwards between this machine and the overlay.
//!
//! * A **forward** (`--forward tcp:127.0.0.1:8080=PEER_IP:80`) listens on a
//!   local address and carries each connection, or each client's datagrams,
//!   to a peer's service over the overlay.
//! * An **expose** (`--expose tcp:80=127.0.0.1:8080`) listens on a port of
//!   this node's overlay addresses and carries each connection, or each
//!   overlay client's datagrams, to a local service.
//!
//! Specs ([`ForwardSpec`], [`ExposeSpec`]) parse from those strings:
//!
//! ```text
//! --forward PROTO:LOCAL_ADDR:PORT=PEER_IP:PORT     e.g. tcp:127.0.0.1:8080=100.64.0.7:80
//!                                                       udp:[::1]:5353=[fd00::7]:53
//! --expose  PROTO:PORT=LOCAL_ADDR:PORT             e.g. tcp:80=127.0.0.1:8080
//! ```
//!
//! PROTO is `tcp` or `udp`; addresses are IP addresses (IPv6 in brackets),
//! never names (the overlay has no name service); ports are 1 to 65535. A
//! local address may be left out, meaning `127.0.0.1` (`tcp:8080=PEER_IP:80`,
//! `tcp:80=8080`). A forward may listen on a non-loopback address: that makes
//! the peer's service reachable from this machine's network, which is what
//! writing such an address asks for.
//!
//! **TCP**: per accepted connection, the target is dialled with a bounded
//! timeout ([`ForwardOptions::connect_timeout`]), then bytes are copied both
//! ways until both sides are done. TCP cannot refuse a connection after
//! accepting it, so an unreachable target (refused, unreachable or timed out)
//! shows as a connection that closes without data: promptly when the target
//! refuses, after at most the connect timeout when it does not answer.
//!
//! **UDP**: each client address gets its own socket toward the target (so the
//! target can tell clients apart, and replies go back to the right one); only
//! datagrams from the target are relayed back. A mapping unused in either
//! direction for [`ForwardOptions::udp_idle_timeout`] is dropped.
//!
//! Each forward serves at most [`ForwardOptions::max_connections`] TCP
//! connections or UDP clients at once; beyond that, new connections are
//! closed and new clients' datagrams dropped.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    str::FromStr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream, UdpSocket},
    task::{AbortHandle, JoinSet},
    time::{timeout, Instant},
};
use tracing::{debug, error, trace, warn};

use super::{socks5::wire::canonical, Overlay, OverlayDatagram, OverlayListener};

/// The form of a `--forward` spec, for error messages.
pub const FORWARD_FORM: &str = "tcp:LOCAL_ADDR:PORT=PEER_IP:PORT or \
    udp:LOCAL_ADDR:PORT=PEER_IP:PORT (e.g. tcp:127.0.0.1:8080=100.64.0.7:80)";
/// The form of an `--expose` spec, for error messages.
pub const EXPOSE_FORM: &str =
    "tcp:PORT=LOCAL_ADDR:PORT or udp:PORT=LOCAL_ADDR:PORT (e.g. tcp:80=127.0.0.1:8080)";

/// Pause after a failed `accept` or `recv_from` on a listening socket.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP: connections.
    Tcp,
    /// UDP: datagrams.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        })
    }
}

/// A `--forward`: a local address to a peer's service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForwardSpec {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Where to listen on this machine.
    pub local: SocketAddr,
    /// The peer's overlay address and port.
    pub remote: SocketAddr,
}

/// An `--expose`: a port of this node's overlay addresses to a local service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExposeSpec {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The overlay port to listen on.
    pub port: u16,
    /// The local service.
    pub local: SocketAddr,
}

/// A spec that does not parse: the spec, what is wrong and the right form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{spec}`: {problem}; the form is {form}")]
pub struct SpecError {
    spec: String,
    problem: SpecProblem,
    form: &'static str,
}

impl SpecError {
    /// What is wrong.
    pub fn problem(&self) -> &SpecProblem {
        &self.problem
    }
}

/// What is wrong with a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecProblem {
    /// It does not start with `tcp:` or `udp:`.
    #[error("it does not start with the protocol, tcp: or udp:")]
    MissingProtocol,
    /// It starts with another protocol.
    #[error("unknown protocol `{0}` (tcp or udp)")]
    UnknownProtocol(String),
    /// There is no `=` between the listening side and the target.
    #[error("no `=` between where to listen and where to connect")]
    MissingEquals,
    /// An address that is not an IP address and port.
    #[error(
        "`{0}` is not an IP address and port (IPv6 goes in brackets, as in [fd00::1]:80; \
         names are not resolved)"
    )]
    BadAddress(String),
    /// A port that is not a number from 1 to 65535.
    #[error("`{0}` is not a port number from 1 to 65535")]
    BadPort(String),
}

impl FromStr for ForwardSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let parse = || {
            let (protocol, rest) = split_protocol(s)?;
            let (local, remote) = rest.split_once('=').ok_or(SpecProblem::MissingEquals)?;
            Ok(Self {
                protocol,
                local: parse_local(local)?,
                remote: parse_addr(remote)?,
            })
        };
        parse().map_err(|problem| SpecError {
            spec: s.to_owned(),
            problem,
            form: FORWARD_FORM,
        })
    }
}

impl fmt::Display for ForwardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}={}", self.protocol, self.local, self.remote)
    }
}

impl FromStr for ExposeSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let parse = || {
            let (protocol, rest) = split_protocol(s)?;
            let (port, local) = rest.split_once('=').ok_or(SpecProblem::MissingEquals)?;
            Ok(Self {
                protocol,
                port: parse_port(port)?,
                local: parse_local(local)?,
            })
        };
        parse().map_err(|problem| SpecError {
            spec: s.to_owned(),
            problem,
            form: EXPOSE_FORM,
        })
    }
}

impl fmt::Display for ExposeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}={}", self.protocol, self.port, self.local)
    }
}

fn split_protocol(s: &str) -> Result<(Protocol, &str), SpecProblem> {
    let (protocol, rest) = s.split_once(':').ok_or(SpecProblem::MissingProtocol)?;
    if protocol.eq_ignore_ascii_case("tcp") {
        Ok((Protocol::Tcp, rest))
    } else if protocol.eq_ignore_ascii_case("udp") {
        Ok((Protocol::Udp, rest))
    } else if protocol.is_empty() || !protocol.bytes().all(|b| b.is_ascii_alphabetic()) {
        // An address where the protocol should be: `127.0.0.1:8080=…`, `[::1]:…`.
        Err(SpecProblem::MissingProtocol)
    } else {
        Err(SpecProblem::UnknownProtocol(protocol.to_owned()))
    }
}

fn parse_port(s: &str) -> Result<u16, SpecProblem> {
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(SpecProblem::BadPort(s.to_owned())),
        Ok(port) => Ok(port),
    }
}

/// `IP:PORT`, with IPv6 in brackets; IPv4-mapped IPv6 becomes IPv4.
fn parse_addr(s: &str) -> Result<SocketAddr, SpecProblem> {
    let addr = s
        .parse::<SocketAddr>()
        .map_err(|_| SpecProblem::BadAddress(s.to_owned()))?;
    if addr.port() == 0 {
        return Err(SpecProblem::BadPort("0".to_owned()));
    }
    Ok(canonical(addr))
}

/// `IP:PORT`, or `PORT` alone for `127.0.0.1:PORT`.
fn parse_local(s: &str) -> Result<SocketAddr, SpecProblem> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), parse_port(s)?));
    }
    parse_addr(s)
}

/// Limits of a forward or expose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardOptions {
    /// How long dialling the target of a TCP connection may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How long a UDP client's mapping lives without traffic. Default 60 s.
    pub udp_idle_timeout: Duration,
    /// How many TCP connections or UDP clients are served at once. Default 1024.
    pub max_connections: usize,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            udp_idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// A local socket of a forward.
enum LocalSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// A forward listening on its local address, ready to [`run`](Self::run).
pub struct Forward<O: Overlay> {
    spec: ForwardSpec,
    socket: LocalSocket,
    local_addr: SocketAddr,
    overlay: O,
    options: ForwardOptions,
}

impl<O: Overlay> fmt::Debug for Forward<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("spec", &self.spec)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl<O: Overlay> Forward<O> {
    /// Listens on `spec.local` (port 0: any free port).
    ///
    /// # Errors
    /// If listening fails; the message names the spec.
    pub async fn bind(spec: ForwardSpec, overlay: O, options: ForwardOptions) -> io::Result<Self> {
        let bound = async {
            Ok(match spec.protocol {
                Protocol::Tcp => {
                    let l = TcpListener::bind(spec.local).await?;
                    let a = l.local_addr()?;
                    (LocalSocket::Tcp(l), a)
                }
                Protocol::Udp => {
                    let s = UdpSocket::bind(spec.local).await?;
                    let a = s.local_addr()?;
                    (LocalSocket::Udp(s), a)
                }
            })
        };
        let (socket, local_addr) = bound.await.map_err(|e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("forward {spec}: cannot listen on {}: {e}", spec.local),
            )
        })?;
        Ok(Self {
            spec,
            socket,
            local_addr,
            overlay,
            options,
        })
    }

    /// What it forwards.
    pub fn spec(&self) -> &ForwardSpec {
        &self.spec
    }

    /// The local address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Forwards until the future is dropped; dropping it closes the listening
    /// socket and every connection and mapping.
    pub async fn run(self) {
        let remote = self.spec.remote;
        let overlay = self.overlay;
        match self.socket {
            LocalSocket::Tcp(listener) => {
                let dial = move || {
                    let overlay = overlay.clone();
                    async move { overlay.connect(remote).await }
                };
                serve_tcp(listener, dial, self.spec.to_string(), self.options).await;
            }
            LocalSocket::Udp(socket) => {
                let open = move || {
                    let overlay = overlay.clone();
                    async move { overlay.bind_udp(0).await }
                };
                serve_udp(socket, remote, open, self.spec.to_string(), self.options).await;
            }
        }
    }
}

/// An overlay socket of an expose.
enum OverlaySocket<O: Overlay> {
    Tcp(O::Listener),
    Udp(O::Datagram),
}

/// An expose listening on its overlay port, ready to [`run`](Self::run).
pub struct Expose<O: Overlay> {
    spec: ExposeSpec,
    socket: OverlaySocket<O>,
    overlay_port: u16,
    options: ForwardOptions,
}

impl<O: Overlay> fmt::Debug for Expose<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expose")
            .field("spec", &self.spec)
            .field("overlay_port", &self.overlay_port)
            .finish_non_exhaustive()
    }
}

impl<O: Overlay> Expose<O> {
    /// Listens on `spec.port` of the overlay.
    ///
    /// # Errors
    /// If listening fails; the message names the spec.
    pub async fn bind(spec: ExposeSpec, overlay: O, options: ForwardOptions) -> io::Result<Self> {
        let bound = async {
            Ok(match spec.protocol {
                Protocol::Tcp => {
                    let l = overlay.listen(spec.port).await?;
                    let port = l.local_port();
                    (OverlaySocket::Tcp(l), port)
                }
                Protocol::Udp => {
                    let s = overlay.bind_udp(spec.port).await?;
                    let port = s.local_port();
                    (OverlaySocket::Udp(s), port)
                }
            })
        };
        let (socket, overlay_port) = bound.await.map_err(|e: io::Error| {
            io::Error::new(
                e.kind(),
                format!(
                    "expose {spec}: cannot listen on overlay port {}: {e}",
                    spec.port
                ),
            )
        })?;
        Ok(Self {
            spec,
            socket,
            overlay_port,
            options,
        })
    }

    /// What it exposes.
    pub fn spec(&self) -> &ExposeSpec {
        &self.spec
    }

    /// The overlay port it listens on (the spec's port, unless that was 0).
    pub fn overlay_port(&self) -> u16 {
        self.overlay_port
    }

    /// Serves until the future is dropped; dropping it closes the overlay
    /// socket and every connection and mapping.
    pub async fn run(self) {
        let local = self.spec.local;
        match self.socket {
            OverlaySocket::Tcp(listener) => {
                let dial = move || TcpStream::connect(local);
                serve_tcp(listener, dial, self.spec.to_string(), self.options).await;
            }
            OverlaySocket::Udp(socket) => {
                let open = move || {
                    let ip = match local.ip() {
                        ip if ip.is_loopback() => ip,
                        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
                    };
                    UdpSocket::bind(SocketAddr::new(ip, 0))
                };
                serve_udp(socket, local, open, self.spec.to_string(), self.options).await;
            }
        }
    }
}

/// Accepts connections and joins each to a new connection from `dial`.
async fn serve_tcp<L, D, F, S>(mut listener: L, dial: D, name: String, options: ForwardOptions)
where
    L: OverlayListener,
    D: Fn() -> F,
    F: Future<Output = io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let (mut inbound, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(forward = %name, error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        while let Some(done) = connections.try_join_next() {
            if let Err(e) = done {
                error!(forward = %name, error = %e, "connection task failed");
            }
        }
        if connections.len() >= options.max_connections {
            debug!(forward = %name, %peer, "too many connections, closing");
            continue;
        }
        let dialling = timeout(options.connect_timeout, dial());
        let name = name.clone();
        connections.spawn(async move {
            let mut outbound = match dialling.await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(forward = %name, %peer, error = %e, "target unreachable, closing");
                    return;
                }
                Err(_) => {
                    debug!(forward = %name, %peer, "connecting to the target timed out, closing");
                    return;
                }
            };
            match tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await {
                Ok((up, down)) => trace!(forward = %name, %peer, up, down, "connection done"),
                Err(e) => debug!(forward = %name, %peer, error = %e, "connection ended"),
            }
        });
    }
}

/// A UDP client's mapping.
struct Mapping<B> {
    /// The socket toward the target.
    socket: Arc<B>,
    /// Milliseconds since the relay's start at the last datagram either way.
    last_active: Arc<AtomicU64>,
    /// The task relaying the target's replies.
    replies: AbortHandle,
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Relays datagrams from clients of `front` to `target`, each client through
/// its own socket from `open`, and the target's replies back.
async fn serve_udp<Fr, B, M, F>(
    front: Fr,
    target: SocketAddr,
    open: M,
    name: String,
    options: ForwardOptions,
) where
    Fr: OverlayDatagram,
    B: OverlayDatagram,
    M: Fn() -> F,
    F: Future<Output = io::Result<B>>,
{
    let front = Arc::new(front);
    let epoch = crate::clock::now();
    let idle_ms = u64::try_from(options.udp_idle_timeout.as_millis()).unwrap_or(u64::MAX);
    let mut sweep = tokio::time::interval(
        (options.udp_idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5)),
    );
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut mappings: HashMap<SocketAddr, Mapping<B>> = HashMap::new();
    let mut reply_tasks = JoinSet::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            r = front.recv_from(&mut buf) => {
                let (n, client) = match r {
                    Ok(received) => received,
                    Err(e) => {
                        warn!(forward = %name, error = %e, "receive failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if !mappings.contains_key(&client) {
                    if mappings.len() >= options.max_connections {
                        debug!(forward = %name, %client, "too many UDP clients, datagram dropped");
                        continue;
                    }
                    let socket = match open().await {
                        Ok(s) => Arc::new(s),
                        Err(e) => {
                            warn!(forward = %name, error = %e, "cannot open a UDP socket toward the target");
                            continue;
                        }
                    };
                    let last_active = Arc::new(AtomicU64::new(millis_since(epoch)));
                    let replies = reply_tasks.spawn(relay_replies(
                        socket.clone(),
                        front.clone(),
                        client,
                        target,
                        last_active.clone(),
                        epoch,
                    ));
                    trace!(forward = %name, %client, "UDP mapping created");
                    mappings.insert(client, Mapping { socket, last_active, replies });
                }
                let Some(mapping) = mappings.get(&client) else { continue };
                mapping.last_active.store(millis_since(epoch), Ordering::Relaxed);
                if let Err(e) = mapping.socket.send_to(&buf[..n], target).await {
                    debug!(forward = %name, %client, error = %e, "UDP send to the target failed");
                }
            }
            _ = sweep.tick() => {
                let now = millis_since(epoch);
                mappings.retain(|client, m| {
                    let live = now.saturating_sub(m.last_active.load(Ordering::Relaxed)) < idle_ms;
                    if !live {
                        trace!(forward = %name, %client, "UDP mapping idle, dropped");
                        m.replies.abort();
                    }
                    live
                });
                while reply_tasks.try_join_next().is_some() {}
            }
        }
    }
}

/// Sends the target's datagrams on `socket` back to `client` through `front`.
async fn relay_replies<B: OverlayDatagram, Fr: OverlayDatagram>(
    socket: Arc<B>,
    front: Arc<Fr>,
    client: SocketAddr,
    target: SocketAddr,
    last_active: Arc<AtomicU64>,
    epoch: Instant,
) {
    let target = canonical(target);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // An earlier datagram met a closed port; the target may come back.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => {
                debug!(%client, error = %e, "UDP receive from the target failed");
                return;
            }
        };
        if canonical(from) != target {
            trace!(%from, "UDP datagram from other than the target dropped");
            continue;
        }
        last_active.store(millis_since(epoch), Ordering::Relaxed);
        if let Err(e) = front.send_to(&buf[..n], client).await {
            debug!(%client, error = %e, "UDP send to the client failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forward_specs() {
        let f: ForwardSpec = "tcp:127.0.0.1:8080=100.64.0.7:80".parse().unwrap();
        assert_eq!(
            f,
            ForwardSpec {
                protocol: Protocol::Tcp,
                local: sa("127.0.0.1:8080"),
                remote: sa("100.64.0.7:80"),
            }
        );
        assert_eq!(f.to_string(), "tcp:127.0.0.1:8080=100.64.0.7:80");

        let f: ForwardSpec = "udp:[::1]:5353=[fd00::7]:53".parse().unwrap();
        assert_eq!(f.protocol, Protocol::Udp);
        assert_eq!(f.local, sa("[::1]:5353"));
        assert_eq!(f.remote, sa("[fd00::7]:53"));
        assert_eq!(f.to_string(), "udp:[::1]:5353=[fd00::7]:53");

        let f: ForwardSpec = "TCP:8080=[::ffff:100.64.0.7]:80".parse().unwrap();
        assert_eq!(f.local, sa("127.0.0.1:8080"));
        assert_eq!(f.remote, sa("100.64.0.7:80"));
    }

    #[test]
    fn expose_specs() {
        let e: ExposeSpec = "tcp:80=127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            e,
            ExposeSpec {
                protocol: Protocol::Tcp,
                port: 80,
                local: sa("127.0.0.1:8080"),
            }
        );
        assert_eq!(e.to_string(), "tcp:80=127.0.0.1:8080");
        let e: ExposeSpec = "udp:53=[::1]:5353".parse().unwrap();
        assert_eq!(e.local, sa("[::1]:5353"));
        let e: ExposeSpec = "udp:53=5353".parse().unwrap();
        assert_eq!(e.local, sa("127.0.0.1:5353"));
    }

    fn forward_problem(s: &str) -> SpecProblem {
        let e = s.parse::<ForwardSpec>().unwrap_err();
        let message = e.to_string();
        assert!(message.contains(FORWARD_FORM), "{message}");
        assert!(message.contains(s), "{message}");
        e.problem().clone()
    }

    fn expose_problem(s: &str) -> SpecProblem {
        let e = s.parse::<ExposeSpec>().unwrap_err();
        assert!(e.to_string().contains(EXPOSE_FORM), "{e}");
        e.problem().clone()
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        use SpecProblem::*;
        assert_eq!(forward_problem(""), MissingProtocol);
        assert_eq!(
            forward_problem("127.0.0.1:8080=100.64.0.7:80"),
            MissingProtocol
        );
        assert_eq!(forward_problem("[::1]:8080=[fd00::7]:80"), MissingProtocol);
        assert_eq!(
            forward_problem("sctp:127.0.0.1:8080=100.64.0.7:80"),
            UnknownProtocol("sctp".into())
        );
        assert_eq!(forward_problem("tcp:127.0.0.1:8080"), MissingEquals);
        assert_eq!(
            forward_problem("tcp:127.0.0.1:8080=peer.example:80"),
            BadAddress("peer.example:80".into())
        );
        assert_eq!(
            forward_problem("tcp:127.0.0.1:8080=fd00::7:80"),
            BadAddress("fd00::7:80".into())
        );
        assert_eq!(
            forward_problem("tcp:127.0.0.1:8080=100.64.0.7"),
            BadAddress("100.64.0.7".into())
        );
        assert_eq!(
            forward_problem("tcp:127.0.0.1:8080=100.64.0.7:0"),
            BadPort("0".into())
        );
        assert_eq!(
            forward_problem("tcp:127.0.0.1:99999=100.64.0.7:80"),
            BadAddress("127.0.0.1:99999".into())
        );
        assert_eq!(forward_problem("tcp:0=100.64.0.7:80"), BadPort("0".into()));
        assert_eq!(forward_problem("tcp:=100.64.0.7:80"), BadAddress("".into()));

        assert_eq!(
            expose_problem("tcp:http=127.0.0.1:8080"),
            BadPort("http".into())
        );
        assert_eq!(expose_problem("tcp:0=127.0.0.1:8080"), BadPort("0".into()));
        assert_eq!(
            expose_problem("tcp:70000=127.0.0.1:8080"),
            BadPort("70000".into())
        );
        assert_eq!(expose_problem("tcp:80"), MissingEquals);
        assert_eq!(
            expose_problem("tcp:80=localhost:8080"),
            BadAddress("localhost:8080".into())
        );
        assert_eq!(
            expose_problem("icmp:80=127.0.0.1:8080"),
            UnknownProtocol("icmp".into())
        );
        // A forward spec given to --expose.
        assert_eq!(
            expose_problem("tcp:127.0.0.1:8080=100.64.0.7:80"),
            BadPort("127.0.0.1:8080".into())
        );
    }

    #[test]
    fn error_message() {
        let e = "tcp:8080=peer:80".parse::<ForwardSpec>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "`tcp:8080=peer:80`: `peer:80` is not an IP address and port (IPv6 goes in \
             brackets, as in [fd00::1]:80; names are not resolved); the form is \
             tcp:LOCAL_ADDR:PORT=PEER_IP:PORT or udp:LOCAL_ADDR:PORT=PEER_IP:PORT \
             (e.g. tcp:127.0.0.1:8080=100.64.0.7:80)"
        );
    }
}
