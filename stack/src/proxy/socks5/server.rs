//! The SOCKS5 server: accepts clients on a local TCP address and serves each
//! in its own task.
//!
//! A client goes through:
//! 1. **Method negotiation.** Without [`Socks5Config::credentials`], only
//!    "no authentication" is accepted; with them, only username/password
//!    (RFC 1929), and a client whose username or password is wrong gets
//!    status 1 and is closed. A client that does not offer the method gets
//!    "no acceptable methods" and is closed.
//! 2. **Request.** CONNECT and UDP ASSOCIATE are served; anything else gets
//!    the matching error reply and is closed. Negotiation and request together
//!    must arrive within [`Socks5Config::handshake_timeout`], or the
//!    connection is closed. Garbage gets an error reply where the protocol has
//!    one (a greeting with the wrong version has none: it is just closed).
//! 3. **CONNECT**: the server opens an overlay connection (bounded by
//!    [`Socks5Config::connect_timeout`]), replies with its local address and
//!    copies bytes both ways until both sides are done. A failed connection
//!    gets "connection refused", "host unreachable", "network unreachable",
//!    "TTL expired" (timed out) or "general failure".
//! 4. **UDP ASSOCIATE**: the server binds a local UDP socket for the client
//!    (on the address the client reached the server at) and an overlay UDP
//!    socket, and relays datagrams: from the client, the SOCKS UDP header
//!    names the destination; to the client, it names the overlay sender. Only
//!    datagrams from the client's address are relayed (its IP address from the
//!    request, or else the control connection's; its port from the request,
//!    or else the first datagram's). Datagrams from any overlay sender are
//!    relayed back. The association ends when the control connection closes.
//!
//! After an error reply the server stops sending, reads what the client still
//! sends for a short while (so the reply is not lost to a reset) and closes.
//! At most [`Socks5Config::max_clients`] clients are served at once; beyond
//! that, new connections are closed at once.

use std::{
    fmt, io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    task::JoinSet,
    time::timeout,
};
use tracing::{debug, error, trace, warn};
use zeroize::Zeroizing;

use super::wire::{
    self, canonical, emit_method_selection, emit_reply, emit_user_pass_status, Command, Greeting,
    ReplyCode, Request, UdpPacket, UserPass, WireError, MAX_UDP_HEADER_LEN, METHOD_NONE_ACCEPTABLE,
    METHOD_NO_AUTH, METHOD_USER_PASS,
};
use crate::proxy::{Overlay, OverlayDatagram, OverlayStream};

/// After an error reply, how long the server keeps reading before it closes.
const LINGER: Duration = Duration::from_secs(1);
/// After an error reply, how many bytes the server reads at most before it closes.
const LINGER_BYTES: usize = 64 * 1024;
/// Pause after a failed `accept` (for example out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// How the SOCKS5 server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5Config {
    /// Where it listens. Default `127.0.0.1:1080`.
    pub listen: SocketAddr,
    /// Whether `listen` may be a non-loopback address. Default `false`: the
    /// proxy has no authentication, so anyone who can reach it can use the
    /// overlay as this node; listening on a LAN address must be asked for.
    pub allow_non_loopback: bool,
    /// How many clients are served at once; more are closed at once.
    /// Default 1024.
    pub max_clients: usize,
    /// How long a client has to send its greeting and request. Default 10 s.
    pub handshake_timeout: Duration,
    /// How long opening an overlay connection may take before the client gets
    /// "TTL expired". Default 10 s.
    pub connect_timeout: Duration,
    /// The username and password clients must give (RFC 1929), if any.
    /// Default none: no authentication.
    pub credentials: Option<Credentials>,
}

/// A username and password for the SOCKS5 proxy (each 1 to 255 bytes).
/// The password is wiped from memory when dropped and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: Zeroizing<String>,
}

impl Credentials {
    /// Credentials from `USER:PASSWORD` (the password may hold colons).
    ///
    /// # Errors
    /// Returns an error if there is no colon, or either part is empty or
    /// longer than 255 bytes.
    pub fn parse(text: &str) -> Result<Self, CredentialsError> {
        let (user, password) = text.split_once(':').ok_or(CredentialsError)?;
        let ok = |s: &str| (1..=255).contains(&s.len());
        if !ok(user) || !ok(password) {
            return Err(CredentialsError);
        }
        Ok(Self {
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
        })
    }

    /// Whether `user` and `password` match, compared in constant time.
    fn matches(&self, user: &[u8], password: &[u8]) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        };
        // Both compared, whatever the first gives.
        let u = eq(self.user.as_bytes(), user);
        let p = eq(self.password.as_bytes(), password);
        u & p
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}:…)", self.user)
    }
}

/// SOCKS5 credentials that are not `USER:PASSWORD` with both parts 1 to 255
/// bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("SOCKS5 credentials are USER:PASSWORD, each 1 to 255 bytes")]
pub struct CredentialsError;

impl Default for Socks5Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1080),
            allow_non_loopback: false,
            max_clients: 1024,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            credentials: None,
        }
    }
}

/// Why the SOCKS5 server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Socks5Error {
    /// The listen address is not a loopback address and that was not allowed.
    #[error(
        "refusing to run the SOCKS5 proxy on {0}: whoever reaches it uses the overlay as this \
         node (its password, if set, crosses the network in clear text), so it listens only \
         on loopback addresses (127.0.0.1, ::1) unless non-loopback addresses are explicitly \
         allowed"
    )]
    NotLoopback(SocketAddr),
    /// Listening failed.
    #[error("cannot listen for SOCKS5 clients on {addr}: {source}")]
    Bind {
        /// The listen address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// A SOCKS5 server listening on a local address, ready to [`run`](Self::run).
pub struct Socks5Server<O: Overlay> {
    listener: TcpListener,
    local_addr: SocketAddr,
    overlay: O,
    config: Arc<Socks5Config>,
}

impl<O: Overlay> fmt::Debug for Socks5Server<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5Server")
            .field("local_addr", &self.local_addr)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<O: Overlay> Socks5Server<O> {
    /// Checks the configuration and listens on `config.listen`.
    ///
    /// # Errors
    /// [`Socks5Error::NotLoopback`] for a non-loopback address that is not
    /// allowed; [`Socks5Error::Bind`] if listening fails.
    pub async fn bind(config: Socks5Config, overlay: O) -> Result<Self, Socks5Error> {
        let addr = config.listen;
        if !addr.ip().to_canonical().is_loopback() && !config.allow_non_loopback {
            return Err(Socks5Error::NotLoopback(addr));
        }
        let bind_err = |source| Socks5Error::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
        let local_addr = listener.local_addr().map_err(bind_err)?;
        Ok(Self {
            listener,
            local_addr,
            overlay,
            config: Arc::new(config),
        })
    }

    /// The address it listens on (with the actual port if `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves clients until the future is dropped; dropping it closes the
    /// listener and ends every client's connections and associations.
    pub async fn run(self) {
        let mut clients = JoinSet::new();
        loop {
            let (tcp, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "SOCKS5: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            while let Some(done) = clients.try_join_next() {
                if let Err(e) = done {
                    error!(error = %e, "SOCKS5: client task failed");
                }
            }
            if clients.len() >= self.config.max_clients {
                debug!(%peer, max = self.config.max_clients, "SOCKS5: too many clients, closing");
                continue;
            }
            clients.spawn(serve_client(
                tcp,
                peer,
                self.overlay.clone(),
                self.config.clone(),
            ));
        }
    }
}

/// Why a client's handshake ended.
#[derive(Debug, thiserror::Error)]
enum HandshakeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("no acceptable authentication method offered")]
    NoAcceptableMethod,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("BIND is not supported")]
    Bind,
    #[error("timed out")]
    TimedOut,
}

/// What a client asked for, once the handshake succeeded.
enum Accepted {
    Connect(SocketAddr),
    UdpAssociate(SocketAddr),
}

async fn serve_client<O: Overlay>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    overlay: O,
    config: Arc<Socks5Config>,
) {
    let _ = tcp.set_nodelay(true);
    let credentials = config.credentials.as_ref();
    let accepted = match timeout(config.handshake_timeout, handshake(&mut tcp, credentials)).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "SOCKS5: handshake failed");
            return;
        }
        Err(_) => {
            debug!(%peer, error = %HandshakeError::TimedOut, "SOCKS5: handshake failed");
            return;
        }
    };
    match accepted {
        Accepted::Connect(to) => connect(tcp, peer, to, &overlay, &config).await,
        Accepted::UdpAssociate(hint) => associate(tcp, peer, hint, &overlay).await,
    }
}

/// Reads one message into `buf`, asking `parse` how long it is and reading
/// exactly the missing bytes (never past the message, so that data a client
/// sends right after its request is not lost).
async fn read_message<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    parse: impl Fn(&[u8]) -> Result<usize, WireError>,
) -> Result<(), HandshakeError> {
    buf.clear();
    loop {
        match parse(buf) {
            Ok(_) => return Ok(()),
            Err(WireError::Truncated { need, .. }) => {
                let have = buf.len();
                buf.resize(need, 0);
                r.read_exact(&mut buf[have..]).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Method negotiation and request; on an error with a reply, sends it and
/// closes.
async fn handshake(
    tcp: &mut TcpStream,
    credentials: Option<&Credentials>,
) -> Result<Accepted, HandshakeError> {
    let mut buf = Vec::with_capacity(wire::MAX_ADDRESS_LEN + 3);
    read_message(tcp, &mut buf, |b| {
        Greeting::new_checked(b).map(|g| g.message_len())
    })
    .await?;
    let method = match credentials {
        Some(_) => METHOD_USER_PASS,
        None => METHOD_NO_AUTH,
    };
    if !Greeting::new_checked(&buf[..])?.offers(method) {
        tcp.write_all(&emit_method_selection(METHOD_NONE_ACCEPTABLE))
            .await?;
        close_after_error(tcp).await;
        return Err(HandshakeError::NoAcceptableMethod);
    }
    tcp.write_all(&emit_method_selection(method)).await?;
    if let Some(credentials) = credentials {
        let mut auth = Zeroizing::new(Vec::with_capacity(3 + 2 * 255));
        read_message(tcp, &mut auth, |b| {
            UserPass::new_checked(b).map(|u| u.message_len())
        })
        .await?;
        let given = UserPass::new_checked(&auth[..])?;
        let ok = credentials.matches(given.user(), given.password());
        tcp.write_all(&emit_user_pass_status(ok)).await?;
        if !ok {
            close_after_error(tcp).await;
            return Err(HandshakeError::BadCredentials);
        }
    }

    let parsed = read_message(tcp, &mut buf, |b| {
        Request::new_checked(b).map(|r| r.message_len())
    })
    .await
    .and_then(|()| {
        let request = Request::new_checked(&buf[..])?;
        let command = request.command()?;
        let to = request.destination().to_socket_addr()?;
        match command {
            Command::Connect => Ok(Accepted::Connect(to)),
            Command::UdpAssociate => Ok(Accepted::UdpAssociate(to)),
            Command::Bind => Err(HandshakeError::Bind),
        }
    });
    let code = match &parsed {
        Ok(_) => return parsed,
        Err(HandshakeError::Wire(e)) => e.reply_code(),
        Err(HandshakeError::Bind) => Some(ReplyCode::CommandNotSupported),
        Err(_) => None,
    };
    if let Some(code) = code {
        send_error(tcp, code).await;
    }
    parsed
}

/// Sends an error reply and closes.
async fn send_error(tcp: &mut TcpStream, code: ReplyCode) {
    let mut reply = Vec::with_capacity(10);
    emit_reply(code, unspecified(), &mut reply);
    if tcp.write_all(&reply).await.is_ok() {
        close_after_error(tcp).await;
    }
}

/// Stops sending, then reads and discards what the client still sends, for
/// at most [`LINGER`] and [`LINGER_BYTES`]: closing with unread data would
/// reset the connection, and the client could lose the reply.
async fn close_after_error(tcp: &mut TcpStream) {
    if tcp.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut scratch = [0u8; 1024];
        let mut total = 0;
        while total < LINGER_BYTES {
            match tcp.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = timeout(LINGER, drain).await;
}

fn unspecified() -> SocketAddr {
    SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)
}

/// The reply for a failed overlay connection.
fn reply_for(e: &io::Error) -> ReplyCode {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ReplyCode::ConnectionRefused,
        io::ErrorKind::HostUnreachable => ReplyCode::HostUnreachable,
        io::ErrorKind::NetworkUnreachable => ReplyCode::NetworkUnreachable,
        io::ErrorKind::TimedOut => ReplyCode::TtlExpired,
        _ => ReplyCode::GeneralFailure,
    }
}

async fn connect<O: Overlay>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    to: SocketAddr,
    overlay: &O,
    config: &Socks5Config,
) {
    let mut overlay_stream = match timeout(config.connect_timeout, overlay.connect(to)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            debug!(%peer, %to, error = %e, "SOCKS5: CONNECT failed");
            send_error(&mut tcp, reply_for(&e)).await;
            return;
        }
        Err(_) => {
            debug!(%peer, %to, "SOCKS5: CONNECT timed out");
            send_error(&mut tcp, ReplyCode::TtlExpired).await;
            return;
        }
    };
    let bound = canonical(overlay_stream.local_addr());
    let mut reply = Vec::with_capacity(22);
    emit_reply(ReplyCode::Succeeded, bound, &mut reply);
    if let Err(e) = tcp.write_all(&reply).await {
        debug!(%peer, error = %e, "SOCKS5: client went away");
        return;
    }
    trace!(%peer, %to, "SOCKS5: connected");
    match tokio::io::copy_bidirectional(&mut tcp, &mut overlay_stream).await {
        Ok((up, down)) => trace!(%peer, %to, up, down, "SOCKS5: connection done"),
        Err(e) => debug!(%peer, %to, error = %e, "SOCKS5: connection ended"),
    }
}

async fn associate<O: Overlay>(
    mut tcp: TcpStream,
    peer: SocketAddr,
    hint: SocketAddr,
    overlay: &O,
) {
    let sockets = async {
        let local_ip = tcp.local_addr()?.ip();
        let client_side = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
        let bound = canonical(client_side.local_addr()?);
        let overlay_side = overlay.bind_udp(0).await?;
        io::Result::Ok((client_side, bound, overlay_side))
    };
    let (client_side, bound, overlay_side) = match sockets.await {
        Ok(s) => s,
        Err(e) => {
            warn!(%peer, error = %e, "SOCKS5: cannot bind UDP sockets for UDP ASSOCIATE");
            send_error(&mut tcp, ReplyCode::GeneralFailure).await;
            return;
        }
    };
    let mut reply = Vec::with_capacity(22);
    emit_reply(ReplyCode::Succeeded, bound, &mut reply);
    if tcp.write_all(&reply).await.is_err() {
        return;
    }
    let expected = ExpectedClient {
        ip: if hint.ip().is_unspecified() {
            peer.ip().to_canonical()
        } else {
            hint.ip()
        },
        port: hint.port(),
    };
    debug!(%peer, %bound, "SOCKS5: UDP association started");
    let result = relay_udp(&mut tcp, &client_side, &overlay_side, expected).await;
    debug!(%peer, %bound, ?result, "SOCKS5: UDP association ended");
}

/// Where a client's datagrams must come from.
struct ExpectedClient {
    ip: IpAddr,
    /// 0: any port; the first datagram fixes it.
    port: u16,
}

/// Relays datagrams until the control connection closes (or a socket fails).
async fn relay_udp<D: OverlayDatagram>(
    control: &mut TcpStream,
    client_side: &UdpSocket,
    overlay_side: &D,
    expected: ExpectedClient,
) -> io::Result<()> {
    let mut control_buf = [0u8; 256];
    let mut up = vec![0u8; MAX_DATAGRAM];
    // Room for the header in front of the data, so it is written in place.
    let mut down = vec![0u8; MAX_UDP_HEADER_LEN + MAX_DATAGRAM];
    let mut client: Option<SocketAddr> = None;
    loop {
        tokio::select! {
            r = control.read(&mut control_buf) => {
                // The client sends nothing more on the control connection; any
                // bytes are ignored, end of stream ends the association.
                if r? == 0 {
                    return Ok(());
                }
            }
            r = client_side.recv_from(&mut up) => {
                let (n, from) = r?;
                let wanted = from.ip().to_canonical() == expected.ip
                    && (expected.port == 0 || from.port() == expected.port)
                    && client.is_none_or(|c| c == from);
                if !wanted {
                    trace!(%from, "SOCKS5: datagram from a stranger dropped");
                    continue;
                }
                let parsed = UdpPacket::new_checked(&up[..n])
                    .and_then(|p| Ok((p.header_len(), p.destination().to_socket_addr()?)));
                let (header_len, to) = match parsed {
                    Ok(v) => v,
                    Err(e) => {
                        trace!(%from, error = %e, "SOCKS5: datagram dropped");
                        continue;
                    }
                };
                client = Some(from);
                if let Err(e) = overlay_side.send_to(&up[header_len..n], to).await {
                    debug!(%to, error = %e, "SOCKS5: UDP send to overlay failed");
                }
            }
            r = overlay_side.recv_from(&mut down[MAX_UDP_HEADER_LEN..]) => {
                let (n, from) = r?;
                let Some(client) = client else { continue };
                let from = canonical(from);
                let start = MAX_UDP_HEADER_LEN - wire::udp_header_len(from);
                wire::emit_udp_header(from, &mut down[start..]);
                let datagram = &down[start..MAX_UDP_HEADER_LEN + n];
                if let Err(e) = client_side.send_to(datagram, client).await {
                    debug!(%client, error = %e, "SOCKS5: UDP send to client failed");
                }
            }
        }
    }
}
