//! The HTTP side of the metrics endpoint: an HTTP/1.1 server (hyper) that
//! answers `GET /metrics` (and `HEAD`) with the text of one scrape, and
//! 404 for any other path. It owns no node state: each scrape asks the
//! owners for a [`Snapshot`] through [`Sources`].

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::encode::{self, Format};
use super::snapshot::{Snapshot, TileMetrics};
use crate::driver::{http_server, DriverError};

/// The one path served.
pub const METRICS_PATH: &str = "/metrics";
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// How long a scrape waits for the event loop and the tile host.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the event loop's snapshot is answered.
pub(crate) type SnapshotReply = oneshot::Sender<Snapshot>;
/// Where the tile host's counters are answered.
pub(crate) type TileReply = oneshot::Sender<TileMetrics>;

/// Whom a scrape asks: the event loop (node, TCP transport, engines) and,
/// when the node hosts a tile, the tile host.
#[derive(Debug, Clone)]
pub(crate) struct Sources {
    /// The event loop.
    pub(crate) node: mpsc::Sender<SnapshotReply>,
    /// The tile host, if any.
    pub(crate) tile: Option<mpsc::Sender<TileReply>>,
}

impl Sources {
    /// One snapshot from every owner; `None` when the event loop is gone.
    async fn collect(&self) -> Option<Snapshot> {
        let (reply, answer) = oneshot::channel();
        self.node.send(reply).await.ok()?;
        let mut snapshot = answer.await.ok()?;
        if let Some(tile) = &self.tile {
            let (reply, answer) = oneshot::channel();
            if tile.send(reply).await.is_ok() {
                snapshot.tile = answer.await.ok();
            }
        }
        Some(snapshot)
    }
}

/// Binds the endpoint's TCP address (before the node reports itself up,
/// so that a bad address stops the start with a clear error).
///
/// # Errors
/// If the address cannot be bound.
pub(crate) fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, DriverError> {
    let err = |source| DriverError::Metrics { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

/// The running endpoint; dropping it closes the listener and every
/// connection.
pub(crate) struct MetricsServer {
    task: JoinHandle<()>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the bound `listener`, asking `sources` at each scrape.
///
/// # Errors
/// If the listener cannot be registered with the runtime.
pub(crate) fn serve(
    listener: std::net::TcpListener,
    sources: Sources,
) -> Result<MetricsServer, DriverError> {
    let addr = listener.local_addr().ok();
    let listener = TcpListener::from_std(listener).map_err(|source| DriverError::Io {
        context: "serving metrics",
        source,
    })?;
    if let Some(addr) = addr {
        tracing::info!(%addr, "metrics at http://{addr}{METRICS_PATH}");
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "the metrics endpoint listens on a non-loopback address: anyone who reaches it reads the node's counters (use a local address such as 127.0.0.1:9745, or firewall it)");
        }
    }
    Ok(MetricsServer {
        task: tokio::spawn(http_server::serve(
            listener,
            "metrics",
            MAX_CONNECTIONS,
            move |req| {
                let sources = sources.clone();
                async move { answer(&req, &sources).await }
            },
        )),
    })
}

/// The response to one request.
async fn answer(req: &Request<Incoming>, sources: &Sources) -> Response<Full<Bytes>> {
    if req.uri().path() != METRICS_PATH {
        return text(
            StatusCode::NOT_FOUND,
            format!("not found: the metrics are at {METRICS_PATH}\n"),
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let snapshot = match tokio::time::timeout(SNAPSHOT_TIMEOUT, sources.collect()).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node is stopping\n".into(),
            )
        }
        Err(_) => {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node did not answer in time\n".into(),
            )
        }
    };
    match encode::render(snapshot, format) {
        Ok(body) => {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            r
        }
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding failed\n".into(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
