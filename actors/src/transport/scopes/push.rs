//! Taking pushes: every record checked against the authority chain, then
//! kept by the cluster tables that hold it and passed on ([`super::spread`]).
//! Refusals are counted by reason; nothing in a push can make this runtime
//! keep more than the table limits allow.

use std::collections::BTreeSet;

use super::spread::Outgoing;
use super::GenBundle;
use crate::ids::NodeId;
use crate::scope::{AuthError, Body, Kind, Record, RegisterError, ScopePath, Taken, SECTOR};
use crate::transport::Transport;
use crate::wire::scope_push::ScopePush;

impl Transport {
    /// A push frame from `peer`.
    pub(in crate::transport) fn on_scope_push(&mut self, peer: NodeId, p: ScopePush) {
        if !self.scope_allow(peer, true) {
            self.stats.scopes.pushes_refused += 1;
            return;
        }
        self.stats.scopes.pushes_in += 1;
        if p.generation_request {
            self.on_generation_request(peer, &p.records);
            return;
        }
        let mut out = Outgoing::default();
        self.scope_take(peer, p.forwarded, p.sync_request, &p.records, &mut out);
        self.scope_flush(out);
    }

    /// Counts a refused record by its reason.
    pub(super) fn count_refusal(&mut self, e: &AuthError) {
        match e {
            AuthError::BadSignature => self.stats.scopes.records_forged += 1,
            _ => self.stats.scopes.records_refused += 1,
        }
    }

    /// Keeps a record until its chain of creations is known (bounded: the
    /// oldest goes first).
    pub(super) fn keep_pending(&mut self, rec: Record, local: bool) {
        let now = self.now;
        let max = self.config.scope_max_pending;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        if s.pending.iter().any(|(r, _, _)| *r == rec) {
            return;
        }
        if s.pending.len() >= max {
            s.pending.remove(0);
        }
        s.pending.push((rec, now, local));
        self.stats.scopes.records_pending += 1;
    }

    /// Tries the pending records again (after a creation was taken), in
    /// rounds until a round takes no new creation; a call made while a
    /// round runs only asks for one more round (no recursion).
    pub(super) fn retry_pending(&mut self) {
        let me = self.node_id();
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        s.retry_again = true;
        if s.retrying {
            return;
        }
        s.retrying = true;
        let mut out = Outgoing::default();
        loop {
            let Some(s) = self.scopes.as_mut() else {
                return;
            };
            if !std::mem::take(&mut s.retry_again) || s.pending.is_empty() {
                s.retrying = false;
                break;
            }
            let pending = std::mem::take(&mut s.pending);
            for (rec, _, local) in pending {
                if local {
                    let _ = self.scope_add_record(rec);
                } else {
                    self.scope_take(me, false, false, std::slice::from_ref(&rec), &mut out);
                }
            }
        }
        self.scope_flush(out);
    }

    /// Takes `records` from `from` (this runtime for its own records),
    /// `forwarded` and `sync` (a sync request) as the push said; adds what
    /// is to be passed on to `out`.
    pub(super) fn scope_take(
        &mut self,
        from: NodeId,
        forwarded: bool,
        sync: bool,
        records: &[Record],
        out: &mut Outgoing,
    ) {
        let now = self.now;
        let me = self.node_id();
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        // Per cluster: fresh unless forwarded by one of its members.
        let clusters: Vec<(ScopePath, bool)> = s
            .members
            .iter()
            .map(|(c, m)| {
                let fresh = from == me || !forwarded || !m.table.members(now).contains(&from);
                (c.clone(), fresh)
            })
            .collect();
        // Generation records and the registrations and grants proving them.
        let mut proofs: BTreeSet<[u8; 32]> = BTreeSet::new();
        let mut gens: Vec<GenBundle> = Vec::new();
        for cert in records.iter().filter(|r| r.body.kind() == Kind::Generation) {
            // A push may hold the signer's current root registration beside
            // the older one the record was signed under (a sync does): the
            // proof is the one that checks, and only it is kept out of the
            // table, so a stale copy never replaces the current one.
            let regs = records.iter().filter(|r| {
                matches!(&r.body, Body::Registration { scope, service, runtime, .. }
                    if scope.is_root() && service == SECTOR && runtime.0 == cert.signer)
            });
            let grant = records.iter().find(|r| {
                matches!(&r.body, Body::HostingGrant { scope, runtime, .. }
                    if scope.is_root() && runtime.0 == cert.signer)
            });
            let Some(grant) = grant else {
                self.stats.scopes.records_refused += 1;
                continue;
            };
            let mut last = Err(AuthError::WrongKind);
            for reg in regs {
                last = self.check_bundle(cert, reg, grant).map(|b| (reg.id(), b));
                if last.is_ok() {
                    break;
                }
            }
            match last {
                Ok((reg, b)) => {
                    proofs.insert(reg);
                    proofs.insert(grant.id());
                    gens.push(b);
                }
                Err(AuthError::WrongKind) => self.stats.scopes.records_refused += 1,
                Err(e) => self.count_refusal(&e),
            }
        }
        // Creations, in order (parents come first in a push).
        let mut floods: Vec<Record> = Vec::new();
        let mut new_scope = false;
        for rec in records
            .iter()
            .filter(|r| r.body.kind() == Kind::ScopeCreate)
        {
            let Some(s) = self.scopes.as_mut() else {
                return;
            };
            match s.authority.add_scope(rec) {
                Ok(true) => {
                    self.stats.scopes.records_taken += 1;
                    new_scope = true;
                    floods.push(rec.clone());
                }
                Ok(false) => floods.push(rec.clone()),
                Err(AuthError::UnknownParent) => self.keep_pending(rec.clone(), false),
                Err(e) => self.count_refusal(&e),
            }
        }
        // Revocations.
        let mut revoked = false;
        for rec in records.iter().filter(|r| r.body.kind() == Kind::Revocation) {
            let Some(s) = self.scopes.as_mut() else {
                return;
            };
            match s.authority.revoke(rec) {
                Ok(new) => {
                    if new {
                        self.stats.scopes.records_taken += 1;
                        revoked = true;
                    }
                    floods.push(rec.clone());
                }
                Err(e) => self.count_refusal(&e),
            }
        }
        if revoked {
            self.apply_revocations();
        }
        for rec in &floods {
            for (c, fresh) in &clusters {
                self.after_flood(c, from, *fresh, rec, out);
            }
        }
        for b in gens {
            self.take_generation(from, b, &clusters, out);
        }
        // Registrations, each with the grant for its scope and runtime.
        for reg in records
            .iter()
            .filter(|r| r.body.kind() == Kind::Registration)
        {
            if proofs.contains(&reg.id()) {
                continue;
            }
            self.take_registration(from, (forwarded, sync), reg, records, &clusters, out);
        }
        // Withdrawals.
        for w in records.iter().filter(|r| r.body.kind() == Kind::Withdrawal) {
            self.take_withdrawal(from, forwarded, w, &clusters, out);
        }
        // Grants and capabilities not backing a registration here.
        let backing: BTreeSet<[u8; 32]> = records
            .iter()
            .filter(|r| r.body.kind() == Kind::Registration)
            .filter_map(|reg| grant_for(reg, records).map(Record::id))
            .chain(proofs.iter().copied())
            .collect();
        for rec in records.iter().filter(|r| {
            matches!(
                r.body.kind(),
                Kind::HostingGrant | Kind::ReadCap | Kind::ReadGrant
            ) && !backing.contains(&r.id())
        }) {
            self.take_book(from, rec, &clusters, out);
        }
        if new_scope {
            self.retry_pending();
        }
    }

    /// Takes a registration into the clusters that hold it; `forwarded` and
    /// `sync` as the push said. One that belongs to a cluster below is
    /// passed down (see [`Self::pass_down`]) instead of spread here.
    fn take_registration(
        &mut self,
        from: NodeId,
        (forwarded, sync): (bool, bool),
        reg: &Record,
        records: &[Record],
        clusters: &[(ScopePath, bool)],
        out: &mut Outgoing,
    ) {
        let now = self.now;
        let me = self.node_id();
        let Body::Registration {
            scope,
            service,
            runtime,
            ..
        } = &reg.body
        else {
            return;
        };
        let Some(grant) = grant_for(reg, records) else {
            self.stats.scopes.records_refused += 1;
            return;
        };
        let mut held = false;
        for (c, fresh) in clusters {
            let Some(s) = self.scopes.as_mut() else {
                return;
            };
            let Some(m) = s.members.get_mut(c) else {
                continue;
            };
            if !m.table.holds(scope, service) {
                continue;
            }
            held = true;
            // A runtime that asks for a sync is treated as joining.
            let asks = sync && *runtime == from;
            match m.table.register(&s.authority, reg, grant, now) {
                Ok(t) if t.changed() && self.pass_down(c, from, forwarded, scope, service) => {
                    self.stats.scopes.records_taken += 1;
                    let group = self.scopes.as_ref().map(|s| s.reg_group(reg, grant));
                    self.to_below(c, from, scope, service, group.unwrap_or_default(), out);
                }
                Ok(t) if t.changed() || asks => {
                    if t.changed() {
                        self.stats.scopes.records_taken += 1;
                    }
                    let joined = t == Taken::Joined || asks;
                    self.after_reg(c, from, *fresh, (reg, grant), joined, out);
                }
                Ok(_) => {}
                Err(RegisterError::Auth(e)) => self.count_refusal(&e),
                Err(_) => self.stats.scopes.records_refused += 1,
            }
        }
        if !held && *runtime != me {
            self.stats.scopes.records_refused += 1;
        }
    }

    /// Takes a withdrawal into the clusters that hold its registration;
    /// one for a cluster below is passed down like a registration.
    fn take_withdrawal(
        &mut self,
        from: NodeId,
        forwarded: bool,
        w: &Record,
        clusters: &[(ScopePath, bool)],
        out: &mut Outgoing,
    ) {
        let Body::Withdrawal { scope, service, .. } = &w.body else {
            return;
        };
        for (c, fresh) in clusters {
            let Some(m) = self.scopes.as_mut().and_then(|s| s.members.get_mut(c)) else {
                continue;
            };
            if !m.table.holds(scope, service) {
                continue;
            }
            let taken = match m.table.withdraw(w) {
                Ok(t) => t,
                Err(_) => {
                    self.stats.scopes.records_forged += 1;
                    continue;
                }
            };
            if taken {
                self.stats.scopes.records_taken += 1;
            }
            // Passed down even when not held here: the registration may
            // have gone straight to the cluster below.
            if (taken || !forwarded) && self.pass_down(c, from, forwarded, scope, service) {
                self.to_below(c, from, scope, service, vec![w.clone()], out);
            } else if taken {
                self.after_withdraw(c, from, *fresh, w, out);
            }
        }
    }

    /// Whether a change of `(scope, service)` that cluster `c` took from
    /// `from` belongs to a cluster below `c` and is for this member to pass
    /// down: it came straight from outside `c` (not forwarded: placed here
    /// with a stale locate, or while `c` handed that scope over), or a
    /// member of `c` forwarded it before it knew the cluster below. A sync
    /// or hand-over from another cluster is not passed down.
    fn pass_down(
        &self,
        c: &ScopePath,
        from: NodeId,
        forwarded: bool,
        scope: &ScopePath,
        service: &str,
    ) -> bool {
        let now = self.now;
        let Some(m) = self.scopes.as_ref().and_then(|s| s.members.get(c)) else {
            return false;
        };
        let direct = !forwarded || m.table.members(now).contains(&from);
        direct && below(&m.table.children(now), scope, service).is_some()
    }

    /// Adds `group` for one member of the cluster below `c` that holds
    /// `(scope, service)`; it spreads it there as a fresh push.
    fn to_below(
        &self,
        c: &ScopePath,
        from: NodeId,
        scope: &ScopePath,
        service: &str,
        group: Vec<Record>,
        out: &mut Outgoing,
    ) {
        let now = self.now;
        let me = self.node_id();
        let Some(m) = self.scopes.as_ref().and_then(|s| s.members.get(c)) else {
            return;
        };
        let children = m.table.children(now);
        let Some(members) = below(&children, scope, service) else {
            return;
        };
        let up = |n: NodeId| self.is_up(n);
        if let Some(t) = super::Scopes::pick_one(members, me, from, &up) {
            tracing::debug!(%scope, service, to = ?t, "scopes: passed down");
            out.add(t, false, group);
        }
    }

    /// Keeps a grant or capability for the clusters it concerns.
    fn take_book(
        &mut self,
        from: NodeId,
        rec: &Record,
        clusters: &[(ScopePath, bool)],
        out: &mut Outgoing,
    ) {
        let now = self.now;
        let max = self.config.scope_max_book;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let checked = match rec.body.kind() {
            Kind::HostingGrant => s.authority.check_grant(rec, now).map(|(sc, _)| sc),
            _ => s.authority.check_read(rec, now),
        };
        let scope = match checked {
            Ok(sc) => sc,
            Err(AuthError::UnknownScope) => {
                self.keep_pending(rec.clone(), false);
                return;
            }
            Err(e) => {
                self.count_refusal(&e);
                return;
            }
        };
        let ours: Vec<(ScopePath, bool)> = clusters
            .iter()
            .filter(|(c, _)| c.is_prefix_of(&scope))
            .cloned()
            .collect();
        if ours.is_empty() {
            self.stats.scopes.records_refused += 1;
            return;
        }
        let id = rec.id();
        if s.book.contains_key(&id) {
            return;
        }
        if s.book.len() >= max {
            self.stats.scopes.limited += 1;
            return;
        }
        s.book.insert(id, rec.clone());
        self.stats.scopes.records_taken += 1;
        for (c, fresh) in ours {
            self.after_book(&c, from, fresh, rec, out);
        }
    }

    /// After new revocations: drop registrations whose grants they void,
    /// and voided grants and capabilities.
    pub(super) fn apply_revocations(&mut self) {
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let auth = &s.authority;
        for m in s.members.values_mut() {
            m.table.drop_revoked(auth);
        }
        s.book.retain(|_, r| !auth.is_revoked(r));
        s.own.retain(|_, o| !auth.is_revoked(&o.grant));
    }
}

/// The members of the cluster among `children` that holds `(scope,
/// service)`: the one at or above `scope`, except for its own sector
/// registrations (the cluster above holds those, to redirect down).
fn below<'a>(
    children: &'a [(ScopePath, Vec<NodeId>)],
    scope: &ScopePath,
    service: &str,
) -> Option<&'a [NodeId]> {
    children
        .iter()
        .find(|(d, _)| d.is_prefix_of(scope) && !(d == scope && service == SECTOR))
        .map(|(_, v)| v.as_slice())
}

/// The hosting grant in `records` for `reg`'s scope and runtime.
fn grant_for<'a>(reg: &Record, records: &'a [Record]) -> Option<&'a Record> {
    let Body::Registration { scope, runtime, .. } = &reg.body else {
        return None;
    };
    records.iter().find(|g| {
        matches!(&g.body, Body::HostingGrant { scope: s, runtime: r, .. } if s == scope && r == runtime)
    })
}
