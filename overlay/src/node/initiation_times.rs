//! The last initiation timestamp accepted from each member, across
//! restarts: the driver keeps them in the state dir, so that an initiation
//! captured before a restart cannot be replayed after it.
//!
//! A member the node restarted with is not in its table yet when its first
//! initiation arrives, so the timestamps restored for members not known are
//! kept apart until then ([`Node::restore_initiation_timestamps`], in the
//! [`super::initiation_guard`]); so are those of members the node forgets,
//! at most [`MAX_PEERS`](crate::limits::MAX_PEERS) in all.

use std::time::Instant;

use super::Node;
use crate::identity::NodeId;

/// How far behind the last accepted timestamp an initiation must be for its
/// sender's clock to be called behind (rather than the initiation replayed).
const CLOCK_BEHIND_MS: u64 = 30_000;

impl Node {
    /// Restores the last initiation timestamps accepted from members (as
    /// [`Node::initiation_timestamps`] gave them before a restart).
    pub fn restore_initiation_timestamps(&mut self, list: impl IntoIterator<Item = (NodeId, u64)>) {
        for (id, ts) in list {
            match self.peers.get_mut(&id) {
                Some(p) => {
                    let h = p.history_mut();
                    h.last_initiation_ts = h.last_initiation_ts.max(ts);
                }
                None => self.initiation_guard.restore_ts(id, ts),
            }
        }
    }

    /// The last initiation timestamp accepted from each member, to keep
    /// across a restart.
    pub fn initiation_timestamps(&self) -> Vec<(NodeId, u64)> {
        let mut list: Vec<(NodeId, u64)> = self
            .peers
            .values()
            .filter_map(|p| Some((p.id, p.history.as_ref()?.last_initiation_ts)))
            .filter(|(_, ts)| *ts > 0)
            .chain(self.initiation_guard.restored_timestamps())
            .collect();
        list.sort_unstable();
        list.dedup_by(|b, a| {
            let same = a.0 == b.0;
            if same {
                a.1 = a.1.max(b.1);
            }
            same
        });
        list
    }

    /// The last initiation timestamp accepted from `peer`, if any.
    pub(super) fn last_initiation_ts(&self, peer: &NodeId) -> Option<u64> {
        let restored = self.initiation_guard.restored_ts(peer);
        let seen = self
            .peers
            .get(peer)
            .and_then(|p| p.history.as_ref())
            .map(|h| h.last_initiation_ts);
        restored.max(seen)
    }

    /// Says, now and then, that `peer`'s initiation was refused because
    /// its clock runs behind the timestamp it used before.
    pub(super) fn warn_if_clock_behind(&mut self, now: Instant, peer: NodeId, ts: u64, last: u64) {
        if last.saturating_sub(ts) < CLOCK_BEHIND_MS {
            return;
        }
        if !self.initiation_guard.clock_warning_due(now) {
            return;
        }
        tracing::warn!(
            peer = %peer,
            behind_s = (last - ts) / 1000,
            "refusing a handshake: the member's clock is behind the time of its last \
             handshake with us (its clock was set back, or it was restored from an old \
             state); fix its clock, and it connects again"
        );
    }
}
