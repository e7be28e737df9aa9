//! The source side of a transfer: requests, windowed chunks, END,
//! refusals.

use std::time::Instant;

use super::FileService;
use crate::dir::Dir;
use crate::file::msg::{Message, RefusalReason, MAX_CHUNK};
use crate::file::name::FileName;
use crate::file::signed::Version;
use crate::file::store::Store;
use crate::file::Outgoing;
use crate::tile::Priority;

#[derive(Debug, Clone)]
pub(super) struct Upload {
    pub(super) dir: Dir,
    pub(super) id: u16,
    pub(super) name: FileName,
    pub(super) version: Version,
    pub(super) size: u32,
    pub(super) next: u32,
    pub(super) limit: u32,
    /// END went out; the upload is kept a while so late acknowledgements
    /// are not taken for new requests.
    pub(super) done: bool,
    /// When the upload is forgotten: a stall timeout after END, or two
    /// after the receiver's last request (it went quiet or went elsewhere).
    pub(super) expires: Instant,
}

impl<S: Store> FileService<S> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        dir: Dir,
        id: u16,
        offset: u32,
        window: u16,
        version: Version,
        name: FileName,
    ) {
        let span = u32::from(window).saturating_mul(MAX_CHUNK as u32);
        if let Some(u) = self
            .uploads
            .iter_mut()
            .find(|u| u.dir == dir && u.id == id && u.name == name)
        {
            if !u.done {
                u.limit = u.limit.max(offset.saturating_add(span));
                u.expires = now + 2 * self.config.stall_timeout;
                self.pump_uploads(now);
            }
            return;
        }
        let Some(entry) = self.files.get(&name).filter(|e| e.version == version) else {
            self.refuse(dir, id, RefusalReason::NotFound);
            return;
        };
        if offset > entry.size {
            self.refuse(dir, id, RefusalReason::BadOffset);
            return;
        }
        // A new request for the same file from the same neighbour replaces
        // the old transfer.
        self.uploads.retain(|u| !(u.dir == dir && u.name == name));
        let active = self.uploads.iter().filter(|u| !u.done).count();
        if active >= self.config.max_uploads {
            self.refuse(dir, id, RefusalReason::Busy);
            return;
        }
        self.uploads.push(Upload {
            dir,
            id,
            name,
            version,
            size: entry.size,
            next: offset,
            limit: offset.saturating_add(span),
            done: false,
            expires: now + 2 * self.config.stall_timeout,
        });
        self.pump_uploads(now);
    }

    pub(super) fn pump_uploads(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for (i, u) in self.uploads.iter_mut().enumerate() {
            if u.done {
                continue;
            }
            if self.files.get(&u.name).map(|e| e.version) != Some(u.version) {
                failed.push((i, RefusalReason::NotFound));
                continue;
            }
            while u.next < u.size && u.next < u.limit {
                let want = MAX_CHUNK.min((u.size - u.next) as usize);
                let data = match self.store.read_at(&u.name, u64::from(u.next), want) {
                    Ok(d) if d.len() == want => d,
                    _ => {
                        self.counters.store_errors += 1;
                        failed.push((i, RefusalReason::Unavailable));
                        break;
                    }
                };
                self.out.push_back(Outgoing {
                    dir: u.dir,
                    payload: Message::Chunk {
                        id: u.id,
                        offset: u.next,
                        data: &data,
                    }
                    .to_vec(),
                    priority: Priority::Bulk,
                });
                self.counters.chunks_sent += 1;
                self.counters.chunk_bytes_sent += want as u64;
                u.next += want as u32;
            }
            if u.next == u.size && !failed.iter().any(|(j, _)| *j == i) {
                self.out.push_back(Outgoing {
                    dir: u.dir,
                    payload: Message::End {
                        id: u.id,
                        size: u.size,
                    }
                    .to_vec(),
                    priority: Priority::Bulk,
                });
                u.done = true;
                u.expires = now + self.config.stall_timeout;
            }
        }
        for (i, reason) in failed.into_iter().rev() {
            let u = self.uploads.remove(i);
            self.refuse(u.dir, u.id, reason);
        }
    }

    pub(super) fn refuse(&mut self, dir: Dir, id: u16, reason: RefusalReason) {
        self.counters.refusals_sent += 1;
        self.out.push_back(Outgoing {
            dir,
            payload: Message::Refusal { id, reason }.to_vec(),
            priority: Priority::Normal,
        });
    }
}
