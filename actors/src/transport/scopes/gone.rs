//! Departures: a runtime whose registrations a member holds, and whose
//! stream to that member closed and could not be opened again, is gone.
//! The member drops its registrations and tells the members it shares a
//! cluster with (marked forwarded), one member of each cluster directly
//! below under whose scope it dropped one (a cluster that took them by
//! hand-over or had them passed down has no stream to the runtime) and,
//! when the runtime was a member of its cluster, one member of the cluster
//! above and of each cluster below; each tells theirs by the same rule, so
//! the notice only travels down from where it entered a cluster, and a
//! cluster that drops nothing passes nothing on.
//!
//! A gone notice is taken only from a member of a cluster the receiver
//! knows, and drops only registrations issued before it. A member that
//! still has a stream up to the runtime does not take it on another's
//! word: it keeps the registrations and tells the runtime, which places
//! them again (issued later, so every cluster that dropped them takes them
//! back). A runtime told that it is gone by a member it knows or one it
//! placed a registration through places its registrations again.

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
            let children = m.table.children(now);
            let dropped = m.table.drop_runtime(runtime, at);
            if dropped.is_empty() || !fresh {
                continue;
            }
            // The clusters below that hold what was dropped here.
            for (d, v) in children {
                if dropped.iter().any(|(sc, _)| d.is_prefix_of(sc)) {
                    neighbours.push(v);
                }
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
        let known = self.scopes.as_ref().is_some_and(|s| {
            s.knows_member(peer, now)
                || (g.runtime == me
                    && s.own
                        .values()
                        .any(|o| o.placed.as_ref().is_some_and(|p| p.via == peer)))
        });
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
        if self.is_up(g.runtime) {
            // We still see it: keep what it holds here and tell it, so that
            // it places its registrations again where they were dropped.
            self.scope_frame(g.runtime, Frame::ScopeGone(g));
            return;
        }
        self.drop_gone(peer, g.forwarded, g.runtime, g.at);
    }
}
