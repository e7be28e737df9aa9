//! The file update machine: gossip, transfers, verification, commit.
//!
//! Inputs: [`FileService::handle_neighbour`] (presence changes),
//! [`FileService::handle_message`] (a service 8 payload from a direction),
//! [`FileService::handle_timeout`] and [`FileService::publish`]. Outputs:
//! [`FileService::poll_transmit`] (service 8 payloads with a priority),
//! [`FileService::poll_event`] and [`FileService::poll_timeout`]. Time and
//! the random seed are inputs: the machine reads no clock and draws no OS
//! randomness.
//!
//! The life of a file on one tile:
//! 1. A neighbour's advert names a version this tile lacks (or a newer one
//!    than it has). Unless that version is known bad or above the size
//!    limit, it becomes an *offer*, and each neighbour advertising the same
//!    version is one more source.
//! 2. While fewer than `max_downloads` run, an offer turns into a download
//!    from a random present source: a REQUEST at the length of any partial
//!    file already held for that version, so a cut-off transfer resumes,
//!    from the same source or another.
//! 3. The source streams CHUNKs up to `window` ahead of the last
//!    acknowledged offset; the receiver acknowledges every half window, so
//!    the stream never waits on a round trip. END follows the last chunk.
//! 4. On END the receiver checks size, name, version and signature. A file
//!    whose bytes do not hash to the advertised version blames its source
//!    (dropped as a source); a file that hashes right but is not signed by
//!    a trusted key marks the version bad for good. Either way it is
//!    discarded and counted.
//! 5. A good file is committed atomically into the live area; only then is
//!    it advertised, at once to every present neighbour and later in the
//!    background gossip.
//!
//! A download stops when its source goes away, refuses, sends a chunk out
//! of order, or makes no progress for `stall_timeout`; its partial file is
//! kept and the offer tried again from another source. Chunks come from
//! one source per file at a time: the partial file is a prefix, so resuming
//! needs only its length. Fetching pieces from several neighbours at once
//! would need a piece map and out-of-order writes; left for later.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

mod download;
mod upload;

use download::Download;
use upload::Upload;

use super::config::{FileConfig, FileCounters, FileEvent, Outgoing};
use super::msg::Message;
use super::name::FileName;
use super::signed::{self, SignedError, Version};
use super::store::{PartKey, Store, StoreError};
use crate::dir::{Dir, ALL};
use crate::tile::Priority;

/// Adverts sent to a neighbour when it connects.
const ADVERTS_ON_CONNECT: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Entry {
    version: Version,
    size: u32,
}

#[derive(Debug, Clone)]
struct Offer {
    version: Version,
    size: u32,
    sources: u8,
    /// Sources that served bytes not matching this version: their adverts
    /// of it are ignored until they reconnect.
    blamed: u8,
}

/// Why a local file could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// Not a valid signed file, or not signed by a trusted key.
    #[error("{0}")]
    Signed(#[from] SignedError),
    /// Above the size limit.
    #[error("file of {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// A stored file whose signed name differs from its file name.
    #[error("{0} holds a file signed under another name")]
    Misnamed(FileName),
    /// The tile already has this version or a newer one.
    #[error("a newer or equal version of {0} is already live")]
    NotNewer(FileName),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// One tile's file update service.
#[derive(Debug)]
pub struct FileService<S: Store> {
    config: FileConfig,
    store: S,
    rng: ChaCha20Rng,
    files: BTreeMap<FileName, Entry>,
    present: [bool; 8],
    heard: BTreeMap<FileName, [Option<Version>; 8]>,
    offers: BTreeMap<FileName, Offer>,
    downloads: BTreeMap<FileName, Download>,
    uploads: Vec<Upload>,
    bad: BTreeSet<(FileName, [u8; 32])>,
    next_advert: Instant,
    next_id: u16,
    out: VecDeque<Outgoing>,
    events: VecDeque<FileEvent>,
    counters: FileCounters,
}

impl<S: Store> FileService<S> {
    /// Starts the service over `store`, whose live files are verified (bad
    /// ones are ignored and counted). `seed` drives every random choice.
    pub fn new(config: FileConfig, store: S, seed: u64, now: Instant) -> Self {
        let mut s = Self {
            config,
            store,
            rng: ChaCha20Rng::seed_from_u64(seed),
            files: BTreeMap::new(),
            present: [false; 8],
            heard: BTreeMap::new(),
            offers: BTreeMap::new(),
            downloads: BTreeMap::new(),
            uploads: Vec::new(),
            bad: BTreeSet::new(),
            next_advert: now,
            next_id: 0,
            out: VecDeque::new(),
            events: VecDeque::new(),
            counters: FileCounters::default(),
        };
        s.next_advert = now + s.advert_gap();
        s.load();
        s
    }

    fn load(&mut self) {
        let names = match self.store.list() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list managed files");
                self.counters.store_errors += 1;
                return;
            }
        };
        for name in names {
            let checked = self
                .store
                .read(&name)
                .map_err(|e| e.to_string())
                .and_then(|b| self.check(&name, &b).map_err(|e| e.to_string()));
            match checked {
                Ok(entry) => {
                    self.files.insert(name, entry);
                }
                Err(e) => {
                    tracing::warn!(%name, error = %e, "ignoring managed file");
                    self.counters.bad_local += 1;
                }
            }
        }
    }

    fn check(&self, name: &FileName, bytes: &[u8]) -> Result<Entry, PublishError> {
        if bytes.len() > self.config.max_file_size as usize {
            return Err(PublishError::TooLarge {
                size: bytes.len(),
                max: self.config.max_file_size,
            });
        }
        let p = signed::Packet::new_checked(bytes)?;
        if &p.name() != name {
            return Err(PublishError::Misnamed(name.clone()));
        }
        p.verify(&self.config.trusted)?;
        Ok(Entry {
            version: p.version(),
            size: bytes.len() as u32,
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The counters.
    pub fn counters(&self) -> &FileCounters {
        &self.counters
    }

    /// The live files with their versions and sizes.
    pub fn files(&self) -> impl Iterator<Item = (&FileName, Version, u32)> + '_ {
        self.files.iter().map(|(n, e)| (n, e.version, e.size))
    }

    /// The live version of `name`.
    pub fn version(&self, name: &FileName) -> Option<Version> {
        self.files.get(name).map(|e| e.version)
    }

    /// The directions whose last advert of `name` matched the live version.
    pub fn neighbours_with(&self, name: &FileName) -> Vec<Dir> {
        let (Some(e), Some(h)) = (self.files.get(name), self.heard.get(name)) else {
            return Vec::new();
        };
        ALL.into_iter()
            .filter(|d| h[d.index()] == Some(e.version))
            .collect()
    }

    /// Downloads in progress.
    pub fn downloads(&self) -> usize {
        self.downloads.len()
    }

    /// Publishes a signed file from this tile: verified, committed, then
    /// advertised to every present neighbour.
    ///
    /// # Errors
    /// Why the file was not published; the live area is unchanged then.
    pub fn publish(&mut self, bytes: &[u8]) -> Result<FileName, PublishError> {
        let name = signed::Packet::new_checked(bytes)?.name();
        let entry = self.check(&name, bytes)?;
        if self
            .files
            .get(&name)
            .is_some_and(|e| e.version >= entry.version)
        {
            return Err(PublishError::NotNewer(name));
        }
        self.store.write_live(&name, bytes)?;
        self.counters.published += 1;
        self.installed(name.clone(), entry);
        Ok(name)
    }

    /// Call when the neighbour in `dir` comes or goes.
    pub fn handle_neighbour(&mut self, now: Instant, dir: Dir, present: bool) {
        self.present[dir.index()] = present;
        if present {
            let mut names: Vec<FileName> = self.files.keys().cloned().collect();
            for _ in 0..ADVERTS_ON_CONNECT.min(names.len()) {
                let i = self.pick(names.len());
                let name = names.swap_remove(i);
                self.advertise(dir, &name);
            }
            return;
        }
        let bit = 1u8 << dir.index();
        for o in self.offers.values_mut() {
            o.sources &= !bit;
            o.blamed &= !bit;
        }
        for h in self.heard.values_mut() {
            h[dir.index()] = None;
        }
        self.uploads.retain(|u| u.dir != dir);
        let cut: Vec<FileName> = self
            .downloads
            .iter()
            .filter(|(_, d)| d.dir == dir)
            .map(|(n, _)| n.clone())
            .collect();
        for name in cut {
            self.downloads.remove(&name);
            self.counters.aborted += 1;
        }
        self.start_downloads(now);
    }

    /// Call with each service 8 payload from the neighbour in `dir`.
    pub fn handle_message(&mut self, now: Instant, dir: Dir, payload: &[u8]) {
        let msg = match Message::parse(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::trace!(%dir, error = %e, "malformed file message");
                self.counters.malformed += 1;
                return;
            }
        };
        match msg {
            Message::Advert {
                version,
                size,
                name,
            } => self.on_advert(now, dir, name, version, size),
            Message::Request {
                id,
                offset,
                window,
                version,
                name,
            } => self.on_request(now, dir, id, offset, window, version, name),
            Message::Chunk { id, offset, data } => self.on_chunk(now, dir, id, offset, data),
            Message::End { id, size } => self.on_end(now, dir, id, size),
            Message::Refusal { id, reason } => self.on_refusal(now, dir, id, reason),
        }
    }

    /// Call when [`FileService::poll_timeout`] is reached (or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_advert {
            self.next_advert = now + self.advert_gap();
            let dirs: Vec<Dir> = ALL
                .into_iter()
                .filter(|d| self.present[d.index()])
                .collect();
            if !dirs.is_empty() && !self.files.is_empty() {
                let dir = dirs[self.pick(dirs.len())];
                let i = self.pick(self.files.len());
                if let Some(name) = self.files.keys().nth(i).cloned() {
                    self.advertise(dir, &name);
                }
            }
        }
        let stalled: Vec<FileName> = self
            .downloads
            .iter()
            .filter(|(_, d)| d.deadline <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in stalled {
            tracing::debug!(%name, "download stalled");
            self.counters.stalled += 1;
            self.abort(&name, true);
        }
        self.uploads.retain(|u| u.expires > now);
        self.start_downloads(now);
    }

    /// When [`FileService::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let downloads = self.downloads.values().map(|d| d.deadline);
        let uploads = self.uploads.iter().map(|u| u.expires);
        downloads
            .chain(uploads)
            .chain(std::iter::once(self.next_advert))
            .min()
    }

    /// The next payload to send.
    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<FileEvent> {
        self.events.pop_front()
    }

    fn on_advert(&mut self, now: Instant, dir: Dir, name: FileName, version: Version, size: u32) {
        self.counters.adverts_received += 1;
        self.heard.entry(name.clone()).or_insert([None; 8])[dir.index()] = Some(version);
        if let Some(mine) = self.files.get(&name).copied() {
            if mine.version > version {
                // The neighbour is behind: tell it about ours.
                self.advertise(dir, &name);
            }
            if mine.version >= version {
                return;
            }
        }
        if self.bad.contains(&(name.clone(), version.hash)) {
            return;
        }
        if size > self.config.max_file_size {
            self.counters.too_large += 1;
            return;
        }
        let bit = 1u8 << dir.index();
        match self.offers.get_mut(&name) {
            Some(o) if o.version == version && o.size == size => {
                if o.blamed & bit == 0 {
                    o.sources |= bit;
                }
            }
            Some(o) if o.version > version => {}
            _ => {
                if let Some(old) = self.offers.insert(
                    name.clone(),
                    Offer {
                        version,
                        size,
                        sources: bit,
                        blamed: 0,
                    },
                ) {
                    self.forget_partial(&name, old.version);
                }
                if self
                    .downloads
                    .get(&name)
                    .is_some_and(|d| d.version != version)
                {
                    self.downloads.remove(&name);
                    self.counters.aborted += 1;
                }
            }
        }
        self.start_downloads(now);
    }

    fn installed(&mut self, name: FileName, entry: Entry) {
        tracing::info!(%name, timestamp = entry.version.timestamp, "file committed");
        // A download of this version or an older one is moot now.
        if let Some(d) = self
            .downloads
            .get(&name)
            .filter(|d| d.version <= entry.version)
            .cloned()
        {
            self.downloads.remove(&name);
            self.counters.aborted += 1;
            if d.version != entry.version {
                self.forget_partial(&name, d.version);
            }
        }
        if self
            .offers
            .get(&name)
            .is_some_and(|o| o.version <= entry.version)
        {
            self.offers.remove(&name);
        }
        self.files.insert(name.clone(), entry);
        self.events.push_back(FileEvent::Committed {
            name: name.clone(),
            version: entry.version,
            size: entry.size,
        });
        for dir in ALL {
            if self.present[dir.index()] {
                self.advertise(dir, &name);
            }
        }
    }

    fn forget_partial(&mut self, name: &FileName, version: Version) {
        let key = PartKey {
            name: name.clone(),
            hash: version.hash,
        };
        if self.store.discard_partial(&key).is_err() {
            self.counters.store_errors += 1;
        }
    }

    fn advertise(&mut self, dir: Dir, name: &FileName) {
        let Some(e) = self.files.get(name) else {
            return;
        };
        self.counters.adverts_sent += 1;
        self.out.push_back(Outgoing {
            dir,
            payload: Message::Advert {
                version: e.version,
                size: e.size,
                name: name.clone(),
            }
            .to_vec(),
            priority: Priority::Normal,
        });
    }

    fn pick(&mut self, len: usize) -> usize {
        (self.rng.next_u64() % len.max(1) as u64) as usize
    }

    fn advert_gap(&mut self) -> Duration {
        let mean = self.config.advert_interval.as_millis().max(2) as u64;
        Duration::from_millis(mean / 2 + self.rng.next_u64() % mean)
    }
}
