//! The roster: every member's node ID and the few fields that gossip and
//! member upkeep read of all members, sorted by node ID and stored as
//! parallel arrays, so that a pass over all members reads a few bytes each
//! instead of every member's full entry. [`super::peer_table::PeerTable`]
//! keeps it up to date.

use std::time::Instant;

use super::peer::Peer;
use crate::identity::NodeId;

const ENDPOINT: u8 = 1;
const NEIGHBOUR: u8 = 2;
const HANDSHAKE: u8 = 4;

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
#[derive(Debug, Default)]
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
}

impl Roster {
    /// Members on the roster.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
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
        self.ids.binary_search_by(|x| words(x).cmp(&key))
    }

    /// Adds `s` (whose member is not on the roster).
    pub(crate) fn insert(&mut self, s: Summary) {
        let at = self.position(&s.id).unwrap_or_else(|at| at);
        self.ids.insert(at, s.id);
        self.keys.insert(at, s.key);
        self.freshness.insert(at, s.freshness);
        self.retry_at.insert(at, s.retry_at);
        self.flags.insert(at, s.flags());
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
        self.freshness[at] = s.freshness;
        self.retry_at[at] = s.retry_at;
        self.flags[at] = s.flags();
        Some(at)
    }

    /// Takes `id` off the roster.
    pub(crate) fn remove(&mut self, id: &NodeId) {
        if let Ok(at) = self.position(id) {
            self.ids.remove(at);
            self.keys.remove(at);
            self.freshness.remove(at);
            self.retry_at.remove(at);
            self.flags.remove(at);
        }
    }
}
