//! Settings, outputs and counters of the file update service.

use std::time::Duration;

use ed25519_dalek::VerifyingKey;

use super::name::FileName;
use super::signed::Version;
use crate::dir::Dir;
use crate::tile::Priority;

/// How a tile runs the file update service.
#[derive(Debug, Clone)]
pub struct FileConfig {
    /// Keys whose signatures make a file legitimate.
    pub trusted: Vec<VerifyingKey>,
    /// Mean time between two background adverts (each goes to one random
    /// present neighbour about one random file); the actual gaps are drawn
    /// uniformly between half and one and a half times this.
    pub advert_interval: Duration,
    /// The largest signed file accepted, in bytes.
    pub max_file_size: u32,
    /// Downloads at once.
    pub max_downloads: usize,
    /// Uploads at once.
    pub max_uploads: usize,
    /// Chunks a source may send ahead of the receiver's acknowledgement.
    pub window: u16,
    /// A download without progress for this long is abandoned (its partial
    /// file is kept) and tried again from another source.
    pub stall_timeout: Duration,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            trusted: Vec::new(),
            advert_interval: Duration::from_secs(10),
            max_file_size: 16 << 20,
            max_downloads: 4,
            max_uploads: 8,
            window: 8,
            stall_timeout: Duration::from_secs(10),
        }
    }
}

/// A service 8 payload for the neighbour in `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The direction.
    pub dir: Dir,
    /// The payload (a [`super::msg::Message`]).
    pub payload: Vec<u8>,
    /// Chunks and END are [`Priority::Bulk`]; control messages
    /// [`Priority::Normal`]. MFM traffic goes before both.
    pub priority: Priority,
}

/// What the file service reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// A verified file entered the live area (downloaded or published).
    Committed {
        /// The file.
        name: FileName,
        /// Its version.
        version: Version,
        /// Its size in bytes.
        size: u32,
    },
    /// A downloaded file failed verification and was discarded.
    Rejected {
        /// The file.
        name: FileName,
        /// The source it came from.
        dir: Dir,
        /// Why.
        reason: String,
    },
    /// The store failed (a full disk, for example); the transfer stopped
    /// and nothing partial reached the live area.
    StoreFailed {
        /// The file.
        name: FileName,
        /// The error.
        error: String,
    },
}

/// What the file service has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCounters {
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Adverts received.
    pub adverts_received: u64,
    /// Requests sent (first asks and acknowledgements).
    pub requests_sent: u64,
    /// Chunks sent.
    pub chunks_sent: u64,
    /// Chunk bytes sent.
    pub chunk_bytes_sent: u64,
    /// Chunks received.
    pub chunks_received: u64,
    /// Chunk bytes received.
    pub chunk_bytes_received: u64,
    /// Files committed after download.
    pub downloaded: u64,
    /// Files published locally.
    pub published: u64,
    /// Downloaded files that failed verification (discarded).
    pub bad_files: u64,
    /// Local files that failed verification at start (ignored).
    pub bad_local: u64,
    /// Adverts of files above the size limit (ignored).
    pub too_large: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Chunks or ends for no transfer in progress.
    pub stray: u64,
    /// Downloads abandoned (link down, stall, refusal, bad chunk).
    pub aborted: u64,
    /// Of `aborted`, those for lack of progress.
    pub stalled: u64,
    /// Refusals sent.
    pub refusals_sent: u64,
    /// Refusals received.
    pub refusals_received: u64,
    /// Store operations that failed.
    pub store_errors: u64,
}
