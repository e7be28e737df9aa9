//! The responder's sockets: one UDP socket and one TCP listener on the same
//! address. Each query is answered by a task of its own (at most
//! [`MAX_IN_FLIGHT`] at once; beyond that UDP queries get `SERVFAIL` and
//! TCP connections wait), which asks the event loop only for names.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::answer::{answer, read_query, server_failure, Query};
use super::{DnsOptions, NameQuery};

/// Queries being answered at once.
const MAX_IN_FLIGHT: usize = 256;
/// TCP connections served at once.
const MAX_CONNECTIONS: usize = 32;
/// How long a TCP connection may stay idle.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// How long a query waits for the event loop.
const WAIT: Duration = Duration::from_secs(9);

/// Binds UDP and TCP on `opts.listen` and serves them; returns their
/// tasks (none if neither could bind: the log says why).
pub(super) fn start(opts: &DnsOptions, tx: mpsc::Sender<NameQuery>) -> Vec<JoinHandle<()>> {
    let domain = match Name::from_ascii(format!("{}.", opts.domain)) {
        Ok(d) => d.to_lowercase(),
        Err(e) => {
            tracing::warn!(domain = %opts.domain, error = %e, "DNS responder off: bad domain");
            return Vec::new();
        }
    };
    let listen = opts.listen;
    let warn = |proto: &str, e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (a port below 1024 needs root or CAP_NET_BIND_SERVICE; or choose another with --dns-listen)"
        } else if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another server answers there: choose another address with --dns-listen, or --no-dns)"
        } else {
            ""
        };
        tracing::warn!("DNS responder: cannot listen on {proto} {listen}: {e}{hint}; names are not answered there");
    };
    let limit = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = Vec::new();
    match bind_udp(listen) {
        Ok(sock) => tasks.push(tokio::spawn(serve_udp(
            Arc::new(sock),
            domain.clone(),
            tx.clone(),
            limit.clone(),
        ))),
        Err(e) => warn("UDP", e),
    }
    match bind_tcp(listen) {
        Ok(l) => tasks.push(tokio::spawn(serve_tcp(l, domain, tx, limit))),
        Err(e) => warn("TCP", e),
    }
    if !tasks.is_empty() {
        tracing::info!(listen = %listen, domain = %opts.domain, "DNS responder for names: NAME.{}", opts.domain);
    }
    tasks
}

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind(addr)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// The answer to one query, asking the event loop if it is for a name;
/// `None`: no answer at all.
async fn respond(bytes: &[u8], domain: &Name, tx: &mpsc::Sender<NameQuery>) -> Option<Vec<u8>> {
    match read_query(bytes, domain)? {
        Query::Reply(b) => Some(b),
        Query::Lookup { query, name } => {
            let (reply, rx) = oneshot::channel();
            if tx.try_send(NameQuery { name, reply }).is_err() {
                return Some(server_failure(&query));
            }
            match tokio::time::timeout(WAIT, rx).await {
                Ok(Ok(holder)) => Some(answer(&query, holder)),
                _ => Some(server_failure(&query)),
            }
        }
    }
}

async fn serve_udp(
    sock: Arc<UdpSocket>,
    domain: Name,
    tx: mpsc::Sender<NameQuery>,
    limit: Arc<Semaphore>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let bytes = buf[..n].to_vec();
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            // Too busy: say so at once (if it is a query at all).
            if let Some(Query::Lookup { query, .. }) = read_query(&bytes, &domain) {
                let _ = sock.send_to(&server_failure(&query), from).await;
            }
            continue;
        };
        let (sock, domain, tx) = (sock.clone(), domain.clone(), tx.clone());
        tokio::spawn(async move {
            if let Some(out) = respond(&bytes, &domain, &tx).await {
                let _ = sock.send_to(&out, from).await;
            }
            drop(permit);
        });
    }
}

async fn serve_tcp(
    listener: TcpListener,
    domain: Name,
    tx: mpsc::Sender<NameQuery>,
    limit: Arc<Semaphore>,
) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (domain, tx, limit) = (domain.clone(), tx.clone(), limit.clone());
        tokio::spawn(async move {
            serve_connection(stream, &domain, &tx, &limit).await;
            drop(permit);
        });
    }
}

/// Queries on one TCP connection, each with its two-byte length, answered
/// in order, until the client closes it or is idle for [`TCP_IDLE`].
async fn serve_connection(
    mut stream: TcpStream,
    domain: &Name,
    tx: &mpsc::Sender<NameQuery>,
    limit: &Semaphore,
) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut msg)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Ok(_permit) = limit.acquire().await else {
            return;
        };
        let Some(out) = respond(&msg, domain, tx).await else {
            return;
        };
        let Ok(n) = u16::try_from(out.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&out);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}
