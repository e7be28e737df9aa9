//! Who gets what a cluster member takes: the forwarding rules, the sync of
//! a member that joins, the handover to a new cluster below, and the
//! batching of records into pushes.
//!
//! A member of the cluster of `C` that took something *fresh* (not
//! forwarded to it by another member of `C`) passes it on:
//!
//! - to the other members of `C`, marked forwarded (they stop there);
//! - a sector registration or withdrawal of `C` itself: also to one member
//!   of the cluster above and one of each cluster directly below (they
//!   hold the sector registrations of their neighbours); a member that
//!   joins gets a sync of everything the member holds, also from members
//!   that hear of it second-hand (they may hold what was taken before
//!   anyone knew of it);
//! - a sector registration of a cluster below `C` that joins: a handover of
//!   the registrations under its scope to the new member, and the news to
//!   the clusters below that scope (their parent is now the new cluster);
//! - a creation or revocation new to `C`: to one member of the cluster
//!   above and of the clusters below that it concerns (a creation concerns
//!   the clusters on its path and under it, a revocation all of them).
//!   Creations and revocations so flood the tree of clusters, each cluster
//!   taking each once.
//!
//! A registration or withdrawal for a scope under a cluster below `C`
//! (placed with a stale locate, or arriving while `C` hands that scope
//! over) is passed down to one member of that cluster instead
//! (`push::pass_down`).

use std::collections::{BTreeMap, BTreeSet};

use super::Scopes;
use crate::ids::{NodeId, Time};
use crate::scope::{Body, Kind, Record, ScopePath, SECTOR};
use crate::transport::Transport;
use crate::wire::frame::Frame;
use crate::wire::scope_push::{ScopePush, MAX_LEN, MAX_RECORDS};

/// Records to push, by destination and flag, grouped so that what must
/// travel together (a grant and its registration) does.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    dests: BTreeMap<(NodeId, bool), Bundle>,
}

#[derive(Debug, Default)]
struct Bundle {
    groups: Vec<Vec<Record>>,
    ids: BTreeSet<[u8; 32]>,
}

impl Outgoing {
    /// Adds a group for `to`. Creations and revocations already in that
    /// push are left out; a group whose other records are all there
    /// already is left out whole.
    pub(super) fn add(&mut self, to: NodeId, forwarded: bool, group: Vec<Record>) {
        let b = self.dests.entry((to, forwarded)).or_default();
        let keys: Vec<[u8; 32]> = group
            .iter()
            .filter(|r| !matches!(r.body.kind(), Kind::HostingGrant))
            .map(Record::id)
            .collect();
        if !keys.is_empty() && keys.iter().all(|k| b.ids.contains(k)) {
            return;
        }
        let mut g = Vec::with_capacity(group.len());
        for r in group {
            let id = r.id();
            let flood = matches!(r.body.kind(), Kind::ScopeCreate | Kind::Revocation);
            if b.ids.insert(id) || !flood {
                g.push(r);
            }
        }
        if !g.is_empty() {
            b.groups.push(g);
        }
    }
}

/// Packs groups into pushes of at most [`MAX_RECORDS`] records and
/// [`MAX_LEN`] bytes, never splitting a group.
fn pack(groups: Vec<Vec<Record>>) -> Vec<Vec<Record>> {
    let mut out: Vec<Vec<Record>> = Vec::new();
    let mut cur: Vec<Record> = Vec::new();
    let mut bytes = 2;
    for g in groups {
        let glen: usize = g
            .iter()
            .map(|r| 2 + r.to_bytes().map_or(0, |b| b.len()))
            .sum();
        if !cur.is_empty() && (cur.len() + g.len() > MAX_RECORDS || bytes + glen > MAX_LEN) {
            out.push(std::mem::take(&mut cur));
            bytes = 2;
        }
        if g.len() > MAX_RECORDS {
            continue;
        }
        bytes += glen;
        cur.extend(g);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Scopes {
    /// One member of `members` to send to: one with a stream up if any,
    /// never `me` or `not`.
    pub(super) fn pick_one(
        members: &[NodeId],
        me: NodeId,
        not: NodeId,
        up: &dyn Fn(NodeId) -> bool,
    ) -> Option<NodeId> {
        let mut cands = members.iter().copied().filter(|m| *m != me && *m != not);
        let first = cands.clone().next();
        cands.find(|m| up(*m)).or(first)
    }

    /// The creation chain of `scope` (empty when unknown).
    pub(super) fn chain(&self, scope: &ScopePath) -> Vec<Record> {
        self.authority.chain(scope).unwrap_or_default()
    }

    /// A registration with its chain and grant, as pushed.
    pub(super) fn reg_group(&self, reg: &Record, grant: &Record) -> Vec<Record> {
        let mut g = match &reg.body {
            Body::Registration { scope, .. } => self.chain(scope),
            _ => Vec::new(),
        };
        g.push(grant.clone());
        g.push(reg.clone());
        g
    }

    /// What a flood record is pushed with (a creation with its chain).
    pub(super) fn flood_group(&self, rec: &Record) -> Vec<Record> {
        match &rec.body {
            Body::ScopeCreate { path, .. } => {
                let mut g = path.parent().map_or_else(Vec::new, |p| self.chain(&p));
                g.push(rec.clone());
                g
            }
            _ => vec![rec.clone()],
        }
    }

    /// Everything a member of `cluster` holds, for a member that joins:
    /// creations on the way and below, revocations, registrations with
    /// their grants, kept grants and capabilities, the generation.
    pub(super) fn sync_groups(&self, cluster: &ScopePath, now: Time) -> Vec<Vec<Record>> {
        let Some(m) = self.members.get(cluster) else {
            return Vec::new();
        };
        let mut out = self.authority_groups(cluster);
        for h in m.table.held() {
            if crate::scope::table::reg_expires(&h.reg) > now {
                out.push(vec![h.grant.clone(), h.reg.clone()]);
            }
        }
        out.extend(self.book_under(cluster));
        if let Some(g) = &m.generation {
            out.push(g.records());
        }
        out
    }

    /// What a member of `cluster` hands a new member of the cluster below
    /// at `scope`: creations, revocations, the registrations under `scope`
    /// and the sector registrations of `cluster` (its new parent).
    pub(super) fn handover_groups(
        &self,
        cluster: &ScopePath,
        scope: &ScopePath,
        now: Time,
    ) -> Vec<Vec<Record>> {
        let Some(m) = self.members.get(cluster) else {
            return Vec::new();
        };
        let mut out = self.authority_groups(scope);
        for h in m.table.held() {
            let Body::Registration {
                scope: s,
                service,
                expires,
                ..
            } = &h.reg.body
            else {
                continue;
            };
            let ours = s == cluster && service == SECTOR;
            if *expires > now && (scope.is_prefix_of(s) || ours) {
                out.push(vec![h.grant.clone(), h.reg.clone()]);
            }
        }
        out.extend(self.book_under(scope));
        out
    }

    fn authority_groups(&self, scope: &ScopePath) -> Vec<Vec<Record>> {
        let mut out: Vec<Vec<Record>> = self.chain(scope).into_iter().map(|r| vec![r]).collect();
        out.extend(
            self.authority
                .creations_under(scope)
                .filter(|r| !matches!(&r.body, Body::ScopeCreate { path, .. } if path == scope))
                .map(|r| vec![r.clone()]),
        );
        out.extend(self.authority.revocations().map(|r| vec![r.clone()]));
        out
    }

    fn book_under(&self, scope: &ScopePath) -> Vec<Vec<Record>> {
        self.book
            .values()
            .filter(|r| book_scope(r).is_some_and(|s| scope.is_prefix_of(&s)))
            .map(|r| vec![r.clone()])
            .collect()
    }
}

/// The scope of a kept grant or capability.
pub(super) fn book_scope(r: &Record) -> Option<ScopePath> {
    match &r.body {
        Body::HostingGrant { scope, .. }
        | Body::ReadCap { scope, .. }
        | Body::ReadGrant { scope, .. } => Some(scope.clone()),
        _ => None,
    }
}

/// Which neighbouring clusters a change of `(scope, service)` taken in the
/// cluster of `c` goes to (besides the other members of `c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// A sector change of `c` itself: the cluster above and those below.
    UpAndDown,
    /// A sector change of a cluster below: the clusters under its scope.
    Below,
    /// Nothing beyond `c`.
    Inside,
}

fn reach(c: &ScopePath, scope: &ScopePath, service: &str) -> Reach {
    if service != SECTOR {
        Reach::Inside
    } else if scope == c {
        Reach::UpAndDown
    } else if c.is_prefix_of(scope) {
        Reach::Below
    } else {
        Reach::Inside
    }
}

impl Transport {
    /// Whether a stream to `peer` is up.
    pub(super) fn is_up(&self, peer: NodeId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.active.is_some())
    }

    /// Pushes everything in `out`.
    pub(super) fn scope_flush(&mut self, out: Outgoing) {
        for ((to, forwarded), b) in out.dests {
            for records in pack(b.groups) {
                self.scope_frame(
                    to,
                    Frame::ScopePush(ScopePush {
                        forwarded,
                        generation_request: false,
                        sync_request: false,
                        records,
                    }),
                );
            }
        }
    }

    /// Adds `group` for one member of each of `clusters`, skipping the
    /// cluster `from` is in.
    fn to_clusters(
        &self,
        clusters: &[(ScopePath, Vec<NodeId>)],
        from: NodeId,
        group: &[Record],
        out: &mut Outgoing,
    ) {
        let me = self.node_id();
        let up = |n: NodeId| self.is_up(n);
        for (_, members) in clusters {
            if members.contains(&from) {
                continue;
            }
            if let Some(t) = Scopes::pick_one(members, me, from, &up) {
                out.add(t, false, group.to_vec());
            }
        }
    }

    /// Adds `group` for every other member of cluster `c`, forwarded.
    pub(super) fn to_members(
        &self,
        c: &ScopePath,
        from: NodeId,
        group: &[Record],
        out: &mut Outgoing,
    ) {
        let me = self.node_id();
        let now = self.now;
        let Some(m) = self.scopes.as_ref().and_then(|s| s.members.get(c)) else {
            return;
        };
        for t in m.table.members(now) {
            if t != me && t != from {
                out.add(t, true, group.to_vec());
            }
        }
    }

    /// The clusters a change at `scope` reaches from `c` (see [`Reach`]).
    fn neighbours(
        &self,
        c: &ScopePath,
        scope: &ScopePath,
        service: &str,
    ) -> Vec<(ScopePath, Vec<NodeId>)> {
        let now = self.now;
        let Some(m) = self.scopes.as_ref().and_then(|s| s.members.get(c)) else {
            return Vec::new();
        };
        match reach(c, scope, service) {
            Reach::Inside => Vec::new(),
            Reach::UpAndDown => m
                .table
                .parent(now)
                .into_iter()
                .chain(m.table.children(now))
                .collect(),
            Reach::Below => {
                // The clusters below `scope` that `c` knows (still its
                // children until they learn of the new cluster).
                let mut out: Vec<(ScopePath, Vec<NodeId>)> = Vec::new();
                for h in m.table.held() {
                    if let Body::Registration {
                        scope: s,
                        service: sv,
                        runtime,
                        expires,
                        ..
                    } = &h.reg.body
                    {
                        if sv == SECTOR && *expires > now && s != scope && scope.is_prefix_of(s) {
                            match out.iter_mut().find(|(x, _)| x == s) {
                                Some((_, v)) => v.push(*runtime),
                                None => out.push((s.clone(), vec![*runtime])),
                            }
                        }
                    }
                }
                out
            }
        }
    }

    /// Passes on a registration (with its grant) taken in cluster `c` from
    /// `from` (`fresh`: not forwarded by another member of `c`); `joined`:
    /// the runtime had none there before (or asked for a sync).
    pub(super) fn after_reg(
        &mut self,
        c: &ScopePath,
        from: NodeId,
        fresh: bool,
        (reg, grant): (&Record, &Record),
        joined: bool,
        out: &mut Outgoing,
    ) {
        let me = self.node_id();
        let now = self.now;
        let Body::Registration {
            scope,
            service,
            runtime,
            ..
        } = &reg.body
        else {
            return;
        };
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let group = s.reg_group(reg, grant);
        let r = reach(c, scope, service);
        // A member that joins gets everything this member holds, whether
        // it came to us directly or from another member: what we took
        // before we knew of it (our own registrations, pushes from outside)
        // went to the members we knew then, not to it.
        if joined && *runtime != me && r == Reach::UpAndDown {
            for g in s.sync_groups(c, now) {
                out.add(*runtime, true, g);
            }
        }
        if joined && *runtime != me && r == Reach::Below && fresh {
            for g in s.handover_groups(c, scope, now) {
                out.add(*runtime, true, g);
            }
        }
        if !fresh {
            return;
        }
        self.to_members(c, from, &group, out);
        let n = match r {
            Reach::Below if !joined => Vec::new(),
            _ => self.neighbours(c, scope, service),
        };
        self.to_clusters(&n, from, &group, out);
    }

    /// Passes on a withdrawal taken in cluster `c`.
    pub(super) fn after_withdraw(
        &mut self,
        c: &ScopePath,
        from: NodeId,
        fresh: bool,
        w: &Record,
        out: &mut Outgoing,
    ) {
        let Body::Withdrawal { scope, service, .. } = &w.body else {
            return;
        };
        if !fresh {
            return;
        }
        let group = vec![w.clone()];
        self.to_members(c, from, &group, out);
        let n = self.neighbours(c, scope, service);
        self.to_clusters(&n, from, &group, out);
    }

    /// Passes on a creation or revocation new to cluster `c`.
    pub(super) fn after_flood(
        &mut self,
        c: &ScopePath,
        from: NodeId,
        fresh: bool,
        rec: &Record,
        out: &mut Outgoing,
    ) {
        let now = self.now;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let Some(m) = s.members.get_mut(c) else {
            return;
        };
        if !m.seen.insert(rec.id()) || !fresh {
            return;
        }
        let parent = m.table.parent(now);
        let children = m.table.children(now);
        let concerns = |d: &ScopePath| match &rec.body {
            Body::ScopeCreate { path, .. } => d.is_prefix_of(path) || path.is_prefix_of(d),
            _ => true,
        };
        let group = s.flood_group(rec);
        let clusters: Vec<(ScopePath, Vec<NodeId>)> = parent
            .into_iter()
            .chain(children.into_iter().filter(|(d, _)| concerns(d)))
            .collect();
        self.to_members(c, from, &group, out);
        self.to_clusters(&clusters, from, &group, out);
    }

    /// Passes on a kept grant or capability new to cluster `c`.
    pub(super) fn after_book(
        &mut self,
        c: &ScopePath,
        from: NodeId,
        fresh: bool,
        rec: &Record,
        out: &mut Outgoing,
    ) {
        if !fresh {
            return;
        }
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let mut group = book_scope(rec).map_or_else(Vec::new, |sc| s.chain(&sc));
        group.push(rec.clone());
        self.to_members(c, from, &group, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Time;

    fn rec(body: Body) -> Record {
        Record {
            body,
            signer: [1; 32],
            sig: [2; 64],
        }
    }
    fn rev(n: u8) -> Record {
        rec(Body::Revocation {
            target: [n; 32],
            issued: Time(1),
        })
    }
    fn grant(n: u8) -> Record {
        rec(Body::HostingGrant {
            scope: ScopePath::root(),
            runtime: NodeId([n; 32]),
            expires: Time(9),
        })
    }

    #[test]
    fn groups_stay_whole_and_floods_go_once() {
        let to = NodeId([7; 32]);
        let mut out = Outgoing::default();
        // Two registrations sharing a grant and a chain: the chain goes
        // once, each registration keeps its grant.
        out.add(to, false, vec![rev(1), grant(1), rev(10)]);
        out.add(to, false, vec![rev(1), grant(1), rev(11)]);
        out.add(to, false, vec![rev(1), grant(1), rev(11)]);
        out.add(to, true, vec![rev(1)]);
        let b = &out.dests[&(to, false)];
        assert_eq!(b.groups.len(), 2);
        assert_eq!(b.groups[0], vec![rev(1), grant(1), rev(10)]);
        assert_eq!(b.groups[1], vec![grant(1), rev(11)]);
        assert_eq!(out.dests[&(to, true)].groups, vec![vec![rev(1)]]);
    }

    #[test]
    fn packing_respects_the_limits_and_never_splits_a_group() {
        let groups: Vec<Vec<Record>> = (0..100u8)
            .map(|i| vec![grant(i), rev(i), rev(i.wrapping_add(100))])
            .collect();
        let pushes = pack(groups.clone());
        assert!(pushes.len() > 1);
        let mut flat = Vec::new();
        for p in &pushes {
            assert!(p.len() <= MAX_RECORDS);
            assert_eq!(p.len() % 3, 0, "groups of three stay whole");
            let push = ScopePush {
                forwarded: false,
                generation_request: false,
                sync_request: false,
                records: p.clone(),
            };
            assert!(push.encoded_len() <= MAX_LEN);
            flat.extend(p.iter().cloned());
        }
        assert_eq!(flat, groups.concat());
        assert!(pack(Vec::new()).is_empty());
    }
}
