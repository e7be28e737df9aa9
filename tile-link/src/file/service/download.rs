//! The receiving side of a transfer: starting downloads from offers,
//! assembling chunks, checking and committing, and giving up.

use std::time::Instant;

use super::{Entry, FileService};
use crate::dir::{Dir, ALL};
use crate::file::msg::{Message, RefusalReason};
use crate::file::name::FileName;
use crate::file::signed::{self, Version};
use crate::file::store::{PartKey, Store, StoreError};
use crate::file::{FileEvent, Outgoing};
use crate::tile::Priority;

#[derive(Debug, Clone)]
pub(super) struct Download {
    pub(super) version: Version,
    pub(super) size: u32,
    pub(super) dir: Dir,
    pub(super) id: u16,
    /// Where this download started: above 0 it resumed a partial file
    /// whose earlier bytes may have come from another source.
    pub(super) start: u32,
    pub(super) received: u32,
    pub(super) unacked: u16,
    pub(super) deadline: Instant,
}

/// Who is at fault for a file that failed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blame {
    /// The bytes are exactly the advertised version, and it is not
    /// properly signed: bad wherever it comes from.
    Version,
    /// The source sent bytes that are not the version it advertised.
    Source,
    /// Unknown: the partial file was begun with another source.
    Nobody,
}

impl<S: Store> FileService<S> {
    pub(super) fn on_chunk(&mut self, now: Instant, dir: Dir, id: u16, offset: u32, data: &[u8]) {
        self.counters.chunks_received += 1;
        self.counters.chunk_bytes_received += data.len() as u64;
        let Some((name, d)) = self
            .downloads
            .iter_mut()
            .find(|(_, d)| d.dir == dir && d.id == id)
        else {
            self.counters.stray += 1;
            return;
        };
        let name = name.clone();
        let end = u64::from(offset) + data.len() as u64;
        if offset != d.received || end > u64::from(d.size) {
            tracing::debug!(%name, offset, "chunk out of place");
            self.abort(&name, true);
            self.start_downloads(now);
            return;
        }
        let key = PartKey {
            name: name.clone(),
            hash: d.version.hash,
        };
        if let Err(e) = self.store.append_partial(&key, u64::from(offset), data) {
            self.store_failed(&name, &e);
            return;
        }
        d.received += data.len() as u32;
        d.deadline = now + self.config.stall_timeout;
        d.unacked += 1;
        let half = (self.config.window / 2).max(1);
        if d.unacked >= half && d.received < d.size {
            d.unacked = 0;
            let msg = Message::Request {
                id: d.id,
                offset: d.received,
                window: self.config.window,
                version: d.version,
                name,
            };
            self.counters.requests_sent += 1;
            self.out.push_back(Outgoing {
                dir,
                payload: msg.to_vec(),
                priority: Priority::Normal,
            });
        }
    }

    pub(super) fn on_end(&mut self, now: Instant, dir: Dir, id: u16, size: u32) {
        let Some(name) = self
            .downloads
            .iter()
            .find(|(_, d)| d.dir == dir && d.id == id)
            .map(|(n, _)| n.clone())
        else {
            self.counters.stray += 1;
            return;
        };
        let Some(d) = self.downloads.remove(&name) else {
            return;
        };
        let key = PartKey {
            name: name.clone(),
            hash: d.version.hash,
        };
        let blame = if d.start == 0 {
            Blame::Source
        } else {
            Blame::Nobody
        };
        if size != d.size || d.received != d.size {
            self.reject(&name, dir, &key, blame, "size differs from the advert");
            self.start_downloads(now);
            return;
        }
        let bytes = match self.store.read_partial(&key) {
            Ok(b) => b,
            Err(e) => {
                self.store_failed(&name, &e);
                return;
            }
        };
        let Ok(p) = signed::Packet::new_checked(&bytes[..]) else {
            self.reject(&name, dir, &key, blame, "not a signed file");
            self.start_downloads(now);
            return;
        };
        if p.name() != name || p.version() != d.version {
            self.reject(&name, dir, &key, blame, "not the advertised version");
            self.start_downloads(now);
            return;
        }
        if let Err(e) = p.verify(&self.config.trusted) {
            // The bytes are exactly the advertised version: it is bad
            // wherever it comes from.
            self.reject(&name, dir, &key, Blame::Version, &e.to_string());
            self.start_downloads(now);
            return;
        }
        if let Err(e) = self.store.commit_partial(&key) {
            self.store_failed(&name, &e);
            return;
        }
        self.counters.downloaded += 1;
        self.installed(
            name,
            Entry {
                version: d.version,
                size: d.size,
            },
        );
        self.start_downloads(now);
    }

    pub(super) fn on_refusal(&mut self, now: Instant, dir: Dir, id: u16, reason: RefusalReason) {
        self.counters.refusals_received += 1;
        let Some(name) = self
            .downloads
            .iter()
            .find(|(_, d)| d.dir == dir && d.id == id)
            .map(|(n, _)| n.clone())
        else {
            self.counters.stray += 1;
            return;
        };
        tracing::debug!(%name, %dir, ?reason, "download refused");
        self.abort(&name, true);
        self.start_downloads(now);
    }

    pub(super) fn reject(
        &mut self,
        name: &FileName,
        dir: Dir,
        key: &PartKey,
        blame: Blame,
        why: &str,
    ) {
        tracing::warn!(%name, %dir, why, "downloaded file rejected");
        self.counters.bad_files += 1;
        if self.store.discard_partial(key).is_err() {
            self.counters.store_errors += 1;
        }
        if blame == Blame::Version {
            self.bad.insert((name.clone(), key.hash));
            if self
                .offers
                .get(name)
                .is_some_and(|o| o.version.hash == key.hash)
            {
                self.offers.remove(name);
            }
        } else if let (Blame::Source, Some(o)) = (blame, self.offers.get_mut(name)) {
            o.sources &= !(1u8 << dir.index());
            o.blamed |= 1u8 << dir.index();
        }
        self.events.push_back(FileEvent::Rejected {
            name: name.clone(),
            dir,
            reason: why.to_owned(),
        });
    }

    pub(super) fn store_failed(&mut self, name: &FileName, e: &StoreError) {
        tracing::warn!(%name, error = %e, "store failed during download");
        self.counters.store_errors += 1;
        if let Some(d) = self.downloads.remove(name) {
            self.counters.aborted += 1;
            let key = PartKey {
                name: name.clone(),
                hash: d.version.hash,
            };
            let _ = self.store.discard_partial(&key);
        }
        self.offers.remove(name);
        self.events.push_back(FileEvent::StoreFailed {
            name: name.clone(),
            error: e.to_string(),
        });
    }

    /// Stops a download, keeping its partial file; optionally stops using
    /// its source for this offer.
    pub(super) fn abort(&mut self, name: &FileName, drop_source: bool) {
        if let Some(d) = self.downloads.remove(name) {
            self.counters.aborted += 1;
            if drop_source {
                if let Some(o) = self.offers.get_mut(name) {
                    o.sources &= !(1u8 << d.dir.index());
                }
            }
        }
    }

    pub(super) fn start_downloads(&mut self, now: Instant) {
        let waiting: Vec<FileName> = self
            .offers
            .keys()
            .filter(|n| !self.downloads.contains_key(*n))
            .cloned()
            .collect();
        for name in waiting {
            if self.downloads.len() >= self.config.max_downloads {
                return;
            }
            let Some(o) = self.offers.get(&name).cloned() else {
                continue;
            };
            let sources: Vec<Dir> = ALL
                .into_iter()
                .filter(|d| o.sources & (1 << d.index()) != 0 && self.present[d.index()])
                .collect();
            if sources.is_empty() {
                continue;
            }
            let dir = sources[self.pick(sources.len())];
            let key = PartKey {
                name: name.clone(),
                hash: o.version.hash,
            };
            let mut offset = self.store.partial_len(&key).unwrap_or(0);
            if offset > u64::from(o.size) {
                self.forget_partial(&name, o.version);
                offset = 0;
            }
            let offset = offset as u32;
            self.next_id = self.next_id.wrapping_add(1);
            let id = self.next_id;
            self.downloads.insert(
                name.clone(),
                Download {
                    version: o.version,
                    size: o.size,
                    dir,
                    id,
                    start: offset,
                    received: offset,
                    unacked: 0,
                    deadline: now + self.config.stall_timeout,
                },
            );
            tracing::debug!(%name, %dir, offset, "requesting file");
            self.counters.requests_sent += 1;
            self.out.push_back(Outgoing {
                dir,
                payload: Message::Request {
                    id,
                    offset,
                    window: self.config.window,
                    version: o.version,
                    name,
                }
                .to_vec(),
                priority: Priority::Normal,
            });
        }
    }
}
