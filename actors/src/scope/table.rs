//! What one member of a sector cluster holds: the registrations it is
//! responsible for, each with the hosting grant that backs it, and the
//! answers it gives from them.
//!
//! A member of the cluster of `C` holds the registrations of `C` and of
//! every scope below it (a scope with a cluster of its own redirects there),
//! the sector registrations of the clusters below `C` (to redirect down) and
//! those of the clusters above it (to redirect up). It answers a query for
//! scope `Q` as follows, after checking that the querier may read `Q` (and
//! answering [`Answer::Denied`] otherwise, the same answer as for a scope
//! that does not exist):
//!
//! - `Q` (or, for a closest query, the deepest scope its ceiling allows) is
//!   not under `C`: redirect to the parent cluster.
//! - A scope on the way from `C` down to it has a cluster of its own:
//!   redirect to that cluster.
//! - Otherwise *all* answers with the registrations directly in `Q`;
//!   *closest* with those of the deepest scope between `C` and `Q` that has
//!   any, or, when none has, redirects to the parent cluster with a ceiling
//!   just above `C` (at `/` it answers that there is none).
//!
//! The table never checks authority on its own: every method that needs it
//! takes the [`Authority`] to check against, so one runtime in several
//! clusters keeps one authority table.

use std::collections::BTreeMap;

use super::authority::{AuthError, Authority};
use super::message::{Answer, Query, QueryKind, MAX_ENTRIES, MAX_TARGETS};
use super::path::ScopePath;
use super::record::{Body, Record};
use super::responder::{RegisterError, SECTOR};
use super::trie::{Entry, Trie, TrieLimits};
use crate::ids::{NodeId, Time};

/// What taking a registration changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The runtime had no live registration of this service in this scope.
    Joined,
    /// A later registration replaced the one held.
    Renewed,
    /// The one held is as recent or more: nothing changed.
    Unchanged,
}

impl Taken {
    /// Whether the table changed.
    pub fn changed(self) -> bool {
        self != Self::Unchanged
    }
}

/// A registration held, with the hosting grant that backs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The registration, signed by its runtime.
    pub reg: Record,
    /// The hosting grant for that runtime and scope.
    pub grant: Record,
}

type Key = (ScopePath, String, NodeId);

/// One cluster member's registrations and answers.
#[derive(Debug, Clone)]
pub struct ClusterTable {
    me: NodeId,
    cluster: ScopePath,
    table: Trie,
    records: BTreeMap<Key, Held>,
    cache_ms: u32,
}

impl ClusterTable {
    /// A table for runtime `me` in the cluster of `cluster`, telling
    /// queriers to cache answers for `cache_ms`.
    pub fn new(me: NodeId, cluster: ScopePath, cache_ms: u32, limits: TrieLimits) -> Self {
        Self {
            me,
            cluster,
            table: Trie::new(limits),
            records: BTreeMap::new(),
            cache_ms,
        }
    }

    /// This runtime's node ID.
    pub fn node_id(&self) -> NodeId {
        self.me
    }

    /// The scope of this runtime's cluster.
    pub fn cluster(&self) -> &ScopePath {
        &self.cluster
    }

    /// Registrations held (expired ones included until [`Self::expire`]).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether a registration of `service` in `scope` belongs here: the
    /// scope is under this cluster, or it is a sector registration of a
    /// cluster above.
    pub fn holds(&self, scope: &ScopePath, service: &str) -> bool {
        self.cluster.is_prefix_of(scope) || (service == SECTOR && scope.is_prefix_of(&self.cluster))
    }

    /// Takes a registration backed by `grant`, checked against `auth`.
    ///
    /// # Errors
    /// A failed check, a scope not held here, or a full trie.
    pub fn register(
        &mut self,
        auth: &Authority,
        reg: &Record,
        grant: &Record,
        now: Time,
    ) -> Result<Taken, RegisterError> {
        let Body::Registration {
            scope,
            service,
            runtime,
            engine,
            issued,
            expires,
        } = &reg.body
        else {
            return Err(AuthError::WrongKind.into());
        };
        let key = (scope.clone(), service.clone(), *runtime);
        let same = self
            .records
            .get(&key)
            .is_some_and(|h| h.reg == *reg && h.grant == *grant);
        if same && *expires > now && !auth.is_revoked(grant) {
            // Held already, checked when it was taken.
            return Ok(Taken::Unchanged);
        }
        auth.check_registration(reg, grant, now)?;
        if !self.holds(scope, service) {
            return Err(RegisterError::NotHeld);
        }
        let taken = match self.records.get(&key) {
            Some(old) if reg_issued(&old.reg) >= *issued => return Ok(Taken::Unchanged),
            Some(old) if reg_expires(&old.reg) > now => Taken::Renewed,
            _ => Taken::Joined,
        };
        self.table.insert(
            scope,
            service,
            Entry {
                runtime: *runtime,
                engine: *engine,
                expires: *expires,
            },
            now,
        )?;
        self.records.insert(
            key,
            Held {
                reg: reg.clone(),
                grant: grant.clone(),
            },
        );
        Ok(taken)
    }

    /// Takes a withdrawal: drops the runtime's registration if it was issued
    /// before the withdrawal. Returns whether one was dropped.
    ///
    /// # Errors
    /// Wrong kind or a signature that is not the runtime's.
    pub fn withdraw(&mut self, rec: &Record) -> Result<bool, RegisterError> {
        let Body::Withdrawal {
            scope,
            service,
            runtime,
            issued,
        } = &rec.body
        else {
            return Err(AuthError::WrongKind.into());
        };
        if rec.signer != runtime.0 || !rec.verify_signature() {
            return Err(AuthError::BadSignature.into());
        }
        let key = (scope.clone(), service.clone(), *runtime);
        match self.records.get(&key) {
            Some(old) if reg_issued(&old.reg) < *issued => {
                self.records.remove(&key);
                self.table.remove(scope, service, *runtime);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Drops every registration of `runtime` issued before `before`;
    /// returns the (scope, service) pairs dropped.
    pub fn drop_runtime(&mut self, runtime: NodeId, before: Time) -> Vec<(ScopePath, String)> {
        let gone: Vec<Key> = self
            .records
            .iter()
            .filter(|((_, _, r), h)| *r == runtime && reg_issued(&h.reg) < before)
            .map(|(k, _)| k.clone())
            .collect();
        self.remove_keys(gone)
    }

    /// Drops every registration whose hosting grant `auth` says is revoked;
    /// returns the (scope, service) pairs dropped.
    pub fn drop_revoked(&mut self, auth: &Authority) -> Vec<(ScopePath, String)> {
        let gone: Vec<Key> = self
            .records
            .iter()
            .filter(|(_, h)| auth.is_revoked(&h.grant))
            .map(|(k, _)| k.clone())
            .collect();
        self.remove_keys(gone)
    }

    fn remove_keys(&mut self, keys: Vec<Key>) -> Vec<(ScopePath, String)> {
        keys.into_iter()
            .map(|(scope, service, runtime)| {
                self.records
                    .remove(&(scope.clone(), service.clone(), runtime));
                self.table.remove(&scope, &service, runtime);
                (scope, service)
            })
            .collect()
    }

    /// Drops what has expired at `now`.
    pub fn expire(&mut self, now: Time) {
        self.table.expire(now);
        self.records.retain(|_, h| reg_expires(&h.reg) > now);
    }

    /// Every registration held, with its grant, in (scope, service,
    /// runtime) order.
    pub fn held(&self) -> impl Iterator<Item = &Held> {
        self.records.values()
    }

    /// The live registration of `runtime` for `service` in `scope`.
    pub fn get(
        &self,
        scope: &ScopePath,
        service: &str,
        runtime: NodeId,
        now: Time,
    ) -> Option<&Held> {
        self.records
            .get(&(scope.clone(), service.to_owned(), runtime))
            .filter(|h| reg_expires(&h.reg) > now)
    }

    fn sector_scopes(&self, now: Time) -> BTreeMap<&ScopePath, Vec<NodeId>> {
        let mut out: BTreeMap<&ScopePath, Vec<NodeId>> = BTreeMap::new();
        for ((scope, service, runtime), h) in &self.records {
            if service == SECTOR && reg_expires(&h.reg) > now {
                out.entry(scope).or_default().push(*runtime);
            }
        }
        out
    }

    /// The members of this cluster (this runtime included once its own
    /// sector registration is held), in node ID order.
    pub fn members(&self, now: Time) -> Vec<NodeId> {
        self.live(&self.cluster, SECTOR, now)
            .into_iter()
            .map(|e| e.runtime)
            .collect()
    }

    /// The nearest cluster above this one and its members.
    pub fn parent(&self, now: Time) -> Option<(ScopePath, Vec<NodeId>)> {
        let parent = self.cluster.parent()?;
        let (scope, entries) = self.table.longest_prefix(&parent, SECTOR, now)?;
        Some((scope, entries.into_iter().map(|e| e.runtime).collect()))
    }

    /// The clusters directly below this one (no cluster between) and their
    /// members.
    pub fn children(&self, now: Time) -> Vec<(ScopePath, Vec<NodeId>)> {
        let below: Vec<(&ScopePath, Vec<NodeId>)> = self
            .sector_scopes(now)
            .into_iter()
            .filter(|(s, _)| s.depth() > self.cluster.depth() && self.cluster.is_prefix_of(s))
            .collect();
        below
            .iter()
            .filter(|(s, _)| {
                !below
                    .iter()
                    .any(|(o, _)| o.depth() < s.depth() && o.is_prefix_of(s))
            })
            .map(|(s, m)| ((*s).clone(), m.clone()))
            .collect()
    }

    /// Whether `peer` is a live member of this cluster or of a cluster
    /// this table knows above or below.
    pub fn knows_member(&self, peer: NodeId, now: Time) -> bool {
        self.records
            .iter()
            .any(|((_, s, r), h)| *r == peer && s == SECTOR && reg_expires(&h.reg) > now)
    }

    fn live(&self, scope: &ScopePath, service: &str, now: Time) -> Vec<Entry> {
        self.table.get(scope, service, now)
    }

    fn redirect(&self, scope: ScopePath, targets: Vec<Entry>, ceiling: u8) -> Answer {
        Answer::Redirect {
            scope,
            ceiling,
            cache_ms: self.cache_ms,
            targets: targets
                .into_iter()
                .map(|e| e.runtime)
                .take(MAX_TARGETS)
                .collect(),
        }
    }

    fn up(&self, ceiling: u8, now: Time) -> Answer {
        let Some(parent) = self.cluster.parent() else {
            return Answer::NoRoute;
        };
        match self.table.longest_prefix(&parent, SECTOR, now) {
            Some((scope, targets)) => self.redirect(scope, targets, ceiling),
            None => Answer::NoRoute,
        }
    }

    /// Answers `q` from `from` (the querier's node ID as the overlay
    /// authenticated it), checking access against `auth`.
    pub fn answer(&self, auth: &Authority, from: NodeId, q: &Query, now: Time) -> Answer {
        if !auth.may_read(&q.scope, from, &q.cred, now) {
            return Answer::Denied;
        }
        let target = match q.kind {
            QueryKind::All => q.scope.clone(),
            QueryKind::Closest => q.scope.prefix(usize::from(q.ceiling)),
        };
        if !self.cluster.is_prefix_of(&target) {
            return self.up(q.ceiling, now);
        }
        for d in self.cluster.depth() + 1..=target.depth() {
            let s = target.prefix(d);
            let sector = self.live(&s, SECTOR, now);
            if !sector.is_empty() {
                return self.redirect(s, sector, q.ceiling);
            }
        }
        let found = match q.kind {
            QueryKind::All => Some(target.clone()),
            QueryKind::Closest => (self.cluster.depth()..=target.depth())
                .rev()
                .map(|d| target.prefix(d))
                .find(|s| !self.live(s, &q.service, now).is_empty()),
        };
        let Some(scope) = found else {
            if self.cluster.is_root() {
                return Answer::Runtimes {
                    cache_ms: self.cache_ms,
                    regs: Vec::new(),
                };
            }
            let above = u8::try_from(self.cluster.depth() - 1).unwrap_or(u8::MAX);
            return self.up(above, now);
        };
        let regs = self
            .live(&scope, &q.service, now)
            .into_iter()
            .filter_map(|e| {
                self.records
                    .get(&(scope.clone(), q.service.clone(), e.runtime))
                    .map(|h| h.reg.clone())
            })
            .take(MAX_ENTRIES)
            .collect();
        Answer::Runtimes {
            cache_ms: self.cache_ms,
            regs,
        }
    }
}

/// When a registration was signed (`Time(0)` for other kinds).
pub(crate) fn reg_issued(r: &Record) -> Time {
    match r.body {
        Body::Registration { issued, .. } => issued,
        _ => Time(0),
    }
}

/// When a registration ends (`Time(0)` for other kinds).
pub(crate) fn reg_expires(r: &Record) -> Time {
    match r.body {
        Body::Registration { expires, .. } => expires,
        _ => Time(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }
    fn id(n: u8) -> NodeId {
        NodeId(key(n).verifying_key().to_bytes())
    }
    fn p(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap()
    }

    /// `/` owned by key 1, and every other scope used here by key 1 too.
    fn authority() -> Authority {
        let mut a = Authority::new(key(1).verifying_key().to_bytes());
        for s in ["/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/x"] {
            let rec = Record::sign(
                Body::ScopeCreate {
                    path: p(s),
                    owner: key(1).verifying_key().to_bytes(),
                    world_readable: true,
                    issued: Time(1),
                },
                &key(1),
            )
            .unwrap();
            assert!(a.add_scope(&rec).unwrap());
        }
        a
    }

    fn pair(scope: &str, service: &str, rt: u8, issued: u64) -> (Record, Record) {
        let grant = Record::sign(
            Body::HostingGrant {
                scope: p(scope),
                runtime: id(rt),
                expires: Time(1_000),
            },
            &key(1),
        )
        .unwrap();
        let reg = Record::sign(
            Body::Registration {
                scope: p(scope),
                service: service.into(),
                runtime: id(rt),
                engine: None,
                issued: Time(issued),
                expires: Time(500),
            },
            &key(rt),
        )
        .unwrap();
        (reg, grant)
    }

    #[test]
    fn joins_renewals_and_neighbours() {
        let a = authority();
        let mut t = ClusterTable::new(id(10), p("/a"), 1_000, TrieLimits::default());
        let take = |t: &mut ClusterTable, s: &str, sv: &str, rt: u8, at: u64| {
            let (reg, grant) = pair(s, sv, rt, at);
            t.register(&a, &reg, &grant, Time(2))
        };
        assert_eq!(take(&mut t, "/a", SECTOR, 10, 1), Ok(Taken::Joined));
        assert_eq!(take(&mut t, "/a", SECTOR, 10, 1), Ok(Taken::Unchanged));
        assert_eq!(take(&mut t, "/a", SECTOR, 10, 2), Ok(Taken::Renewed));
        assert_eq!(take(&mut t, "/a", SECTOR, 10, 1), Ok(Taken::Unchanged));
        take(&mut t, "/a", SECTOR, 11, 1).unwrap();
        take(&mut t, "/", SECTOR, 20, 1).unwrap();
        take(&mut t, "/a/b/c", SECTOR, 30, 1).unwrap();
        take(&mut t, "/a/b/c/d", SECTOR, 31, 1).unwrap();
        take(&mut t, "/a/b", "fs", 40, 1).unwrap();
        assert_eq!(
            take(&mut t, "/x", "fs", 41, 1),
            Err(RegisterError::NotHeld),
            "a sibling's registrations are not held"
        );
        assert_eq!(t.members(Time(2)), {
            let mut v = vec![id(10), id(11)];
            v.sort();
            v
        });
        assert_eq!(t.parent(Time(2)), Some((p("/"), vec![id(20)])));
        assert_eq!(
            t.children(Time(2)),
            vec![(p("/a/b/c"), vec![id(30)])],
            "only the clusters directly below"
        );
        assert!(t.knows_member(id(31), Time(2)));
        assert!(!t.knows_member(id(40), Time(2)));
        // A departure drops everything of the runtime issued before.
        assert_eq!(
            t.drop_runtime(id(30), Time(2)),
            vec![(p("/a/b/c"), SECTOR.to_owned())]
        );
        assert_eq!(t.children(Time(2)), vec![(p("/a/b/c/d"), vec![id(31)])]);
        assert!(t.drop_runtime(id(40), Time(1)).is_empty());
        // A revoked grant drops what it backs.
        let mut a2 = a.clone();
        let (_, grant) = pair("/a/b", "fs", 40, 1);
        let rev = Record::sign(
            Body::Revocation {
                target: grant.id(),
                issued: Time(3),
            },
            &key(1),
        )
        .unwrap();
        assert!(a2.revoke(&rev).unwrap());
        assert_eq!(t.drop_revoked(&a2), vec![(p("/a/b"), "fs".to_owned())]);
        // Expiry.
        t.expire(Time(500));
        assert!(t.is_empty());
    }

    proptest! {
        /// The direct children of a cluster, against a plain definition:
        /// sector scopes strictly below with no sector scope between.
        #[test]
        fn children_match_a_plain_scan(picks in proptest::collection::vec((0usize..6, 12u8..20), 0..12)) {
            let a = authority();
            let scopes = ["/", "/a", "/a/b", "/a/b/c", "/a/b/c/d", "/x"];
            let mut t = ClusterTable::new(id(10), p("/a"), 1_000, TrieLimits::default());
            let mut sectors: BTreeSet<ScopePath> = BTreeSet::new();
            for (i, rt) in picks {
                let (reg, grant) = pair(scopes[i], SECTOR, rt, 1);
                if t.register(&a, &reg, &grant, Time(2)).is_ok() {
                    sectors.insert(p(scopes[i]));
                }
            }
            let c = p("/a");
            let want: Vec<ScopePath> = sectors
                .iter()
                .filter(|s| s.depth() > c.depth() && c.is_prefix_of(s))
                .filter(|s| !sectors.iter().any(|o| o.depth() > c.depth() && o.depth() < s.depth() && o.is_prefix_of(s)))
                .cloned()
                .collect();
            let got: Vec<ScopePath> = t.children(Time(2)).into_iter().map(|(s, _)| s).collect();
            prop_assert_eq!(got, want);
        }
    }
}
