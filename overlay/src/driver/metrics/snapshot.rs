//! What one scrape reads: plain values copied out of the state that the
//! event loop and the tile host own, so that encoding them happens
//! elsewhere without touching that state.

use tessel_tile_link::file::FileCounters;
use tessel_tile_link::node::NodeCounters;
use tessel_tile_link::tile::Counters;

use crate::driver::tcp::TcpCounters;
use crate::node::NodeMetrics;

/// Everything one scrape shows.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The node's counters and gauges.
    pub node: NodeMetrics,
    /// The TCP transport.
    pub tcp: TcpMetrics,
    /// The engines (actor transport) hosted by the daemon.
    pub engines: EngineMetrics,
    /// The tile, when the node hosts one (`tessel up --tile`).
    pub tile: Option<TileMetrics>,
}

/// The TCP transport's counters.
#[derive(Debug, Clone, Default)]
pub struct TcpMetrics {
    /// Whether the transport is on.
    pub enabled: bool,
    /// Connections open now.
    pub connections: u64,
    /// What happened so far.
    pub counters: TcpCounters,
}

/// The engines' gauges and counters, as `tessel status` shows them.
#[derive(Debug, Clone, Default)]
pub struct EngineMetrics {
    /// Engines on this node.
    pub local: u64,
    /// Engines on other nodes that this node knows.
    pub foreign: u64,
    /// Members with an engine stream up.
    pub peers: u64,
    /// Engine streams open.
    pub streams: u64,
    /// Local programs connected to `engines.sock`.
    pub clients: u64,
    /// Bytes read from engine streams.
    pub bytes_in: u64,
    /// Bytes written to engine streams.
    pub bytes_out: u64,
    /// The transport's counters.
    pub transport: tessel_actors::Stats,
    /// Whether this node hosts scopes (`--scope-root`): the scope counters
    /// in `transport.scopes` are shown only then.
    pub scopes: bool,
}

/// The tile's counters, as `tessel tile status` shows them.
#[derive(Debug, Clone, Default)]
pub struct TileMetrics {
    /// Each configured direction.
    pub directions: Vec<DirectionMetrics>,
    /// Managed files held.
    pub files: u64,
    /// Downloads in progress.
    pub downloads: u64,
    /// What the file service did.
    pub file_counters: FileCounters,
    /// Payloads the tile refused, by service.
    pub refused: NodeCounters,
}

/// One direction of the tile.
#[derive(Debug, Clone)]
pub struct DirectionMetrics {
    /// Its code (`NT`, `NE`, …).
    pub dir: &'static str,
    /// Whether the neighbour is present.
    pub present: bool,
    /// Packets queued toward it.
    pub queued: u64,
    /// The link's counters.
    pub counters: Counters,
}
