//! The bound on how many pairs of members a node relays for at once.
//!
//! A pair is the member that handed us a relay frame (the session it came
//! in on, so it cannot be forged) and the frame's destination, unordered:
//! both directions of one conversation are one pair. A pair holds its place
//! while frames cross it and loses it after [`PAIR_IDLE`] without any; a
//! frame of a new pair while [`MAX_RELAYED_PAIRS`] hold theirs is refused
//! and counted, so that one relay cannot be made to carry an unbounded
//! number of conversations, whatever the bandwidth budget leaves.
//!
//! Each pair counts against the member that opened it (the hop of its
//! first frame), and one member may open at most an eighth of the places
//! ([`PER_HOP_SHARE`]), so that one neighbour cannot take them all from
//! the others. Idle pairs are swept out every [`PAIR_IDLE`] / 2, and when
//! all places are taken at most once a second ([`FULL_SWEEP_EVERY`]): a
//! stream of new pairs at a full table costs no pass over it each.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::identity::NodeId;
use crate::node::Node;

/// Pairs of members relayed for at once.
pub(crate) const MAX_RELAYED_PAIRS: usize = 8192;

/// The share of the places one member may open: `limit / PER_HOP_SHARE`.
pub(crate) const PER_HOP_SHARE: usize = 8;

/// How often a full table may be swept for idle pairs.
pub(crate) const FULL_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A pair without a frame for this long loses its place (a relayed session
/// sends at least a keepalive every 25 s).
pub(crate) const PAIR_IDLE: Duration = Duration::from_secs(60);

/// The pairs relayed for lately, and when each last had a frame.
#[derive(Clone, Debug)]
pub(crate) struct RelayPairs {
    pub(crate) limit: usize,
    /// Each pair: its last frame and the member that opened it.
    last: HashMap<(NodeId, NodeId), (Instant, NodeId)>,
    /// Pairs each member opened.
    opened_by: HashMap<NodeId, usize>,
    /// When idle pairs are next swept out (besides when all places are taken).
    sweep_at: Option<Instant>,
    /// When a full table was last swept.
    full_swept: Option<Instant>,
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
            opened_by: HashMap::new(),
            sweep_at: None,
            full_swept: None,
        }
    }

    /// Whether a frame that member `hop` handed us for `dst` may be relayed
    /// at `now`: yes if the pair holds a place, or one is free and `hop`
    /// has not opened its share (it takes it).
    pub(crate) fn admit(&mut self, hop: NodeId, dst: NodeId, now: Instant) -> Result<(), Refusal> {
        let key = if hop <= dst { (hop, dst) } else { (dst, hop) };
        if let Some((t, _)) = self.last.get_mut(&key) {
            *t = now;
            return Ok(());
        }
        let full = self.last.len() >= self.limit;
        let sweep_due = self.sweep_at.is_none_or(|t| now >= t);
        let full_sweep_due = full
            && self
                .full_swept
                .is_none_or(|t| now.saturating_duration_since(t) >= FULL_SWEEP_EVERY);
        if sweep_due || full_sweep_due {
            self.expire(now);
            self.sweep_at = Some(now + PAIR_IDLE / 2);
            if full {
                self.full_swept = Some(now);
            }
        }
        if self.last.len() >= self.limit {
            return Err(Refusal::Full);
        }
        let share = (self.limit / PER_HOP_SHARE).max(1);
        let opened = self.opened_by.entry(hop).or_default();
        if *opened >= share {
            return Err(Refusal::HopShare);
        }
        *opened += 1;
        self.last.insert(key, (now, hop));
        Ok(())
    }

    /// Pairs holding a place (idle ones leave within [`PAIR_IDLE`] / 2 of
    /// falling idle, when a new pair comes).
    pub(crate) fn len(&self) -> usize {
        self.last.len()
    }

    /// The pairs with a frame within `within` of `now`, each in node ID
    /// order.
    pub(crate) fn active(&self, now: Instant, within: Duration) -> Vec<(NodeId, NodeId)> {
        let mut pairs: Vec<(NodeId, NodeId)> = self
            .last
            .iter()
            .filter(|(_, (t, _))| now.saturating_duration_since(*t) < within)
            .map(|(k, _)| *k)
            .collect();
        pairs.sort();
        pairs
    }

    fn expire(&mut self, now: Instant) {
        let opened_by = &mut self.opened_by;
        self.last.retain(|_, (t, hop)| {
            let keep = now.saturating_duration_since(*t) < PAIR_IDLE;
            if !keep {
                if let Some(n) = opened_by.get_mut(hop) {
                    *n -= 1;
                    if *n == 0 {
                        opened_by.remove(hop);
                    }
                }
            }
            keep
        });
    }
}

/// Why a new pair got no place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every place is taken.
    Full,
    /// The member that handed the frame over opened its share already.
    HopShare,
}

impl Node {
    /// Sets how many pairs of members this node relays for at once
    /// (default [`MAX_RELAYED_PAIRS`]); pairs beyond it keep their place
    /// until they fall idle.
    pub fn set_relay_pair_limit(&mut self, limit: usize) {
        self.relay.pairs.limit = limit;
    }

    /// The pairs of members this node relayed a frame for within `within`
    /// of `now` (for the map: what it knows of links between others).
    pub fn relayed_pairs(&self, now: Instant, within: Duration) -> Vec<(NodeId, NodeId)> {
        self.relay.pairs.active(now, within)
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;

    fn id(n: u8) -> NodeId {
        NodeKey::from_seed([n; 32]).id()
    }

    fn admit(pairs: &mut RelayPairs, hop: NodeId, dst: NodeId, now: Instant) -> bool {
        pairs.admit(hop, dst, now).is_ok()
    }

    #[test]
    fn new_pairs_beyond_the_limit_are_refused_until_one_goes_idle() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(2);
        assert!(admit(&mut pairs, id(1), id(2), t0));
        assert!(admit(&mut pairs, id(3), id(4), t0));
        assert!(
            !admit(&mut pairs, id(5), id(6), t0),
            "a third pair is refused"
        );
        // Pairs that hold a place keep going, either way round.
        assert!(admit(
            &mut pairs,
            id(2),
            id(1),
            t0 + Duration::from_secs(30)
        ));
        assert!(admit(
            &mut pairs,
            id(4),
            id(3),
            t0 + Duration::from_secs(30)
        ));
        assert!(!admit(
            &mut pairs,
            id(5),
            id(6),
            t0 + Duration::from_secs(61)
        ));
        assert_eq!(pairs.len(), 2);
        // (3, 4) falls idle; (1, 2) stays busy.
        assert!(admit(
            &mut pairs,
            id(1),
            id(2),
            t0 + Duration::from_secs(80)
        ));
        let later = t0 + Duration::from_secs(95);
        assert!(
            admit(&mut pairs, id(5), id(6), later),
            "the idle pair's place"
        );
        assert!(
            !admit(&mut pairs, id(3), id(4), later),
            "the idle pair lost it"
        );
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn idle_pairs_leave_below_the_limit_too() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(10);
        assert!(admit(&mut pairs, id(1), id(2), t0));
        assert!(admit(
            &mut pairs,
            id(3),
            id(4),
            t0 + Duration::from_secs(10)
        ));
        assert_eq!(pairs.len(), 2, "no sweep yet");
        // (1, 2) idle for 70 s and (3, 4) for 60 s: both are gone once a
        // new pair comes after the next sweep time.
        assert!(admit(
            &mut pairs,
            id(5),
            id(6),
            t0 + Duration::from_secs(70)
        ));
        assert_eq!(pairs.len(), 1);
    }

    #[test]
    fn one_hop_opens_at_most_its_share() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(64);
        let share = 64 / PER_HOP_SHARE;
        let greedy = id(1);
        for d in 0..share as u8 {
            assert!(admit(&mut pairs, greedy, id(100 + d), t0));
        }
        assert_eq!(
            pairs.admit(greedy, id(200), t0),
            Err(Refusal::HopShare),
            "its share is used up"
        );
        // A pair it opened keeps its place, either way round.
        assert!(admit(&mut pairs, id(100), greedy, t0));
        // Other members still open pairs, toward the same members too.
        assert!(admit(&mut pairs, id(2), id(200), t0));
        assert!(admit(&mut pairs, id(3), id(100), t0));
        // Its pairs fall idle: its share is free again.
        let later = t0 + PAIR_IDLE + Duration::from_secs(1);
        assert!(admit(&mut pairs, greedy, id(201), later));
        assert_eq!(pairs.len(), 1);
    }

    /// A full table of busy pairs is swept at most once a second, however
    /// many new pairs come.
    #[test]
    fn a_full_table_is_not_swept_for_every_new_pair() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(16);
        for h in 0..16u8 {
            assert!(admit(&mut pairs, id(h), id(100 + h), t0));
        }
        let sweep = t0 + Duration::from_secs(2);
        assert_eq!(pairs.admit(id(50), id(150), sweep), Err(Refusal::Full));
        assert_eq!(pairs.full_swept, Some(sweep));
        for ms in 1..999 {
            let at = sweep + Duration::from_millis(ms);
            assert_eq!(pairs.admit(id(50), id(150), at), Err(Refusal::Full));
            assert_eq!(pairs.full_swept, Some(sweep), "no sweep at +{ms} ms");
        }
    }

    #[test]
    fn active_pairs_are_those_with_a_recent_frame() {
        let t0 = Instant::now();
        let mut pairs = RelayPairs::with_limit(8);
        assert!(admit(&mut pairs, id(2), id(1), t0));
        assert!(admit(
            &mut pairs,
            id(3),
            id(4),
            t0 + Duration::from_secs(20)
        ));
        let now = t0 + Duration::from_secs(25);
        let within = Duration::from_secs(10);
        let (a, b) = if id(3) <= id(4) {
            (id(3), id(4))
        } else {
            (id(4), id(3))
        };
        assert_eq!(pairs.active(now, within), vec![(a, b)]);
        assert_eq!(pairs.active(now, Duration::from_secs(30)).len(), 2);
    }
}
