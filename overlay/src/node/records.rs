//! Records kept for others: small values that members publish under a key
//! (see [`crate::wire::record`]), stored at the members nearest the key, so
//! that any member can find, for example, which node hosts an engine, with
//! no central server.
//!
//! A key maps to an overlay address in the network's prefix
//! ([`NetworkPrefix::record_addr`](crate::identity::NetworkPrefix::record_addr)),
//! and record messages travel there by greedy forwarding over direct
//! sessions, as lookups do ([`super::contacts`]). A **store** goes on until
//! no member with a session is nearer the key: that member keeps the record
//! and sends a copy (a **replica**, not forwarded) to the [`REPLICAS`]
//! members nearest the key among its sessions. A **fetch** goes the same way
//! and is answered by the first member that keeps records under the key,
//! with all of them (in several messages if they do not fit in one), or,
//! where it can go no nearer, with none; answers go back to the member that
//! asked by its node ID ([`Node::next_hop`]). A fetch answered with none is
//! tried again through another first hop, up to [`FETCH_TRIES`] times.
//!
//! Every record is signed by its publisher's node key and checked by every
//! member that keeps it or is answered with it, and a fetched record must
//! be one of the key asked for. One publisher keeps one value per key (a
//! higher `seq` replaces a lower one), so no member can replace or forge
//! another's. A member keeps a record for its `ttl_s` (at most
//! [`MAX_TTL_S`] seconds) and at most [`MAX_RECORDS`] records, [`MAX_PER_KEY`]
//! per key and [`MAX_PER_PUBLISHER`] per publisher, so no member can fill
//! another's memory or crowd a key. Publishers renew their records before
//! they expire; a record whose publisher stops renewing disappears.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::{DropReason, Event, Node};
use crate::identity::NodeId;
use crate::wire::record::{
    emit_found, emit_record, emit_signed_part, signing_message, Op, Record, RecordMessage,
    HOP_LIMIT, MAX_FOUND_RECORDS, MAX_TTL_S, MAX_VALUE,
};

/// Members besides the nearest one that keep a copy of a record.
pub(crate) const REPLICAS: usize = 2;
/// Records a member keeps for others.
pub(crate) const MAX_RECORDS: usize = 4096;
/// Records a member keeps under one key (one per publisher).
pub(crate) const MAX_PER_KEY: usize = 16;
/// Records a member keeps of one publisher.
pub(crate) const MAX_PER_PUBLISHER: usize = 64;
/// How long a fetch waits for its answer before it is tried again.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Requests sent for one fetch before it is given up.
pub(crate) const FETCH_TRIES: u8 = 3;
/// Fetches of ours in flight at once.
const MAX_FETCHES: usize = 64;
/// Most parts of an answer taken (MAX_PER_KEY records never need more).
const MAX_PARTS: u8 = 64;

/// Why a record was not published or fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The value is longer than [`MAX_VALUE`] bytes.
    #[error("a record's value is at most {MAX_VALUE} bytes")]
    TooLarge,
    /// Too many fetches are in flight.
    #[error("too many record fetches in flight")]
    Busy,
}

/// A record kept here.
#[derive(Clone, Debug)]
struct Stored {
    publisher: [u8; 32],
    bytes: Vec<u8>,
    seq: u64,
    expires: Instant,
}

/// A fetch of ours in flight.
#[derive(Clone, Debug)]
pub(super) struct Fetch {
    pub(super) id: u64,
    tries: u8,
    first_hops: Vec<NodeId>,
    deadline: Instant,
    /// Parts of the current answer received (a bit each), and how many.
    parts_seen: u64,
    parts: u8,
    /// Records received so far.
    records: Vec<(NodeId, Vec<u8>)>,
}

/// The records a node keeps, its fetches, and their counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Records {
    store: HashMap<[u8; 32], Vec<Stored>>,
    count: usize,
    per_publisher: HashMap<[u8; 32], usize>,
    pub(super) fetches: HashMap<[u8; 32], Fetch>,
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
    /// Fetches of ours that found records.
    pub found: u64,
    /// Fetches of ours that ended without any.
    pub not_found: u64,
    /// Store, fetch and answer messages passed on for others.
    pub forwarded: u64,
    /// Fetches answered here.
    pub answered: u64,
}

impl Records {
    /// Keeps `record` (already verified) until `now + ttl`; false if it is
    /// older than its publisher's record kept under the key, or a limit is
    /// reached.
    fn keep(&mut self, now: Instant, record: &Record<'_>) -> bool {
        let publisher = record.publisher();
        let ttl = Duration::from_secs(u64::from(record.ttl_s().min(MAX_TTL_S)));
        let expires = now + ttl;
        let kept = self.store.entry(record.key()).or_default();
        match kept.iter_mut().find(|s| s.publisher == publisher) {
            Some(old) if old.seq > record.seq() => return false,
            Some(old) => {
                old.bytes = record.as_bytes().to_vec();
                old.seq = record.seq();
                old.expires = expires;
            }
            None => {
                let of_publisher = self.per_publisher.get(&publisher).copied().unwrap_or(0);
                if self.count >= MAX_RECORDS
                    || kept.len() >= MAX_PER_KEY
                    || of_publisher >= MAX_PER_PUBLISHER
                {
                    if kept.is_empty() {
                        self.store.remove(&record.key());
                    }
                    return false;
                }
                self.per_publisher.insert(publisher, of_publisher + 1);
                self.count += 1;
                kept.push(Stored {
                    publisher,
                    bytes: record.as_bytes().to_vec(),
                    seq: record.seq(),
                    expires,
                });
            }
        }
        self.next_expiry = Some(self.next_expiry.map_or(expires, |e| e.min(expires)));
        self.stats.stored += 1;
        self.stats.kept = self.count as u64;
        true
    }

    /// Drops the records whose time is up.
    fn expire(&mut self, now: Instant) {
        if self.next_expiry.is_none_or(|e| e > now) {
            return;
        }
        let before = self.count;
        let per_publisher = &mut self.per_publisher;
        let mut count = 0;
        self.store.retain(|_, kept| {
            kept.retain(|s| {
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
            count += kept.len();
            !kept.is_empty()
        });
        self.count = count;
        self.stats.expired += (before - count) as u64;
        self.stats.kept = count as u64;
        self.next_expiry = self.store.values().flatten().map(|s| s.expires).min();
    }

    /// The records kept under `key` that have not expired.
    pub(super) fn get(&self, now: Instant, key: &[u8; 32]) -> Vec<&[u8]> {
        self.store
            .get(key)
            .into_iter()
            .flatten()
            .filter(|s| s.expires > now)
            .map(|s| &s.bytes[..])
            .collect()
    }
}

/// `(publisher, value)` of checked records.
fn values(records: &[&[u8]]) -> Vec<(NodeId, Vec<u8>)> {
    records
        .iter()
        .filter_map(|b| Record::parse(b).ok())
        .map(|r| (NodeId::unchecked(r.publisher()), r.value().to_vec()))
        .collect()
}

impl Node {
    /// Record counters.
    pub fn record_stats(&self) -> RecordStats {
        self.records.stats
    }

    /// Publishes `value` under `key`, signed by this node: the members
    /// nearest the key keep it for `ttl` (at most an hour; renew it before
    /// then), beside what other members published under the same key, and
    /// it replaces what this node published there before. A node nearer
    /// the key than any member it has a session with keeps it itself.
    ///
    /// # Errors
    /// [`RecordError::TooLarge`] if `value` is longer than [`MAX_VALUE`].
    pub fn publish_record(
        &mut self,
        now: Instant,
        key: [u8; 32],
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), RecordError> {
        let seq = self.timestamp_ms(now);
        let ttl_s = u32::try_from(ttl.as_secs())
            .unwrap_or(u32::MAX)
            .min(MAX_TTL_S);
        let mut part = Vec::new();
        emit_signed_part(self.id.as_bytes(), &key, seq, ttl_s, value, &mut part)
            .map_err(|_| RecordError::TooLarge)?;
        let sig = self.node_key.sign(&signing_message(&part));
        let mut bytes = Vec::with_capacity(part.len() + sig.len());
        emit_record(&part, &sig, &mut bytes);
        let record = Record::parse(&bytes).expect("made valid");
        let msg = RecordMessage {
            hop_limit: HOP_LIMIT,
            id: self.rng.next_u64(),
            origin: *self.id.as_bytes(),
            op: Op::Store(record),
        };
        self.store_or_forward(now, None, &msg, &record);
        Ok(())
    }

    /// Fetches the records published under `key`; the answer comes as
    /// [`Event::Records`], at once if this node keeps them.
    ///
    /// # Errors
    /// [`RecordError::Busy`] if too many fetches are in flight.
    pub fn fetch_record(&mut self, now: Instant, key: [u8; 32]) -> Result<(), RecordError> {
        let local = self.records.get(now, &key);
        if !local.is_empty() {
            let records = values(&local);
            self.names_fetched(now, &key, &records);
            self.events.push_back(Event::Records { key, records });
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
                parts_seen: 0,
                parts: 0,
                records: Vec::new(),
            },
        );
        if !self.send_fetch(now, key) {
            self.end_fetch(now, key);
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
        if !self.send_encrypted(now, hop, &crate::wire::to_vec(|o| msg.emit(o))) {
            return false;
        }
        let f = self.records.fetches.get_mut(&key).expect("checked");
        f.tries += 1;
        f.first_hops.push(hop);
        f.deadline = now + FETCH_TIMEOUT;
        true
    }

    /// Ends the fetch of `key` with the records it received.
    fn end_fetch(&mut self, now: Instant, key: [u8; 32]) {
        let Some(f) = self.records.fetches.remove(&key) else {
            return;
        };
        if f.records.is_empty() {
            self.records.stats.not_found += 1;
        } else {
            self.records.stats.found += 1;
        }
        let records = f.records;
        self.names_fetched(now, &key, &records);
        self.events.push_back(Event::Records { key, records });
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
                if self.send_encrypted(now, hop, &crate::wire::to_vec(|o| fwd.emit(o))) {
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
            self.send_encrypted(now, hop, &crate::wire::to_vec(|o| copy.emit(o)));
        }
    }

    /// Keeps a verified record, counting a refusal.
    fn keep_record(&mut self, now: Instant, record: &Record<'_>) {
        if !self.records.keep(now, record) {
            self.records.stats.refused += 1;
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
            Op::Found { .. } if origin != self.id => {
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
                        if self.send_encrypted(now, hop, &crate::wire::to_vec(|o| fwd.emit(o))) {
                            self.records.stats.forwarded += 1;
                        }
                    }
                    None => self.drops.add(DropReason::LookupNoRoute),
                }
            }
            Op::Found {
                key,
                part,
                parts,
                records,
            } => self.on_found(now, msg.id, key, part, parts, records.iter()),
        }
    }

    /// A part of the answer to a fetch of ours.
    fn on_found<'a>(
        &mut self,
        now: Instant,
        id: u64,
        key: [u8; 32],
        part: u8,
        parts: u8,
        records: impl Iterator<Item = Record<'a>>,
    ) {
        if parts > MAX_PARTS {
            self.drops.add(DropReason::BadInner);
            return;
        }
        let Some(f) = self.records.fetches.get_mut(&key).filter(|f| f.id == id) else {
            return;
        };
        if f.parts != 0 && f.parts != parts {
            return;
        }
        f.parts = parts;
        if f.parts_seen & (1 << part) != 0 {
            return;
        }
        f.parts_seen |= 1 << part;
        let mut rejected = 0;
        for r in records {
            if r.key() != key || !r.verify() {
                rejected += 1;
                continue;
            }
            let publisher = NodeId::unchecked(r.publisher());
            if f.records.iter().all(|(p, _)| *p != publisher) {
                f.records.push((publisher, r.value().to_vec()));
            }
        }
        let done = f.parts_seen.count_ones() == u32::from(parts);
        let empty = f.records.is_empty();
        for _ in 0..rejected {
            self.drops.add(DropReason::RecordRejected);
        }
        if !done {
            return;
        }
        if empty {
            // This path ended without any: another may not.
            let f = self.records.fetches.get_mut(&key).expect("checked");
            (f.parts, f.parts_seen) = (0, 0);
            if self.send_fetch(now, key) {
                return;
            }
        }
        self.end_fetch(now, key);
    }

    fn on_fetch(
        &mut self,
        now: Instant,
        from: NodeId,
        origin: NodeId,
        msg: &RecordMessage<'_>,
        key: [u8; 32],
    ) {
        let kept: Vec<Vec<u8>> = self
            .records
            .get(now, &key)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        if kept.is_empty() {
            let target = super::contacts::key(self.prefix.record_addr(&key));
            let next = self
                .greedy_hop(now, target, Some(from))
                .filter(|_| msg.hop_limit > 1);
            if let Some(hop) = next {
                let fwd = RecordMessage {
                    hop_limit: msg.hop_limit - 1,
                    ..*msg
                };
                if self.send_encrypted(now, hop, &crate::wire::to_vec(|o| fwd.emit(o))) {
                    self.records.stats.forwarded += 1;
                    return;
                }
            }
        }
        self.records.stats.answered += 1;
        // As many records per answer as fit.
        let mut groups: Vec<Vec<&[u8]>> = vec![Vec::new()];
        let mut size = 0;
        for r in &kept {
            if size + 2 + r.len() > MAX_FOUND_RECORDS {
                groups.push(Vec::new());
                size = 0;
            }
            size += 2 + r.len();
            groups.last_mut().expect("one at least").push(r);
        }
        let parts = groups.len().min(usize::from(MAX_PARTS)) as u8;
        let Some(hop) = self.next_hop(now, origin, None) else {
            self.drops.add(DropReason::LookupNoRoute);
            return;
        };
        for (part, group) in groups.iter().take(usize::from(parts)).enumerate() {
            let mut answer = Vec::new();
            emit_found(
                msg.id,
                msg.origin,
                key,
                part as u8,
                parts,
                group,
                &mut answer,
            );
            self.send_encrypted(now, hop, &answer);
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
            let f = self.records.fetches.get_mut(&key).expect("listed");
            // Part of an answer is better than none; nothing: try again.
            if f.records.is_empty() {
                (f.parts, f.parts_seen) = (0, 0);
                if self.send_fetch(now, key) {
                    continue;
                }
            }
            self.end_fetch(now, key);
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
