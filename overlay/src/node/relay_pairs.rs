//! The bound on how many pairs of members a node relays for at once.
//!
//! A pair is the member that handed us a relay frame (the session it came
//! in on, so it cannot be forged) and the frame's destination, unordered:
//! both directions of one conversation are one pair. A pair holds its place
//! while frames cross it and loses it after [`PAIR_IDLE`] without any; a
//! frame of a new pair while [`MAX_RELAYED_PAIRS`] hold theirs is refused
//! and counted, so that one relay cannot be made to carry an unbounded
//! number of conversations, whatever the bandwidth budget leaves.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::identity::NodeId;
use crate::node::Node;

/// Pairs of members relayed for at once.
pub(crate) const MAX_RELAYED_PAIRS: usize = 8192;

/// A pair without a frame for this long loses its place (a relayed session
/// sends at least a keepalive every 25 s).
pub(crate) const PAIR_IDLE: Duration = Duration::from_secs(60);

/// The pairs relayed for lately, and when each last had a frame.
#[derive(Debug)]
pub(crate) struct RelayPairs {
    limit: usize,
    last: HashMap<(NodeId, NodeId), Instant>,
    /// When idle pairs are next swept out (besides when all places are taken).
    sweep_at: Option<Instant>,
}

impl Default for RelayPairs {
    fn default() -> Self {
        Self::with_limit(MAX_RELAYED_PAIRS)
    }
}

impl RelayPairs {
    /// A table holding at most `limit` pairs.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            last: HashMap::new(),
            sweep_at: None,
        }
    }

    /// Whether a frame between `a` and `b` may be relayed at `now`: yes if
    /// the pair holds a place or one is free (it takes it).
    pub(crate) fn admit(&mut self, a: NodeId, b: NodeId, now: Instant) -> bool {
        let key = if a <= b { (a, b) } else { (b, a) };
        if let Some(t) = self.last.get_mut(&key) {
            *t = now;
            return true;
        }
        // Idle pairs leave every PAIR_IDLE / 2, or at once when all places
        // are taken: never a pass over every pair for each new one.
        if self.last.len() >= self.limit || self.sweep_at.is_none_or(|t| now >= t) {
            self.expire(now);
            self.sweep_at = Some(now + PAIR_IDLE / 2);
        }
        if self.last.len() >= self.limit {
            return false;
        }
        self.last.insert(key, now);
        true
    }

    /// Pairs holding a place (idle ones leave within [`PAIR_IDLE`] / 2 of
    /// falling idle, when a new pair comes).
    pub(crate) fn len(&self) -> usize {
        self.last.len()
    }

    fn expire(&mut self, now: Instant) {
        self.last
            .retain(|_, t| now.saturating_duration_since(*t) < PAIR_IDLE);
    }
}

impl Node {
    /// Sets how many pairs of members this node relays for at once
    /// (default [`MAX_RELAYED_PAIRS`]); pairs beyond it keep their place
    /// until they fall idle.
    pub fn set_relay_pair_limit(&mut self, limit: usize) {
        self.relay.pairs.limit = limit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;

    fn id(n: u8) -> NodeId {
        NodeKey::from_seed([n; 32]).id()
    }

    #[test]
    fn new_pairs_beyond_the_limit_are_refused_until_one_goes_idle() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(2);
        assert!(pairs.admit(id(1), id(2), t0));
        assert!(pairs.admit(id(3), id(4), t0));
        assert!(!pairs.admit(id(5), id(6), t0), "a third pair is refused");
        // Pairs that hold a place keep going, either way round.
        assert!(pairs.admit(id(2), id(1), t0 + Duration::from_secs(30)));
        assert!(pairs.admit(id(4), id(3), t0 + Duration::from_secs(30)));
        assert!(!pairs.admit(id(5), id(6), t0 + Duration::from_secs(61)));
        assert_eq!(pairs.len(), 2);
        // (3, 4) falls idle; (1, 2) stays busy.
        assert!(pairs.admit(id(1), id(2), t0 + Duration::from_secs(80)));
        let later = t0 + Duration::from_secs(95);
        assert!(pairs.admit(id(5), id(6), later), "the idle pair's place");
        assert!(!pairs.admit(id(3), id(4), later), "the idle pair lost it");
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn idle_pairs_leave_below_the_limit_too() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(10);
        assert!(pairs.admit(id(1), id(2), t0));
        assert!(pairs.admit(id(3), id(4), t0 + Duration::from_secs(10)));
        assert_eq!(pairs.len(), 2, "no sweep yet");
        // (1, 2) idle for 70 s and (3, 4) for 60 s: both are gone once a
        // new pair comes after the next sweep time.
        assert!(pairs.admit(id(5), id(6), t0 + Duration::from_secs(70)));
        assert_eq!(pairs.len(), 1);
    }
}
