//! This runtime's own registrations: signing, placing them with the
//! responsible cluster, renewing, withdrawing; and placing the grants and
//! capabilities given to it.
//!
//! Placing: a closest query for the sector service at the scope (with the
//! hosting grant as credential) finds the responsible cluster; the
//! registration goes, with its creation chain and grant, to one member
//! (one with a stream up if any; the next one if the stream cannot be
//! opened), which spreads it. When this runtime is itself the only member
//! that could take it, it spreads it itself. A sector registration that
//! finds no cluster at its own scope founds one and asks for a generation.

use super::spread::Outgoing;
use super::{Placed, Purpose};
use crate::ids::{EngineAddr, NodeId, Time};
use crate::scope::table::reg_issued;
use crate::scope::{
    Body, Credential, QueryError, QueryKind, Record, ScopeError, ScopeFound, ScopePath, SECTOR,
};
use crate::transport::Transport;
use crate::wire::frame::Frame;
use crate::wire::scope_push::ScopePush;

impl Transport {
    /// Signs a registration with the node key, issued after `after`.
    pub(super) fn sign_registration(
        &self,
        scope: &ScopePath,
        service: &str,
        engine: Option<EngineAddr>,
        after: Option<Time>,
    ) -> Result<Record, ScopeError> {
        let me = self.node_id();
        let issued = match after {
            Some(t) => self.now.max(t.plus_ms(1)),
            None => self.now,
        };
        let body = Body::Registration {
            scope: scope.clone(),
            service: service.to_owned(),
            runtime: me,
            engine,
            issued,
            expires: issued.plus_ms(self.config.scope_registration_ms),
        };
        Record::sign_with(body, me.0, |m| self.keys.sign_node(m))
            .map_err(|_| ScopeError::InvalidService)
    }

    /// Puts an own registration in this runtime's tables that hold it.
    pub(super) fn take_own(&mut self, key: &(ScopePath, String)) {
        let now = self.now;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let Some(o) = s.own.get(key) else {
            return;
        };
        for m in s.members.values_mut() {
            if m.table.holds(&key.0, &key.1) {
                let _ = m.table.register(&s.authority, &o.reg, &o.grant, now);
            }
        }
    }

    /// Spreads an own registration from this runtime, as a member of the
    /// clusters that hold it.
    fn spread_own(&mut self, key: &(ScopePath, String)) {
        let me = self.node_id();
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let Some(o) = s.own.get(key) else {
            return;
        };
        let (reg, grant) = (o.reg.clone(), o.grant.clone());
        let holders: Vec<ScopePath> = s
            .members
            .iter()
            .filter(|(_, m)| m.table.holds(&key.0, &key.1))
            .map(|(c, _)| c.clone())
            .collect();
        let mut out = Outgoing::default();
        for c in holders {
            self.after_reg(&c, me, true, (&reg, &grant), false, &mut out);
        }
        self.scope_flush(out);
    }

    /// Locates the cluster for an own registration (unless a locate is in
    /// flight).
    pub(super) fn place(&mut self, key: &(ScopePath, String)) {
        let Some(o) = self.scopes.as_mut().and_then(|s| s.own.get_mut(key)) else {
            return;
        };
        if o.locating {
            return;
        }
        o.locating = true;
        let cred = Credential::HostingGrant(o.grant.clone());
        let id = self.next_id();
        let purpose = Purpose::Place(key.0.clone(), key.1.clone());
        self.scope_run_query(id, QueryKind::Closest, key.0.clone(), SECTOR, cred, purpose);
    }

    /// Re-signs an own registration and places it again.
    pub(super) fn renew_own(&mut self, key: &(ScopePath, String)) {
        let Some(o) = self.scopes.as_ref().and_then(|s| s.own.get(key)) else {
            return;
        };
        if o.locating {
            return;
        }
        let (engine, prev) = (o.engine, reg_issued(&o.reg));
        let Ok(reg) = self.sign_registration(&key.0, &key.1, engine, Some(prev)) else {
            return;
        };
        if let Some(o) = self.scopes.as_mut().and_then(|s| s.own.get_mut(key)) {
            o.reg = reg;
        }
        self.take_own(key);
        self.place(key);
    }

    /// The locate of an own registration finished: push it to the cluster.
    pub(super) fn located(
        &mut self,
        scope: &ScopePath,
        service: &str,
        r: Result<ScopeFound, QueryError>,
    ) {
        let me = self.node_id();
        let now = self.now;
        let retry = now.plus_ms(self.config.scope_maintain_ms);
        let renew = self.config.scope_registration_ms / 2;
        let key = (scope.clone(), service.to_owned());
        let up: Vec<NodeId> = match &r {
            Ok(f) => f
                .runtimes
                .iter()
                .map(|f| f.entry.runtime)
                .filter(|n| *n != me)
                .filter(|n| self.is_up(*n))
                .collect(),
            Err(_) => Vec::new(),
        };
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let Some(o) = s.own.get_mut(&key) else {
            return;
        };
        o.locating = false;
        let found = match r {
            Ok(f) => f,
            Err(e) => {
                o.error = Some(ScopeError::Query(e));
                o.next = retry;
                return;
            }
        };
        let Some(mut x) = found.runtimes.first().map(|f| f.scope.clone()) else {
            o.error = Some(ScopeError::NoCluster);
            o.next = retry;
            return;
        };
        // This runtime is a member of a cluster nearer the scope than the
        // one found (the answer came from a cache that predates it): that
        // cluster is responsible, and this runtime spreads it there itself.
        // (Not for sector registrations: a new member's own cluster is
        // nearer from the start, and its registration must reach the
        // cluster found, to link the two.)
        let nearer = s
            .members
            .keys()
            .filter(|c| service != SECTOR && c.is_prefix_of(scope) && c.depth() > x.depth())
            .max_by_key(|c| c.depth())
            .cloned();
        let found = match nearer {
            Some(c) => {
                x = c;
                ScopeFound {
                    runtimes: Vec::new(),
                    ..found
                }
            }
            None => found,
        };
        let mut targets: Vec<NodeId> = found
            .runtimes
            .iter()
            .map(|f| f.entry.runtime)
            .filter(|n| *n != me)
            .collect();
        targets.sort_by_key(|t| !up.contains(t));
        let sector = service == SECTOR;
        // A new cluster, or a member alone in its cluster: it may have no
        // generation yet.
        let founding = sector && (x != *scope || targets.is_empty());
        o.next = reg_issued(&o.reg).plus_ms(renew);
        o.error = None;
        if targets.is_empty() {
            if s.members.contains_key(&x) || (sector && x == *scope) {
                o.placed = Some(Placed {
                    cluster: x,
                    via: me,
                    at: now,
                });
                self.spread_own(&key);
            } else {
                o.error = Some(ScopeError::NoCluster);
                o.next = retry;
                return;
            }
        } else {
            let t = targets.remove(0);
            o.spare = targets;
            let at_scope = x == *scope;
            o.placed = Some(Placed {
                cluster: x,
                via: t,
                at: now,
            });
            let (reg, grant) = (o.reg.clone(), o.grant.clone());
            let group = s.reg_group(&reg, &grant);
            // A new member of an existing cluster asks the member it
            // pushes to for everything it holds.
            let sync = sector
                && at_scope
                && s.members
                    .get_mut(scope)
                    .is_some_and(|m| std::mem::take(&mut m.want_sync));
            if sync {
                self.scope_frame(
                    t,
                    Frame::ScopePush(ScopePush {
                        forwarded: false,
                        generation_request: false,
                        sync_request: true,
                        records: group,
                    }),
                );
            } else {
                self.push_to(t, group);
            }
        }
        if founding {
            self.request_generation(scope);
        }
    }

    /// Pushes one group, fresh, to `to`.
    pub(super) fn push_to(&mut self, to: NodeId, records: Vec<Record>) {
        let mut out = Outgoing::default();
        out.add(to, false, records);
        self.scope_flush(out);
    }

    /// A stream to `peer` could not be opened: own registrations being
    /// pushed to it go to the next member.
    pub(super) fn placement_failed(&mut self, peer: NodeId) {
        let now = self.now;
        let retry = now.plus_ms(self.config.scope_maintain_ms);
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let mut pushes = Vec::new();
        for o in s.own.values_mut() {
            let Some(p) = o.placed.as_mut() else {
                continue;
            };
            if p.via != peer {
                continue;
            }
            if o.spare.is_empty() {
                o.error = Some(ScopeError::Unreachable);
                o.placed = None;
                o.next = retry;
            } else {
                let t = o.spare.remove(0);
                p.via = t;
                p.at = now;
                pushes.push((t, o.reg.clone(), o.grant.clone()));
            }
        }
        for (t, reg, grant) in pushes {
            let Some(s) = self.scopes.as_ref() else {
                return;
            };
            let group = s.reg_group(&reg, &grant);
            self.push_to(t, group);
        }
    }

    /// The stream to `peer` closed: own registrations pushed through it are
    /// placed again now (the member may have left before passing them on).
    pub(super) fn replace_via(&mut self, peer: NodeId) {
        let now = self.now;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        for o in s.own.values_mut() {
            if o.placed.as_ref().is_some_and(|p| p.via == peer) {
                o.next = now;
            }
        }
    }

    /// Withdraws an own registration with `w`: from this runtime's tables
    /// (spreading it as a member), else through the responsible cluster.
    pub(super) fn withdraw_own(&mut self, key: &(ScopePath, String), w: Record) {
        let me = self.node_id();
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let mut holders = Vec::new();
        for (c, m) in &mut s.members {
            if m.table.holds(&key.0, &key.1) && m.table.withdraw(&w).unwrap_or(false) {
                holders.push(c.clone());
            }
        }
        let mut out = Outgoing::default();
        if key.1 == SECTOR {
            self.hand_back(&key.0, &mut out);
        }
        for c in &holders {
            self.after_withdraw(c, me, true, &w, &mut out);
        }
        if key.1 == SECTOR {
            if let Some(s) = self.scopes.as_mut() {
                s.members.remove(&key.0);
            }
        }
        self.scope_flush(out);
        if holders.is_empty() {
            let id = self.next_id();
            self.scope_run_query(
                id,
                QueryKind::Closest,
                key.0.clone(),
                SECTOR,
                Credential::Anonymous,
                Purpose::Withdraw(w),
            );
        }
    }

    /// The last member of the cluster at `scope` hands what it held under
    /// it back to the cluster above before it leaves.
    fn hand_back(&self, scope: &ScopePath, out: &mut Outgoing) {
        let me = self.node_id();
        let now = self.now;
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let Some(m) = s.members.get(scope) else {
            return;
        };
        if m.table.members(now).iter().any(|n| *n != me) {
            return;
        }
        let Some((_, parent)) = m.table.parent(now) else {
            return;
        };
        let up = |n: NodeId| self.is_up(n);
        let Some(t) = super::Scopes::pick_one(&parent, me, me, &up) else {
            return;
        };
        for h in m.table.held() {
            let under = matches!(&h.reg.body, Body::Registration { scope: sc, expires, .. }
                if scope.is_prefix_of(sc) && *expires > now);
            if under && super::reg_runtime(&h.reg) != Some(me) {
                out.add(t, false, s.reg_group(&h.reg, &h.grant));
            }
        }
    }

    /// The locate for a withdrawal finished: push it to a member.
    pub(super) fn located_withdrawal(&mut self, w: Record, r: Result<ScopeFound, QueryError>) {
        let me = self.node_id();
        let Ok(found) = r else {
            return;
        };
        if let Some(t) = found
            .runtimes
            .iter()
            .map(|f| f.entry.runtime)
            .find(|n| *n != me)
        {
            self.push_to(t, vec![w]);
        }
    }

    /// Places a grant or capability given to this runtime: spread it as a
    /// member of the clusters that hold its scope, else push it to the
    /// responsible cluster (located with the record itself as credential
    /// when it names this runtime).
    pub(super) fn place_book(&mut self, rec: Record, scope: &ScopePath) {
        let me = self.node_id();
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let holders: Vec<ScopePath> = s
            .members
            .keys()
            .filter(|c| c.is_prefix_of(scope))
            .cloned()
            .collect();
        if !holders.is_empty() {
            let mut out = Outgoing::default();
            for c in holders {
                self.after_book(&c, me, true, &rec, &mut out);
            }
            self.scope_flush(out);
            return;
        }
        let cred = match &rec.body {
            Body::ReadCap { holder, .. }
                if *holder == me.0 || *holder == crate::scope::record::BEARER =>
            {
                Credential::ReadCap(rec.clone())
            }
            Body::ReadGrant { member, .. } if *member == me => Credential::ReadGrant(rec.clone()),
            Body::HostingGrant { runtime, .. } if *runtime == me => {
                Credential::HostingGrant(rec.clone())
            }
            _ => Credential::Anonymous,
        };
        let id = self.next_id();
        self.scope_run_query(
            id,
            QueryKind::Closest,
            scope.clone(),
            SECTOR,
            cred,
            Purpose::Book(rec),
        );
    }

    /// The locate for a grant or capability finished: push it to a member.
    pub(super) fn located_book(&mut self, rec: Record, r: Result<ScopeFound, QueryError>) {
        let me = self.node_id();
        let Ok(found) = r else {
            return;
        };
        let Some(t) = found
            .runtimes
            .iter()
            .map(|f| f.entry.runtime)
            .find(|n| *n != me)
        else {
            return;
        };
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let mut group = super::spread::book_scope(&rec).map_or_else(Vec::new, |sc| s.chain(&sc));
        group.push(rec);
        self.scope_frame(
            t,
            Frame::ScopePush(ScopePush {
                forwarded: false,
                generation_request: false,
                sync_request: false,
                records: group,
            }),
        );
    }
}
