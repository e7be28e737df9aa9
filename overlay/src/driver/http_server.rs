//! The small HTTP/1 server under the metrics endpoint and the live map:
//! accepts connections up to a limit, serves each with hyper (a bounded
//! wait for the request's headers), and answers every request with the
//! caller's handler. Aborting the task that runs [`serve`] closes every
//! connection.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait after a failed accept (out of file descriptors and the
/// like) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `listener` until aborted: at most `max_connections` at a time
/// (more are closed at once), each request answered by `handler`. `what`
/// names the server in debug logs.
pub(crate) async fn serve<H, F, B>(
    listener: TcpListener,
    what: &'static str,
    max_connections: usize,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Aborting this task drops the set, which aborts every connection.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) if conns.len() < max_connections => {
                    conns.spawn(connection(stream, what, handler.clone()));
                }
                Ok(_) => tracing::debug!(server = what, "too many connections, one refused"),
                Err(e) => {
                    tracing::debug!(server = what, error = %e, "accepting a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = conns.join_next() => {}
        }
    }
}

async fn connection<H, F, B>(stream: TcpStream, what: &'static str, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = service_fn(move |req| {
        let answer = handler(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(server = what, error = %e, "connection");
    }
}
