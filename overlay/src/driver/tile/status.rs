//! The answers to the `tile_status` and `tile_files` control requests.

use serde_json::{json, Map, Value};
use tessel_tile_link::file::{DirStore, FileCounters};
use tessel_tile_link::tile::Counters;
use tessel_tile_link::{Dir, Node};

use super::config::Neighbour;
use super::links::TILE_PORT;
use crate::driver::control::answers::{
    TileDirection, TileFile, TileFilesAnswer, TileRefused, TileRunning, TileStatusAnswer,
};
use crate::driver::metrics::{DirectionMetrics, TileMetrics};

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn counters(c: &Counters) -> Map<String, Value> {
    let local: serde_json::Map<String, Value> = c
        .rx_local
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (t.to_string(), json!(n)))
        .collect();
    let v = json!({
        "connects": c.connects,
        "disconnects": c.disconnects,
        "tx_packets": c.tx_packets,
        "tx_bytes": c.tx_bytes,
        "tx_refused": c.tx_refused,
        "tx_flushed": c.tx_flushed,
        "rx_packets": c.rx_packets,
        "rx_bytes": c.rx_bytes,
        "rx_mfm": c.rx_mfm,
        "rx_service": c.rx_service,
        "rx_local": local,
        "rx_malformed": c.rx_malformed,
        "rx_flags_set": c.rx_flags_set,
        "rx_tep": c.rx_tep,
        "rx_tep_bad_event": c.rx_tep_bad_event,
        "rx_unbound": c.rx_unbound,
        "rx_no_mfm": c.rx_no_mfm,
        "rx_absent": c.rx_absent,
        "rx_overruns": c.rx_overruns,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn file_counters(c: &FileCounters) -> std::collections::BTreeMap<String, u64> {
    [
        ("adverts_sent", c.adverts_sent),
        ("adverts_received", c.adverts_received),
        ("requests_sent", c.requests_sent),
        ("chunks_sent", c.chunks_sent),
        ("chunk_bytes_sent", c.chunk_bytes_sent),
        ("chunks_received", c.chunks_received),
        ("chunk_bytes_received", c.chunk_bytes_received),
        ("downloaded", c.downloaded),
        ("published", c.published),
        ("bad_files", c.bad_files),
        ("bad_local", c.bad_local),
        ("too_large", c.too_large),
        ("malformed", c.malformed),
        ("stray", c.stray),
        ("aborted", c.aborted),
        ("stalled", c.stalled),
        ("refusals_sent", c.refusals_sent),
        ("refusals_received", c.refusals_received),
        ("store_errors", c.store_errors),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect()
}

/// What `tile_status` reports besides the node's own state.
pub(super) struct StatusExtra<'a> {
    /// The configured directions.
    pub(super) neighbours: &'a [Neighbour],
    /// Whether this node dials the neighbour in each direction.
    pub(super) dials: &'a dyn Fn(Dir) -> bool,
    /// The tile socket.
    pub(super) socket: &'a std::path::Path,
    /// Programs connected to it.
    pub(super) clients: usize,
    /// PID of the program started by a change of physics.
    pub(super) program_pid: Option<u32>,
}

/// The `tile_status` answer.
pub(super) fn status(node: &Node<DirStore>, extra: &StatusExtra<'_>) -> TileStatusAnswer {
    let tile = node.tile();
    let directions = extra
        .neighbours
        .iter()
        .map(|n| TileDirection {
            dir: n.dir.code().to_owned(),
            value: n.dir.value(),
            neighbour: n.node.to_string(),
            role: (if (extra.dials)(n.dir) {
                "dial"
            } else {
                "accept"
            })
            .to_owned(),
            state: (if tile.is_present(n.dir) {
                "present"
            } else {
                "absent"
            })
            .to_owned(),
            queued: tile.queued(n.dir),
            counters: counters(tile.counters(n.dir)),
        })
        .collect();
    let physics = node.physics();
    TileStatusAnswer {
        tile_port: TILE_PORT,
        socket: extra.socket.display().to_string(),
        files_dir: node.files().store().live_dir().display().to_string(),
        mfm_open: tile.mfm_open(),
        clients: extra.clients,
        directions,
        files: node.files().files().count(),
        downloads: node.files().downloads(),
        file_counters: file_counters(node.files().counters()),
        refused: TileRefused {
            file: node.counters().file_refused,
            physics: node.counters().physics_refused,
        },
        running: physics.running().map(|r| TileRunning {
            name: r.name.as_str().to_owned(),
            timestamp: r.timestamp,
            hash: hex(&r.hash),
            pid: extra.program_pid,
        }),
    }
}

/// The counters of [`status`], for the metrics endpoint.
pub(super) fn metrics(node: &Node<DirStore>, neighbours: &[Neighbour]) -> TileMetrics {
    let tile = node.tile();
    TileMetrics {
        directions: neighbours
            .iter()
            .map(|n| DirectionMetrics {
                dir: n.dir.code(),
                present: tile.is_present(n.dir),
                queued: tile.queued(n.dir) as u64,
                counters: tile.counters(n.dir).clone(),
            })
            .collect(),
        files: node.files().files().count() as u64,
        downloads: node.files().downloads() as u64,
        file_counters: node.files().counters().clone(),
        refused: node.counters().clone(),
    }
}

/// The `tile_files` answer: each live file, its version and which
/// neighbours last advertised that same version.
pub(super) fn files(node: &Node<DirStore>) -> TileFilesAnswer {
    let files = node.files();
    let list = files
        .files()
        .map(|(name, version, size)| TileFile {
            name: name.as_str().to_owned(),
            timestamp: version.timestamp,
            hash: hex(&version.hash),
            size: size.into(),
            neighbours: files
                .neighbours_with(name)
                .into_iter()
                .map(|d| d.code().to_owned())
                .collect(),
        })
        .collect();
    TileFilesAnswer { files: list }
}
