//! Hosting tile links (`tessel up --tile …`): the daemon makes this node a
//! tile of a grid, after the T2 tile notes. The protocol is the sans-IO
//! [`tessel_tile_link`] crate; this module gives it I/O.
//!
//! - [`config`]: the `--tile*` options and the text forms of keys.
//! - `links`: one TCP connection per configured direction, between the two
//!   nodes' overlay IPv6 addresses on [`TILE_PORT`], carried by the
//!   overlay (reliable, in order, source-authenticated). The lower node ID
//!   dials, with backoff; the other accepts and checks the source address.
//!   A direction is present while its connection is up.
//! - `stream`: packets on those connections, each with a `u16` length
//!   prefix; keepalives find a dead neighbour.
//! - `clients`: the tile socket `tile.sock` in the runtime dir
//!   ([`socket_path`], mode 0660), speaking the channel framing of `docs/tile-link.md` §3.
//! - `host`: the one task that owns the [`tessel_tile_link::Node`] and
//!   moves packets and frames between it, the links and the programs.
//! - `status`: the `tile_status` and `tile_files` control answers.
//! - `runner`: the program restarted on a change of physics.
//!
//! Without `--tile` flags none of this starts.

pub mod config;

mod clients;
mod host;
mod links;
mod runner;
mod status;
mod stream;
#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

pub use config::{Neighbour, TileConfigError, TileOptions};
pub use links::TILE_PORT;
use tessel_tile_link::file::{DirStore, FileConfig};
use tessel_tile_link::{Node, NodeConfig};
use tokio::sync::mpsc;

use super::control::{ApiError, Call, ErrorCode, SocketFile};
use super::runtime_dir::RuntimeDir;
use super::{clock, DriverError};
use crate::identity::address::NetworkPrefix;
use crate::identity::NodeId;
use host::{Host, Inputs};
use links::AbortOnDrop;

/// The tile socket's file name.
pub(crate) const SOCKET: &str = "tile.sock";

/// The tile socket's path in the runtime dir `runtime_dir`
/// ([`crate::driver::runtime_dir`]).
pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET)
}

/// Who this node is, for the host task.
#[derive(Debug, Clone)]
pub(crate) struct HostContext {
    /// This node.
    pub(crate) node: NodeId,
    /// Its overlay IPv6 address.
    pub(crate) ipv6: Ipv6Addr,
    /// The network's prefix, to compute the neighbours' addresses.
    pub(crate) prefix: NetworkPrefix,
}

/// The running tile host; dropping it stops it.
#[derive(Debug)]
pub(crate) struct TileHost {
    requests: mpsc::Sender<Call>,
    metrics: mpsc::Sender<super::metrics::http::TileReply>,
    _task: AbortOnDrop,
}

impl TileHost {
    /// Where the metrics endpoint asks for the tile's counters.
    pub(crate) fn metrics_source(&self) -> mpsc::Sender<super::metrics::http::TileReply> {
        self.metrics.clone()
    }

    /// Hands a `tile_…` control request to the host task.
    pub(crate) fn request(&self, call: Call) {
        if let Err(mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c)) =
            self.requests.try_send(call)
        {
            c.reply.err(ApiError::new(
                ErrorCode::Busy,
                "the tile host is busy: try again",
            ));
        }
    }
}

fn service_error(reason: impl std::fmt::Display) -> DriverError {
    DriverError::Service {
        what: "tile host".to_owned(),
        reason: reason.to_string(),
    }
}

/// Starts hosting the tile described by `opts`, with its socket in
/// `runtime_dir`.
///
/// # Errors
/// If the file directory or the tile socket cannot be set up, or the same
/// direction or node is configured twice.
pub(crate) fn start(
    opts: TileOptions,
    ctx: HostContext,
    runtime_dir: &RuntimeDir,
) -> Result<TileHost, DriverError> {
    config::check_neighbours(&opts.neighbours).map_err(service_error)?;
    if let Some(n) = opts.neighbours.iter().find(|n| n.node == ctx.node) {
        return Err(service_error(format!(
            "the neighbour in {} is this node itself",
            n.dir
        )));
    }
    let store = DirStore::open(&opts.files)
        .map_err(|e| service_error(format!("file directory {}: {e}", opts.files.display())))?;
    let seed = clock::random_seed().map_err(|source| DriverError::Io {
        context: "reading the OS random source",
        source,
    })?;
    let config = NodeConfig {
        files: FileConfig {
            trusted: opts.trusted.clone(),
            advert_interval: opts.advert_interval,
            ..FileConfig::default()
        },
        seed: u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
        ..NodeConfig::default()
    };
    let node = Node::new(config, store, clock::now());
    let path = socket_path(runtime_dir.path());
    let listener = runtime_dir
        .bind(SOCKET)
        .map_err(|source| DriverError::Control {
            path: path.clone(),
            source,
        })?;
    let socket = SocketFile(path);

    let (link_tx, link_rx) = mpsc::channel(1024);
    let (client_tx, client_rx) = mpsc::channel(256);
    let (request_tx, request_rx) = mpsc::channel(16);
    let (metrics_tx, metrics_rx) = mpsc::channel(4);
    let mut background = vec![AbortOnDrop::spawn(clients::serve(listener, client_tx))];
    let mut accept_from = Vec::new();
    for n in &opts.neighbours {
        let addr = ctx.prefix.node_addr(&n.node);
        if ctx.node < n.node {
            let dial = links::dial(n.dir, addr, link_tx.clone());
            background.push(AbortOnDrop::spawn(dial));
        } else {
            accept_from.push((n.dir, addr));
        }
    }
    if !accept_from.is_empty() {
        let accept = links::accept(ctx.ipv6, accept_from, link_tx.clone());
        background.push(AbortOnDrop::spawn(accept));
    }
    tracing::info!(
        directions = opts.neighbours.len(),
        files = %opts.files.display(),
        socket = %socket.0.display(),
        port = TILE_PORT,
        "hosting a tile"
    );
    let host = Host::new(
        node,
        ctx.node,
        opts.neighbours,
        link_tx,
        runner::Runner::new(opts.run),
        socket,
        background,
    );
    let inputs = Inputs {
        links: link_rx,
        clients: client_rx,
        requests: request_rx,
        metrics: metrics_rx,
    };
    Ok(TileHost {
        requests: request_tx,
        metrics: metrics_tx,
        _task: AbortOnDrop::spawn(host.run(inputs)),
    })
}
