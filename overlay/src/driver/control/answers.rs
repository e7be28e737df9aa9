//! The typed answer bodies of control API v1: the fields of an answer with
//! `ok: true`, one type per command (`docs/control-api.md` lists them).
//! The daemon writes these types and the CLI reads them back, and
//! `tessel VERB --json` prints the body as it came; the CLI test reads
//! each verb's JSON into its type and back to check that the two agree
//! field for field ([`round_trips`]).
//!
//! Units are in the field names: `_ms` milliseconds, `_s`/`_secs`
//! seconds, `_unix_ms` milliseconds since the Unix epoch, `_bytes` bytes.
//! Node IDs are `tessel-node-…`, addresses in their usual text form.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::driver::tcp::TcpStatus;
use crate::node::{PeerStatus, Status};

/// `status`: the node's own [`Status`] with the driver's parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// The node, its peers and counters.
    #[serde(flatten)]
    pub node: Status,
    /// The TCP transport.
    pub tcp: TcpStatus,
    /// The engines hosted here.
    pub engines: EngineStatus,
}

/// The engines' part of `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// Engines running on this node.
    pub local: usize,
    /// Engines on other nodes this node knows of.
    pub foreign: usize,
    /// Members with an engine stream open.
    pub peers: usize,
    /// Engine streams open.
    pub streams: usize,
    /// Programs on `engines.sock`.
    pub clients: usize,
    /// Stream bytes received.
    pub bytes_in: u64,
    /// Stream bytes sent.
    pub bytes_out: u64,
    /// Engine frames received.
    pub frames_in: u64,
    /// Engine frames sent.
    pub frames_out: u64,
    /// Events sent to subscribers.
    pub events_sent: u64,
    /// Events a subscription's filter held back.
    pub events_filtered: u64,
    /// Dropped frames by reason.
    pub drops: BTreeMap<String, u64>,
    /// The scope counters (docs/scopes.md §11.3); `null` when scopes are off.
    pub scopes: Value,
}

/// `ip`: who this node is and its overlay addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAnswer {
    /// This node's ID.
    pub node_id: String,
    /// Its overlay IPv6 address.
    pub ipv6: String,
    /// Its overlay IPv4 address.
    pub ipv4: String,
}

/// `ping`: the pong and the path it came on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingAnswer {
    /// The member that answered.
    pub peer: String,
    /// `direct`, `relay` or `none` (no path known when it came).
    pub path: String,
    /// With `relay`: the member it went through.
    pub relay: Option<String>,
    /// With `direct`: the member's UDP (or TCP) address.
    pub endpoint: Option<String>,
    /// Round-trip time in milliseconds.
    pub rtt_ms: f64,
}

/// `whois`: what this node knows of a member, the same per-peer entry
/// that `status` lists, and whether it is this node itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhoisAnswer {
    /// The target is this node (its path fields are then empty).
    pub this_node: bool,
    /// The member.
    #[serde(flatten)]
    pub member: PeerStatus,
}

/// `down`: the node stops after answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownAnswer {
    /// Always true.
    pub stopping: bool,
}

/// `network_rotate`: the new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateAnswer {
    /// The new network key (`tessel-net-…`): a secret.
    pub key: String,
    /// Its epoch.
    pub epoch: u32,
    /// When the old key stops working (Unix ms); `null` if at once.
    pub old_key_refused_after_unix_ms: Option<u64>,
}

/// `network_revocations`: the list taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationsAnswer {
    /// The list's serial.
    pub serial: u64,
    /// Sessions closed because their member is revoked.
    pub sessions_closed: usize,
}

/// `network_handover`: the handover taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverAnswer {
    /// The owner in force now (`tessel-owner-…`).
    pub owner: String,
    /// Until when (Unix seconds) the previous owner's certificates count.
    pub grace_end_unix_s: u64,
}

/// `record_publish`: the record went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPublishAnswer {
    /// The record key, 64 hex digits.
    pub key: String,
}

/// `record_fetch`: what the members nearest the key hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFetchAnswer {
    /// The record key, 64 hex digits.
    pub key: String,
    /// One entry per publisher (signatures checked); empty if none.
    pub records: Vec<RecordEntry>,
}

/// One record found by `record_fetch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEntry {
    /// The node that signed it.
    pub publisher: String,
    /// The value, in hex.
    pub value: String,
}

/// `engine_list`: the engines this node runs and knows. Nodes are named
/// by their keys in hex (64 digits), as engine addresses are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineListAnswer {
    /// This node's key, in hex.
    pub node: String,
    /// Engines running here.
    pub local: Vec<LocalEngine>,
    /// Engines on other nodes.
    pub foreign: Vec<ForeignEngine>,
}

/// An engine running on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEngine {
    /// Its address, 64 hex digits.
    pub engine: String,
    /// This node's key, in hex.
    pub node: String,
    /// Names registered for it.
    pub names: Vec<String>,
    /// Whether its key outlives the program that runs it.
    pub persistent: bool,
}

/// An engine on another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignEngine {
    /// Its address, 64 hex digits.
    pub engine: String,
    /// The key of the node it runs on, in hex.
    pub node: String,
    /// Whether that node is reachable now.
    pub reachable: bool,
    /// Names registered for it.
    pub names: Vec<String>,
}

/// `tile_status`: the hosted tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileStatusAnswer {
    /// The TCP port of tile links.
    pub tile_port: u16,
    /// The tile socket's path.
    pub socket: String,
    /// The directory of live managed files.
    pub files_dir: String,
    /// Whether a program holds the MFM channel.
    pub mfm_open: bool,
    /// Programs on the tile socket.
    pub clients: usize,
    /// One entry per configured direction.
    pub directions: Vec<TileDirection>,
    /// Live managed files.
    pub files: usize,
    /// Downloads in progress.
    pub downloads: usize,
    /// File transfer counters by name.
    pub file_counters: BTreeMap<String, u64>,
    /// Refused file and physics messages.
    pub refused: TileRefused,
    /// The program started by the last change of physics, if any.
    pub running: Option<TileRunning>,
}

/// One direction of `tile_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileDirection {
    /// Its code (`NT`, `NE`, …).
    pub dir: String,
    /// Its number, 0 to 7.
    pub value: u8,
    /// The neighbour's node ID.
    pub neighbour: String,
    /// `dial` (this node connects) or `accept`.
    pub role: String,
    /// `present` or `absent`.
    pub state: String,
    /// Packets queued for it.
    pub queued: usize,
    /// Its counters by name (`rx_local` is an object of service → count).
    pub counters: Map<String, Value>,
}

/// The refusal counters of `tile_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileRefused {
    /// Managed files refused.
    pub file: u64,
    /// Physics announcements refused.
    pub physics: u64,
}

/// The program a change of physics started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileRunning {
    /// The managed file it runs.
    pub name: String,
    /// That file's timestamp (ms).
    pub timestamp: u64,
    /// Its hash, in hex.
    pub hash: String,
    /// The program's PID, while it runs.
    pub pid: Option<u32>,
}

/// `tile_files`: the live managed files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileFilesAnswer {
    /// One entry per file.
    pub files: Vec<TileFile>,
}

/// One managed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileFile {
    /// Its name.
    pub name: String,
    /// Its version's timestamp (ms).
    pub timestamp: u64,
    /// Its hash, in hex.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
    /// The directions whose neighbours advertised this same version.
    pub neighbours: Vec<String>,
}

/// `tile_publish`: the file went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilePublishAnswer {
    /// The path read.
    pub published: String,
    /// Its size in bytes.
    pub size: usize,
}

/// `tile_announce`: the announcement went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileAnnounceAnswer {
    /// Always true.
    pub announced: bool,
}

/// Test builds: `engine_tamper`.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TamperAnswer {
    /// The mode now in force.
    pub tamper: String,
}

/// Whether `body` reads as a `T` and writes back to exactly the same JSON:
/// no field missing, none extra, every type as declared. `Err` says what
/// differs.
///
/// # Errors
/// The reason the body does not match `T`.
pub fn round_trips<T: Serialize + DeserializeOwned>(body: &Value) -> Result<T, String> {
    let typed: T = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    if &again == body {
        Ok(typed)
    } else {
        Err(format!("read back as {again}, not {body}"))
    }
}
