//! The roster: every member's node ID and the few fields that gossip and
//! member upkeep read of all members, sorted by node ID and stored as
//! parallel arrays, so that a pass over all members reads a few bytes each
//! instead of every member's full entry. [`super::peer_table::PeerTable`]
//! keeps it up to date.
//!
//! A member that leaves is only marked gone (a binary search, no shift of
//! the arrays), so that expiring thousands of members costs O(log n) each;
//! gone entries carry no flags (readers skip them as having no endpoint) and
//! are dropped when an insertion shifts the arrays anyway. A member that
//! comes back takes its old entry again.

use std::time::Instant;

use super::peer::Peer;
use crate::identity::NodeId;

const ENDPOINT: u8 = 1;
const NEIGHBOUR: u8 = 2;
const HANDSHAKE: u8 = 4;
/// The entry's member left (a tombstone; every other flag is clear).
const GONE: u8 = 8;

/// What the roster holds of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// The member.
    pub(crate) id: NodeId,
    /// Its place by key ([`super::contacts::key`] of its overlay address).
    pub(crate) key: u128,
    /// [`Peer::freshness`].
    pub(crate) freshness: Instant,
    /// [`Peer::retry_at`].
    pub(crate) retry_at: Option<Instant>,
    /// Whether [`Peer::endpoint`] is known.
    pub(crate) has_endpoint: bool,
    /// [`Peer::neighbour`].
    pub(crate) neighbour: bool,
    /// Whether a handshake of ours with it is in flight.
    pub(crate) handshake: bool,
}

impl Summary {
    /// The summary of `peer` as it is now.
    pub(crate) fn of(peer: &Peer) -> Self {
        Self {
            id: peer.id,
            key: super::contacts::key(peer.ipv6),
            freshness: peer.freshness(),
            retry_at: peer.retry_at,
            has_endpoint: peer.endpoint.is_some(),
            neighbour: peer.neighbour,
            handshake: peer.handshake.is_some(),
        }
    }

    fn flags(&self) -> u8 {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        flag(self.has_endpoint, ENDPOINT)
            | flag(self.neighbour, NEIGHBOUR)
            | flag(self.handshake, HANDSHAKE)
    }
}

/// Members' summaries in node ID order, as parallel arrays. See the module
/// documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Roster {
    /// Node IDs, ascending.
    pub(crate) ids: Vec<NodeId>,
    /// [`Summary::key`] of each.
    pub(crate) keys: Vec<u128>,
    /// [`Summary::freshness`] of each.
    pub(crate) freshness: Vec<Instant>,
    /// [`Summary::retry_at`] of each.
    pub(crate) retry_at: Vec<Option<Instant>>,
    flags: Vec<u8>,
    /// Entries marked gone.
    gone: usize,
    /// Steps taken so far: search probes and entries shifted or dropped.
    work: Work,
}

/// A step counter. (Atomic only so that the node stays `Sync`; it is never
/// shared, and a copy of the roster counts on from the same number.)
#[derive(Debug, Default)]
struct Work(std::sync::atomic::AtomicU64);

impl Clone for Work {
    fn clone(&self) -> Self {
        Self(self.0.load(std::sync::atomic::Ordering::Relaxed).into())
    }
}

impl Roster {
    /// Entries on the roster (members, and gone ones not yet dropped):
    /// the range of indices to read.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether entry `i` is a member (not gone).
    pub(crate) fn is_member(&self, i: usize) -> bool {
        self.flags[i] & GONE == 0
    }

    /// Steps taken so far (search probes, entries shifted or dropped), to
    /// show what each change costs.
    #[cfg(test)]
    pub(crate) fn work(&self) -> u64 {
        self.work.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count(&self, steps: usize) {
        self.work
            .0
            .fetch_add(steps as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether member `i` has a known endpoint.
    pub(crate) fn has_endpoint(&self, i: usize) -> bool {
        self.flags[i] & ENDPOINT != 0
    }

    /// Whether member `i` is a neighbour.
    pub(crate) fn neighbour(&self, i: usize) -> bool {
        self.flags[i] & NEIGHBOUR != 0
    }

    /// Whether a handshake of ours with member `i` is in flight.
    pub(crate) fn handshake(&self, i: usize) -> bool {
        self.flags[i] & HANDSHAKE != 0
    }

    /// Member `i`'s summary.
    #[cfg(test)]
    pub(crate) fn get(&self, i: usize) -> Summary {
        Summary {
            id: self.ids[i],
            key: self.keys[i],
            freshness: self.freshness[i],
            retry_at: self.retry_at[i],
            has_endpoint: self.has_endpoint(i),
            neighbour: self.neighbour(i),
            handshake: self.handshake(i),
        }
    }

    /// Where `id` is (`Ok`) or would go (`Err`).
    pub(crate) fn position(&self, id: &NodeId) -> Result<usize, usize> {
        // Node IDs order as their bytes; comparing them as four big-endian
        // words gives the same order without a call to memcmp.
        let words = |id: &NodeId| {
            let b = id.as_bytes();
            std::array::from_fn::<u64, 4, _>(|i| {
                u64::from_be_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
            })
        };
        let key = words(id);
        self.ids.binary_search_by(|x| {
            self.count(1);
            words(x).cmp(&key)
        })
    }

    /// Adds `s` (whose member is not on the roster): in its old entry if
    /// it left and came back, else shifted in, dropping gone entries.
    pub(crate) fn insert(&mut self, s: Summary) {
        let at = match self.position(&s.id) {
            Ok(at) => {
                debug_assert!(!self.is_member(at));
                self.gone -= 1;
                self.keys[at] = s.key;
                self.freshness[at] = s.freshness;
                self.retry_at[at] = s.retry_at;
                self.flags[at] = s.flags();
                return;
            }
            Err(at) => at,
        };
        self.count(self.ids.len() - at);
        self.ids.insert(at, s.id);
        self.keys.insert(at, s.key);
        self.freshness.insert(at, s.freshness);
        self.retry_at.insert(at, s.retry_at);
        self.flags.insert(at, s.flags());
        if self.gone > 0 {
            self.drop_gone();
        }
    }

    /// Drops the gone entries (as costly as the shift an insertion makes).
    fn drop_gone(&mut self) {
        self.count(self.ids.len());
        let keep: Vec<bool> = self.flags.iter().map(|f| f & GONE == 0).collect();
        let mut k = keep.iter();
        self.ids.retain(|_| *k.next().expect("same length"));
        let mut k = keep.iter();
        self.keys.retain(|_| *k.next().expect("same length"));
        let mut k = keep.iter();
        self.freshness.retain(|_| *k.next().expect("same length"));
        let mut k = keep.iter();
        self.retry_at.retain(|_| *k.next().expect("same length"));
        self.flags.retain(|f| f & GONE == 0);
        self.gone = 0;
    }

    /// Updates the summary of `s.id`, if it is on the roster; `hint` is
    /// where it was last seen (positions shift as members come and go).
    /// Returns where it is.
    pub(crate) fn update(&mut self, s: Summary, hint: usize) -> Option<usize> {
        let at = if self.ids.get(hint) == Some(&s.id) {
            hint
        } else {
            self.position(&s.id).ok()?
        };
        if !self.is_member(at) {
            return None;
        }
        self.freshness[at] = s.freshness;
        self.retry_at[at] = s.retry_at;
        self.flags[at] = s.flags();
        Some(at)
    }

    /// Takes `id` off the roster: its entry is marked gone.
    pub(crate) fn remove(&mut self, id: &NodeId) {
        if let Ok(at) = self.position(id) {
            if self.is_member(at) {
                self.flags[at] = GONE;
                self.retry_at[at] = None;
                self.gone += 1;
            }
        }
    }
}
