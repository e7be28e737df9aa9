//! Records kept for others: small signed values (see [`crate::wire::record`])
//! stored at the members nearest their key, so that any member can find,
//! for example, which node hosts an engine, with no central server.
//!
//! A record's key maps to an overlay address in the network's prefix
//! ([`NetworkPrefix::record_addr`](crate::identity::NetworkPrefix::record_addr)),
//! and its messages travel there by greedy forwarding over direct sessions,
//! as lookups do ([`super::contacts`]). A **store** goes on until no member
//! with a session is closer to the key: that member keeps the record and
//! sends a copy (a **replica**, not forwarded) to the [`REPLICAS`] members
//! nearest the key among its sessions. A **fetch** goes the same way and is
//! answered by the first member that holds the record, or, where it can go
//! no closer, by "not found"; answers go back to the member that asked by
//! its node ID ([`Node::next_hop`]). A fetch that found nothing is tried
//! again through another first hop, up to [`FETCH_TRIES`] times.
//!
//! Every member checks every record it keeps or is answered with: the
//! publisher's signature, and (for answers) that the record is the one of
//! the key asked for. A member keeps a record for its `ttl_s` (at most
//! [`MAX_TTL_S`] seconds), a higher `seq` replaces a lower one, and it keeps
//! at most [`MAX_RECORDS`] records and [`MAX_PER_PUBLISHER`] per publisher,
//! so no member can fill another's memory. Publishers renew their records
//! before they expire; a record whose publisher stops renewing disappears.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::{DropReason, Event, Node};
use crate::identity::NodeId;
use crate::wire::record::{Op, Record, RecordMessage, HOP_LIMIT, MAX_TTL_S};

/// Members besides the nearest one that keep a copy of a record.
pub(crate) const REPLICAS: usize = 2;
/// Records a member keeps for others.
pub(crate) const MAX_RECORDS: usize = 4096;
/// Records a member keeps of one publisher.
pub(crate) const MAX_PER_PUBLISHER: usize = 64;
/// How long a fetch waits for its answer before it is tried again.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests sent for one fetch before it is given up.
pub(crate) const FETCH_TRIES: u8 = 3;
/// Fetches of ours in flight at once.
const MAX_FETCHES: usize = 64;

/// Why a record was not published or fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not a record, or its signature does not verify.
    #[error("not a validly signed record")]
    Invalid,
    /// Too many fetches are in flight.
    #[error("too many record fetches in flight")]
    Busy,
}

/// A record kept here.
#[derive(Debug)]
struct Stored {
    bytes: Vec<u8>,
    seq: u64,
    publisher: [u8; 32],
    expires: Instant,
}

/// A fetch of ours in flight.
#[derive(Debug)]
struct Fetch {
    id: u64,
    tries: u8,
    first_hops: Vec<NodeId>,
    deadline: Instant,
}

/// The records a node keeps, its fetches, and their counters.
#[derive(Debug, Default)]
pub(crate) struct Records {
    store: HashMap<[u8; 32], Stored>,
    per_publisher: HashMap<[u8; 32], usize>,
    fetches: HashMap<[u8; 32], Fetch>,
    next_expiry: Option<Instant>,
    stats: RecordStats,
}

/// Record counters, for `tessel status` and the simulator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStats {
    /// Records kept here now.
    pub kept: u64,
    /// Records (and newer versions) taken into the store.
    pub stored: u64,
    /// Records refused: bad signature, an older version, or over a limit.
    pub refused: u64,
    /// Records that expired here.
    pub expired: u64,
    /// Fetches this node started.
    pub fetches: u64,
    /// Fetches of ours that found the record.
    pub found: u64,
    /// Fetches of ours that ended without it.
    pub not_found: u64,
    /// Store and fetch messages passed on for others.
    pub forwarded: u64,
    /// Fetches answered here.
    pub answered: u64,
}

impl Records {
    /// Keeps `record` (already verified) until `now + ttl`; false if it is
    /// older than the one kept, or a limit is reached.
    fn keep(&mut self, now: Instant, record: &Record<'_>) -> bool {
        let key = record.key();
        let publisher = record.publisher();
        let ttl = Duration::from_secs(u64::from(record.ttl_s().min(MAX_TTL_S)));
        let expires = now + ttl;
        match self.store.get_mut(&key) {
            Some(old) if old.seq > record.seq() => return false,
            Some(old) => {
                old.bytes = record.as_bytes().to_vec();
                old.seq = record.seq();
                old.expires = old.expires.max(expires);
            }
            None => {
                let count = self.per_publisher.get(&publisher).copied().unwrap_or(0);
                if self.store.len() >= MAX_RECORDS || count >= MAX_PER_PUBLISHER {
                    return false;
                }
                self.per_publisher.insert(publisher, count + 1);
                self.store.insert(
                    key,
                    Stored {
                        bytes: record.as_bytes().to_vec(),
                        seq: record.seq(),
                        publisher,
                        expires,
                    },
                );
            }
        }
        self.next_expiry = Some(self.next_expiry.map_or(expires, |e| e.min(expires)));
        self.stats.stored += 1;
        self.stats.kept = self.store.len() as u64;
        true
    }

    /// Drops the records whose time is up.
    fn expire(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|e| e > now) {
            return;
        }
        let before = self.store.len();
        let per_publisher = &mut self.per_publisher;
        self.store.retain(|_, s| {
            let keep = s.expires > now;
            if !keep {
                if let Some(n) = per_publisher.get_mut(&s.publisher) {
                    *n -= 1;
                    if *n == 0 {
                        per_publisher.remove(&s.publisher);
                    }
                }
            }
            keep
        });
        self.stats.expired += (before - self.store.len()) as u64;
        self.stats.kept = self.store.len() as u64;
        self.next_expiry = self.store.values().map(|s| s.expires).min();
    }

    /// The record of `key`, if kept and not expired.
    pub(super) fn get(&self, now: Instant, key: &[u8; 32]) -> Option<&[u8]> {
        self.store
            .get(key)
            .filter(|s| s.expires > now)
            .map(|s| &s.bytes[..])
    }
}

impl Node {
    /// Record counters.
    pub fn record_stats(&self) -> RecordStats {
        self.records.stats
    }

    /// Publishes a signed record: sends it toward the members nearest its
    /// key, which keep it for its lifetime (renew it before then). A node
    /// nearer the key than any member it has a session with keeps it itself.
    ///
    /// # Errors
    /// [`RecordError::Invalid`] if `record` is not a validly signed record.
    pub fn publish_record(&mut self, now: Instant, record: &[u8]) -> Result<(), RecordError> {
        let r = Record::parse(record).map_err(|_| RecordError::Invalid)?;
        if !r.verify() {
            return Err(RecordError::Invalid);
        }
        let id = self.rng.next_u64();
        let msg = RecordMessage {
            hop_limit: HOP_LIMIT,
            id,
            origin: *self.id.as_bytes(),
            op: Op::Store(r),
        };
        self.store_or_forward(now, None, &msg, &r);
        Ok(())
    }

    /// Fetches the record of `key`; the answer comes as
    /// [`Event::Record`], at once if this node keeps it.
    ///
    /// # Errors
    /// [`RecordError::Busy`] if too many fetches are in flight.
    pub fn fetch_record(&mut self, now: Instant, key: [u8; 32]) -> Result<(), RecordError> {
        if let Some(bytes) = self.records.get(now, &key) {
            let record = Some(bytes.to_vec());
            self.events.push_back(Event::Record { key, record });
            return Ok(());
        }
        if self.records.fetches.contains_key(&key) {
            return Ok(());
        }
        if self.records.fetches.len() >= MAX_FETCHES {
            return Err(RecordError::Busy);
        }
        self.records.stats.fetches += 1;
        let id = self.rng.next_u64();
        self.records.fetches.insert(
            key,
            Fetch {
                id,
                tries: 0,
                first_hops: Vec::new(),
                deadline: now,
            },
        );
        if !self.send_fetch(now, key) {
            self.end_fetch(key, None);
        }
        Ok(())
    }

    /// Sends (again) the request of the fetch of `key` to the member
    /// nearest the key that it has not gone to yet; false if there is none
    /// or its tries are spent.
    fn send_fetch(&mut self, now: Instant, key: [u8; 32]) -> bool {
        let Some(f) = self.records.fetches.get(&key) else {
            return false;
        };
        if f.tries >= FETCH_TRIES {
            return false;
        }
        let (id, tried) = (f.id, f.first_hops.clone());
        let target = super::contacts::key(self.prefix.record_addr(&key));
        let Some(hop) = self.closest_hop(now, target, &tried, false) else {
            return false;
        };
        let msg = RecordMessage {
            hop_limit: HOP_LIMIT,
            id,
            origin: *self.id.as_bytes(),
            op: Op::Fetch(key),
        };
        if !self.send_encrypted(now, hop, &msg.emit()) {
            return false;
        }
        let f = self.records.fetches.get_mut(&key).expect("checked");
        f.tries += 1;
        f.first_hops.push(hop);
        f.deadline = now + FETCH_TIMEOUT;
        let deadline = f.deadline;
        self.wake_at(Some(deadline));
        true
    }

    /// Ends the fetch of `key` with its result.
    fn end_fetch(&mut self, key: [u8; 32], record: Option<Vec<u8>>) {
        if self.records.fetches.remove(&key).is_none() {
            return;
        }
        if record.is_some() {
            self.records.stats.found += 1;
        } else {
            self.records.stats.not_found += 1;
        }
        self.events.push_back(Event::Record { key, record });
    }

    /// Passes a store on toward its key, or, where no member with a session
    /// is nearer, keeps the record and sends replicas.
    fn store_or_forward(
        &mut self,
        now: Instant,
        from: Option<NodeId>,
        msg: &RecordMessage<'_>,
        record: &Record<'_>,
    ) {
        let target = super::contacts::key(self.prefix.record_addr(&record.key()));
        if msg.hop_limit > 1 {
            if let Some(hop) = self.greedy_hop(now, target, from) {
                let fwd = RecordMessage {
                    hop_limit: msg.hop_limit - 1,
                    ..*msg
                };
                if self.send_encrypted(now, hop, &fwd.emit()) {
                    self.records.stats.forwarded += 1;
                    return;
                }
            }
        }
        self.keep_record(now, record);
        let mut sent: Vec<NodeId> = Vec::with_capacity(REPLICAS);
        while sent.len() < REPLICAS {
            let Some(hop) = self.closest_hop(now, target, &sent, false) else {
                break;
            };
            sent.push(hop);
            let copy = RecordMessage {
                hop_limit: 1,
                id: msg.id,
                origin: msg.origin,
                op: Op::Replica(*record),
            };
            self.send_encrypted(now, hop, &copy.emit());
        }
    }

    /// Keeps a verified record, counting a refusal.
    fn keep_record(&mut self, now: Instant, record: &Record<'_>) {
        if !self.records.keep(now, record) {
            self.records.stats.refused += 1;
        } else if let Some(at) = self.records.next_expiry {
            self.wake_at(Some(at));
        }
    }

    /// Handles a record message that arrived on our session with `from`.
    pub(crate) fn consume_record(&mut self, now: Instant, from: NodeId, bytes: &[u8]) {
        let Ok(msg) = RecordMessage::parse(bytes) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        // Like lookups, records travel only over direct sessions.
        if !self.usable_hop(now, &from) {
            self.drops.add(DropReason::LookupNoRoute);
            return;
        }
        let origin = NodeId::known(&msg.origin, |id| {
            self.peers.contains_key(id) || *id == self.id
        })
        .or_else(|| NodeId::from_bytes(msg.origin).ok());
        let Some(origin) = origin else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        match msg.op {
            Op::Store(r) | Op::Replica(r) if !r.verify() => {
                self.records.stats.refused += 1;
                self.drops.add(DropReason::RecordRejected);
            }
            Op::Store(r) => self.store_or_forward(now, Some(from), &msg, &r),
            Op::Replica(r) => self.keep_record(now, &r),
            Op::Fetch(key) => self.on_fetch(now, from, origin, &msg, key),
            Op::Found(_) | Op::NotFound(_) if origin != self.id => {
                // An answer on its way back to the member that asked.
                let next = self
                    .next_hop(now, origin, Some(from))
                    .filter(|_| msg.hop_limit > 1);
                match next {
                    Some(hop) => {
                        let fwd = RecordMessage {
                            hop_limit: msg.hop_limit - 1,
                            ..msg
                        };
                        if self.send_encrypted(now, hop, &fwd.emit()) {
                            self.records.stats.forwarded += 1;
                        }
                    }
                    None => self.drops.add(DropReason::LookupNoRoute),
                }
            }
            Op::Found(r) => {
                let key = r.key();
                if self
                    .records
                    .fetches
                    .get(&key)
                    .is_none_or(|f| f.id != msg.id)
                {
                    return;
                }
                if !r.verify() {
                    self.drops.add(DropReason::RecordRejected);
                    return;
                }
                self.end_fetch(key, Some(r.as_bytes().to_vec()));
            }
            Op::NotFound(key) => {
                if self
                    .records
                    .fetches
                    .get(&key)
                    .is_none_or(|f| f.id != msg.id)
                {
                    return;
                }
                // This path ended without it: another may not.
                if !self.send_fetch(now, key) {
                    self.end_fetch(key, None);
                }
            }
        }
    }

    fn on_fetch(
        &mut self,
        now: Instant,
        from: NodeId,
        origin: NodeId,
        msg: &RecordMessage<'_>,
        key: [u8; 32],
    ) {
        let answer = if let Some(bytes) = self.records.get(now, &key) {
            Some(bytes.to_vec())
        } else {
            let target = super::contacts::key(self.prefix.record_addr(&key));
            let next = self
                .greedy_hop(now, target, Some(from))
                .filter(|_| msg.hop_limit > 1);
            if let Some(hop) = next {
                let fwd = RecordMessage {
                    hop_limit: msg.hop_limit - 1,
                    ..*msg
                };
                if self.send_encrypted(now, hop, &fwd.emit()) {
                    self.records.stats.forwarded += 1;
                    return;
                }
            }
            None
        };
        self.records.stats.answered += 1;
        let found = answer.as_deref().and_then(|b| Record::parse(b).ok());
        let reply = RecordMessage {
            hop_limit: HOP_LIMIT,
            id: msg.id,
            origin: msg.origin,
            op: match found {
                Some(r) => Op::Found(r),
                None => Op::NotFound(key),
            },
        };
        match self.next_hop(now, origin, None) {
            Some(hop) => {
                self.send_encrypted(now, hop, &reply.emit());
            }
            None => self.drops.add(DropReason::LookupNoRoute),
        }
    }

    /// Expires records and retries or ends fetches whose answer is late.
    pub(crate) fn record_timers(&mut self, now: Instant) {
        self.records.expire(now);
        let mut due: Vec<[u8; 32]> = self
            .records
            .fetches
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        due.sort_unstable();
        for key in due {
            if !self.send_fetch(now, key) {
                self.end_fetch(key, None);
            }
        }
    }

    /// When [`Node::record_timers`] next has something to do.
    pub(crate) fn record_deadline(&self) -> Option<Instant> {
        self.records
            .fetches
            .values()
            .map(|f| f.deadline)
            .chain(self.records.next_expiry)
            .min()
    }
}
