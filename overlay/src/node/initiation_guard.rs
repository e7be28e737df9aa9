//! The initiation guard: the node's defences against handshake initiations
//! it should not compute, in one place. A replay is dropped before any
//! Diffie-Hellman ([`super::seen_initiations`]); under load each source
//! gets its share ([`super::initiation_limit`]) and must prove with a
//! cookie that it receives at its address ([`super::cookies`]); and an
//! initiation no newer than the last one accepted from its member (kept
//! across restarts, [`super::initiation_times`]) is refused, with a warning
//! now and then when the member's clock seems set back.

use std::time::{Duration, Instant};

use super::cookies::Cookies;
use super::initiation_limit::InitiationLimit;
use super::seen_initiations::SeenInitiations;
use crate::identity::NodeId;
use crate::limits::MAX_PEERS;

/// At most one warning about a clock behind in this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The state of the node's defences against initiations.
#[derive(Clone, Debug, Default)]
pub(super) struct InitiationGuard {
    /// Initiations seen lately (replays are dropped before any DH).
    pub(super) seen: SeenInitiations,
    /// Per-source limits on initiations under load.
    pub(super) limit: InitiationLimit,
    /// Cookie secrets and counters (initiations under load).
    pub(super) cookies: Cookies,
    /// Last initiation timestamps restored for members not in the table.
    restored_ts: ahash::HashMap<NodeId, u64>,
    /// When a clock behind was last warned about.
    last_clock_warning: Option<Instant>,
}

impl InitiationGuard {
    /// Keeps `ts` as the last initiation timestamp of `id`, a member not in
    /// the table (the larger if one is kept), while fewer than
    /// [`MAX_PEERS`] are kept.
    pub(super) fn restore_ts(&mut self, id: NodeId, ts: u64) {
        if self.restored_ts.len() < MAX_PEERS {
            let e = self.restored_ts.entry(id).or_default();
            *e = (*e).max(ts);
        }
    }

    /// The timestamp kept for `id`.
    pub(super) fn restored_ts(&self, id: &NodeId) -> Option<u64> {
        self.restored_ts.get(id).copied()
    }

    /// Takes the timestamp kept for `id` (its member joins the table).
    pub(super) fn take_restored_ts(&mut self, id: &NodeId) -> Option<u64> {
        self.restored_ts.remove(id)
    }

    /// Gives back a timestamp taken by [`InitiationGuard::take_restored_ts`]
    /// (its member did not join the table after all).
    pub(super) fn put_back_restored_ts(&mut self, id: NodeId, ts: u64) {
        self.restored_ts.insert(id, ts);
    }

    /// Every timestamp kept.
    pub(super) fn restored_timestamps(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.restored_ts.iter().map(|(id, ts)| (*id, *ts))
    }

    /// Whether a warning about a clock behind may be logged at `now` (none
    /// was within [`WARN_EVERY`]); if so, it counts as logged.
    pub(super) fn clock_warning_due(&mut self, now: Instant) -> bool {
        if self
            .last_clock_warning
            .is_some_and(|t| now.saturating_duration_since(t) < WARN_EVERY)
        {
            return false;
        }
        self.last_clock_warning = Some(now);
        true
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;

    #[test]
    fn restored_timestamps_keep_the_largest() {
        let mut g = InitiationGuard::default();
        let id = NodeKey::from_seed([3; 32]).id();
        g.restore_ts(id, 10);
        g.restore_ts(id, 5);
        assert_eq!(g.restored_ts(&id), Some(10));
        assert_eq!(g.take_restored_ts(&id), Some(10));
        assert_eq!(g.restored_ts(&id), None);
        g.put_back_restored_ts(id, 10);
        assert_eq!(g.restored_timestamps().collect::<Vec<_>>(), vec![(id, 10)]);
    }

    #[test]
    fn clock_warnings_are_rate_limited() {
        let mut g = InitiationGuard::default();
        let now = Instant::now();
        assert!(g.clock_warning_due(now));
        assert!(!g.clock_warning_due(now + WARN_EVERY / 2));
        assert!(g.clock_warning_due(now + WARN_EVERY));
    }
}
