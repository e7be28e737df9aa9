//! The metrics endpoint (`tessel up --metrics ADDR:PORT`, off by default):
//! the node's counters in the Prometheus text format at `/metrics`, meant
//! for a local address (127.0.0.1:9745) that a Prometheus server or agent
//! on the same machine scrapes. The families are listed in
//! docs/metrics.md.
//!
//! Message flow:
//! - a scrape (`GET /metrics`) → the HTTP task ([`http`]) sends a reply
//!   channel to the event loop, which copies the node's, the TCP
//!   transport's and the engines' counters into a [`Snapshot`] between
//!   two inputs and sends it back;
//! - with a tile, the HTTP task then asks the tile host the same way for
//!   its [`TileMetrics`];
//! - the HTTP task encodes the snapshot ([`encode`], the Prometheus
//!   client's encoder) and answers; the state stays with its owners and
//!   the event loop does no formatting.

pub mod encode;
pub(crate) mod http;
pub mod snapshot;

pub use http::METRICS_PATH;
pub use snapshot::{DirectionMetrics, EngineMetrics, Snapshot, TcpMetrics, TileMetrics};

#[cfg(test)]
mod tests;
