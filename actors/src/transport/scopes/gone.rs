//! Departures: a runtime whose registrations a member holds, and whose
//! stream to that member closed and could not be opened again, is gone.
//! The member drops its registrations and tells the members it shares a
//! cluster with (marked forwarded) and, when the runtime was a member of
//! its cluster, one member of the cluster above and of each cluster below,
//! which tell theirs. A gone notice is taken only from a member of a
//! cluster the receiver knows, and drops only registrations issued before
//! it; a runtime told that it is gone places its registrations again.

use crate::ids::{NodeId, Time};
use crate::scope::SECTOR;
use crate::transport::Transport;
use crate::wire::frame::Frame;
use crate::wire::scope_gone::ScopeGone;

impl Transport {
    /// `peer` could not be reached again: it is gone.
    pub(super) fn found_gone(&mut self, peer: NodeId) {
        let at = self.now;
        self.stats.scopes.gone_detected += 1;
        tracing::debug!(?peer, "scopes: runtime gone");
        let me = self.node_id();
        self.drop_gone(me, false, peer, at);
    }

    /// Drops `runtime`'s registrations issued before `at` and passes the
    /// news on (see the module doc).
    fn drop_gone(&mut self, from: NodeId, forwarded: bool, runtime: NodeId, at: Time) {
        let me = self.node_id();
        let now = self.now;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let mut sends: Vec<(NodeId, bool)> = Vec::new();
        let mut neighbours: Vec<Vec<NodeId>> = Vec::new();
        for (c, m) in &mut s.members {
            let fresh = from == me || !forwarded || !m.table.members(now).contains(&from);
            let dropped = m.table.drop_runtime(runtime, at);
            if dropped.is_empty() || !fresh {
                continue;
            }
            for t in m.table.members(now) {
                if t != me && t != from && t != runtime {
                    sends.push((t, true));
                }
            }
            let was_member = dropped.iter().any(|(sc, sv)| sc == c && sv == SECTOR);
            if was_member {
                neighbours.extend(m.table.parent(now).map(|(_, v)| v));
                neighbours.extend(m.table.children(now).into_iter().map(|(_, v)| v));
            }
        }
        for members in neighbours {
            if members.contains(&from) {
                continue;
            }
            let up = |n: NodeId| self.is_up(n);
            if let Some(t) = super::Scopes::pick_one(&members, me, runtime, &up) {
                sends.push((t, false));
            }
        }
        sends.sort();
        sends.dedup();
        for (t, forwarded) in sends {
            self.scope_frame(
                t,
                Frame::ScopeGone(ScopeGone {
                    forwarded,
                    runtime,
                    at,
                }),
            );
        }
    }

    /// A gone frame from `peer`.
    pub(in crate::transport) fn on_scope_gone(&mut self, peer: NodeId, g: ScopeGone) {
        let now = self.now;
        let me = self.node_id();
        let known = self
            .scopes
            .as_ref()
            .is_some_and(|s| s.knows_member(peer, now));
        if !known {
            self.stats.scopes.gone_refused += 1;
            return;
        }
        self.stats.scopes.gone_taken += 1;
        if g.runtime == me {
            // Someone lost us: place our registrations again now.
            if let Some(s) = self.scopes.as_mut() {
                for o in s.own.values_mut() {
                    o.next = now;
                }
                for m in s.members.values_mut() {
                    m.want_sync = true;
                }
            }
            return;
        }
        self.drop_gone(peer, g.forwarded, g.runtime, g.at);
    }
}
