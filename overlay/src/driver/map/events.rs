//! The live part of the map: server-sent events (`GET /events`).
//!
//! - A [`Source`] answers each request for a [`MapSnapshot`] (the event
//!   loop, or the demo's poller); nothing here holds node state.
//! - While at least one page listens, [`refresh`] asks the source for a
//!   snapshot every `every` and publishes its JSON on a watch channel when
//!   it differs from the last one; with nobody listening it asks nothing.
//! - Each event stream ([`stream`]) first sends a fresh snapshot of its
//!   own, then every new one published, and a heartbeat every
//!   [`HEARTBEAT`] so that the page can tell a quiet network from a dead
//!   connection. The stream ends when the page goes away or the map stops.
//!
//! The wire format (`text/event-stream`): `retry: 2000` once, then
//! `event: snapshot` / `data: {JSON}` and `event: heartbeat` / `data: {}`
//! blocks, each ending with a blank line.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame};
use tokio::sync::{mpsc, oneshot, watch};

use super::snapshot::MapSnapshot;

/// Time between heartbeats on an event stream.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How long the page waits before reconnecting (the `retry` field).
const RETRY_MS: u32 = 2000;

/// How long a snapshot may take to come.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// Events queued toward one slow page before it is dropped.
const QUEUE: usize = 8;

/// Where a snapshot is answered.
pub type SnapshotReply = oneshot::Sender<MapSnapshot>;

/// Whom the map asks for snapshots: a channel to their owner, who answers
/// each request with the snapshot of that moment.
#[derive(Debug, Clone)]
pub struct Source(pub mpsc::Sender<SnapshotReply>);

impl Source {
    /// A snapshot now; `None` when the owner is gone or does not answer in
    /// time.
    pub(crate) async fn ask(&self) -> Option<MapSnapshot> {
        let ask = async {
            let (reply, answer) = oneshot::channel();
            self.0.send(reply).await.ok()?;
            answer.await.ok()
        };
        tokio::time::timeout(SNAPSHOT_TIMEOUT, ask)
            .await
            .ok()
            .flatten()
    }
}

/// The last snapshot published, as JSON (empty before the first).
pub(crate) type Feed = watch::Sender<Arc<str>>;

/// A new feed with nothing published yet.
pub(crate) fn feed() -> Arc<Feed> {
    Arc::new(watch::Sender::new(Arc::from("")))
}

/// Publishes a snapshot every `every` while anyone listens; returns when
/// the source is gone.
pub(crate) async fn refresh(feed: Arc<Feed>, source: Source, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if feed.receiver_count() == 0 {
            continue;
        }
        if source.0.is_closed() {
            return;
        }
        let Some(snapshot) = source.ask().await else {
            continue;
        };
        let json: Arc<str> = Arc::from(snapshot.to_json());
        feed.send_if_modified(|current| {
            let changed = *current != json;
            if changed {
                *current = json;
            }
            changed
        });
    }
}

/// The body of one event stream: the events its pump sends.
#[derive(Debug)]
pub(crate) struct EventBody(mpsc::Receiver<Bytes>);

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// Opens an event stream fed from `feed`, starting with a fresh snapshot
/// from `source`.
pub(crate) fn stream(feed: &Feed, source: Source) -> EventBody {
    let (tx, rx) = mpsc::channel(QUEUE);
    let updates = feed.subscribe();
    tokio::spawn(pump(updates, source, tx));
    EventBody(rx)
}

/// Writes one stream's events until the page or the map goes away.
async fn pump(mut updates: watch::Receiver<Arc<str>>, source: Source, out: mpsc::Sender<Bytes>) {
    let send = |text: String| {
        let out = out.clone();
        async move { out.send(Bytes::from(text)).await.is_ok() }
    };
    if !send(format!("retry: {RETRY_MS}\n\n")).await {
        return;
    }
    updates.borrow_and_update();
    let mut last: Arc<str> = match source.ask().await {
        Some(s) => Arc::from(s.to_json()),
        None => updates.borrow().clone(),
    };
    if !last.is_empty() && !send(event("snapshot", &last)).await {
        return;
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    loop {
        let text = tokio::select! {
            changed = updates.changed() => {
                if changed.is_err() {
                    return;
                }
                let json = updates.borrow_and_update().clone();
                if json.is_empty() || json == last {
                    continue;
                }
                last = json;
                event("snapshot", &last)
            }
            _ = heartbeat.tick() => event("heartbeat", "{}"),
            () = out.closed() => return,
        };
        if !send(text).await {
            return;
        }
    }
}

/// One event block. `data` must be one line (compact JSON is).
pub(crate) fn event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_blocks_of_fields() {
        assert_eq!(
            event("snapshot", "{\"a\":1}"),
            "event: snapshot\ndata: {\"a\":1}\n\n"
        );
        let json = MapSnapshot {
            story: vec!["two\nlines".into()],
            ..MapSnapshot::default()
        }
        .to_json();
        assert!(!json.contains('\n'), "one data line: {json}");
    }
}
