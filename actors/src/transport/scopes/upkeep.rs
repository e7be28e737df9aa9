//! Deadlines and upkeep: hop and probe timeouts, renewals, and the
//! periodic round that expires tables, keeps every cluster connected (a
//! stream to each other member and to one member of the cluster above) and
//! asks for missing generations.

use crate::ids::{NodeId, Time};
use crate::scope::ScopePath;
use crate::transport::Transport;

impl Transport {
    /// The earliest scope deadline.
    pub(in crate::transport) fn scope_deadline(&self) -> Option<Time> {
        let s = self.scopes.as_ref()?;
        let hops = s
            .queries
            .values()
            .filter_map(|q| q.hop.map(|h| h.deadline))
            .min();
        let probes = s.probes.values().map(|p| p.deadline).min();
        let own = s.own.values().filter(|o| !o.locating).map(|o| o.next).min();
        let busy = !s.members.is_empty() || !s.pending.is_empty() || !s.book.is_empty();
        let upkeep = busy.then_some(s.upkeep_at);
        [hops, probes, own, upkeep].into_iter().flatten().min()
    }

    /// Fires every scope deadline at or before `now`.
    pub(in crate::transport) fn scope_timeout(&mut self, now: Time) {
        if self.scopes.is_none() {
            return;
        }
        self.scope_hop_timeouts(now);
        self.probes_failed(None, now);
        let due: Vec<(ScopePath, String)> = self
            .scopes
            .as_ref()
            .map(|s| {
                s.own
                    .iter()
                    .filter(|(_, o)| !o.locating && o.next <= now)
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        for key in due {
            self.renew_own(&key);
        }
        if self.scopes.as_ref().is_some_and(|s| s.upkeep_at <= now) {
            self.upkeep(now);
        }
    }

    /// Hops and probes waiting on `peer` fail.
    pub(super) fn scope_peer_failed(&mut self, peer: NodeId) {
        let now = self.now;
        self.scope_hops_failed(peer);
        self.probes_failed(Some(peer), now);
    }

    fn upkeep(&mut self, now: Time) {
        let me = self.node_id();
        let period = self.config.scope_maintain_ms;
        let lifetime = self.config.scope_registration_ms;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        s.upkeep_at = now.plus_ms(period);
        for m in s.members.values_mut() {
            m.table.expire(now);
        }
        s.querier.cache.expire(now);
        s.book.retain(|_, r| match &r.body {
            crate::scope::Body::HostingGrant { expires, .. }
            | crate::scope::Body::ReadCap { expires, .. }
            | crate::scope::Body::ReadGrant { expires, .. } => *expires > now,
            _ => false,
        });
        s.pending.retain(|(_, at, _)| at.plus_ms(lifetime) > now);
        let mut dial: Vec<NodeId> = Vec::new();
        let mut ask: Vec<ScopePath> = Vec::new();
        for (c, m) in &s.members {
            for n in m.table.members(now) {
                if n != me {
                    dial.push(n);
                }
            }
            if let Some((_, parent)) = m.table.parent(now) {
                let connected = parent
                    .iter()
                    .any(|n| self.peers.get(n).is_some_and(|p| p.active.is_some()));
                if !connected {
                    dial.extend(parent.iter().copied().find(|n| *n != me));
                }
            }
            let waited = m.since.plus_ms(period) <= now;
            let not_asked = m.gen_asked.is_none_or(|t| t.plus_ms(period) <= now);
            if m.generation.is_none() && waited && not_asked {
                ask.push(c.clone());
            }
        }
        dial.sort();
        dial.dedup();
        for n in dial {
            self.reconnect(n);
        }
        for c in ask {
            self.request_generation(&c);
        }
    }
}
