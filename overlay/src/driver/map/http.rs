//! The HTTP side of the map: an HTTP/1.1 server (hyper) with three paths.
//!
//! - `GET /`: the page ([`PAGE`], one HTML file with its script and
//!   style), under a content security policy that allows only that script
//!   and style (by hash) and connections back to this server;
//! - `GET /events`: the event stream ([`super::events`]);
//! - `GET /snapshot.json`: one snapshot, for scripts and curl.
//!
//! Every request passes [`Access::check`] first (421 for a wrong Host,
//! 403 without the token where one is needed); other paths are 404, other
//! methods 405. It owns no node state: snapshots come from a [`Source`].

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::access::{check_address, Access, AddressError, Verdict};
use super::events::{self, EventBody, Feed, Source};
use crate::driver::http_server;

/// The page: one self-contained HTML file.
pub const PAGE: &str = include_str!("page.html");
/// The event stream's path.
pub const EVENTS_PATH: &str = "/events";
/// The one-snapshot path.
pub const SNAPSHOT_PATH: &str = "/snapshot.json";
/// Connections served at once (a page holds two); more are closed.
const MAX_CONNECTIONS: usize = 32;

/// A response of the map.
type Answer = Response<Either<Full<Bytes>, EventBody>>;

/// Why the map cannot listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BindError {
    /// The address is unspecified.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The OS refused.
    #[error("cannot serve the map on {addr}: {source}; choose another address and port")]
    Io {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Binds the map's TCP address (before the node reports itself up, so that
/// a bad address stops the start with a clear error).
///
/// # Errors
/// If the address is unspecified or cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, BindError> {
    check_address(addr)?;
    let err = |source| BindError::Io { addr, source };
    let listener = std::net::TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

/// The running map; dropping it closes the listener, every connection and
/// every event stream.
#[derive(Debug)]
pub struct MapServer {
    accept: JoinHandle<()>,
    refresh: JoinHandle<()>,
    feed: Arc<Feed>,
}

impl MapServer {
    /// Event streams open now (pages watching).
    pub fn viewers(&self) -> usize {
        self.feed.receiver_count()
    }
}

impl Drop for MapServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.refresh.abort();
    }
}

/// Serves the bound `listener` under `access`, asking `source` for a
/// snapshot every `every` while a page watches. Must be called within a
/// tokio runtime.
///
/// # Errors
/// If the listener cannot be registered with the runtime.
pub fn serve(
    listener: std::net::TcpListener,
    access: Access,
    source: Source,
    every: Duration,
) -> std::io::Result<MapServer> {
    let listener = TcpListener::from_std(listener)?;
    let feed = events::feed();
    let refresh = tokio::spawn(events::refresh(feed.clone(), source.clone(), every));
    let shared = Arc::new(Shared {
        access,
        source,
        feed: feed.clone(),
    });
    Ok(MapServer {
        accept: tokio::spawn(http_server::serve(
            listener,
            "map",
            MAX_CONNECTIONS,
            move |req| {
                let shared = shared.clone();
                async move { answer(&req, &shared).await }
            },
        )),
        refresh,
        feed,
    })
}

/// What every connection reads.
#[derive(Debug)]
struct Shared {
    access: Access,
    source: Source,
    feed: Arc<Feed>,
}

/// The response to one request.
async fn answer(req: &Request<Incoming>, shared: &Shared) -> Answer {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let set_cookie = match shared.access.check(host, req.uri().query(), cookies) {
        Verdict::Allow { set_cookie } => set_cookie,
        Verdict::BadHost => {
            let url = shared.access.public_url();
            let why = format!("misdirected request: this map answers for {url} only (its Host)\n");
            return text(StatusCode::MISDIRECTED_REQUEST, why);
        }
        Verdict::Forbidden => {
            return text(
                StatusCode::FORBIDDEN,
                "forbidden: this map needs its token; open the URL with ?token=… that the \
                 node printed at start (also in map-url.txt in its state dir)\n"
                    .to_owned(),
            )
        }
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n".into());
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut r = match req.uri().path() {
        "/" => page(),
        EVENTS_PATH => event_stream(shared),
        SNAPSHOT_PATH => match shared.source.ask().await {
            Some(s) => body(s.to_json(), "application/json"),
            None => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "no snapshot: the node is stopping or did not answer in time\n".into(),
            ),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            format!("not found: the map is at /, its events at {EVENTS_PATH}\n"),
        ),
    };
    if set_cookie {
        if let Some(c) = shared
            .access
            .set_cookie()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
    }
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The page, with its security policy.
fn page() -> Answer {
    let mut r = body(PAGE.to_owned(), "text/html; charset=utf-8");
    if let Ok(csp) = HeaderValue::from_str(content_security_policy()) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    r.headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The page's policy: its own script and style only (by their SHA-256),
/// connections to this server only, no frames, no forms.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |tag: &str| {
            let text = inline(PAGE, tag).unwrap_or_default();
            let digest = Sha256::digest(text.as_bytes());
            format!("'sha256-{}'", data_encoding::BASE64.encode(&digest))
        };
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash("script"),
            hash("style")
        )
    })
}

/// The text of the first `<tag>…</tag>` element of `html`.
fn inline<'a>(html: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = html.find(&open)? + open.len();
    let end = start + html[start..].find(&format!("</{tag}>"))?;
    Some(&html[start..end])
}

fn event_stream(shared: &Shared) -> Answer {
    let stream = events::stream(&shared.feed, shared.source.clone());
    let mut r = Response::new(Either::Right(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r
}

fn body(text: String, content_type: &'static str) -> Answer {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(text))));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, text: String) -> Answer {
    let mut r = body(text, "text/plain; charset=utf-8");
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_one_script_and_one_style_the_policy_names() {
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert_eq!(PAGE.matches("<style>").count(), 1);
        assert!(!PAGE.contains("<script "), "no script with attributes");
        assert!(inline(PAGE, "script").is_some_and(|s| s.len() > 1000));
        let csp = content_security_policy();
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
