//! The answering side: a runtime in a sector cluster answers queries from
//! the registrations it is responsible for, or redirects.
//!
//! A runtime whose cluster is at scope `C` holds the registrations of `C`
//! and of descendants that have no cluster of their own, the sector
//! registrations of the child clusters below it (so it can redirect to
//! them), and those of its parent cluster (so it can redirect up). It
//! answers a query for scope `Q` as follows, after checking that the
//! querier may read `Q` (and answering [`Answer::Denied`] otherwise, the
//! same answer as for a scope that does not exist):
//!
//! - `Q` (or, for a closest query, the deepest scope its ceiling allows) is
//!   not under `C`: redirect to the parent cluster.
//! - A scope on the way from `C` down to it has a cluster of its own:
//!   redirect to that cluster.
//! - Otherwise *all* answers with the registrations directly in `Q`;
//!   *closest* with those of the deepest scope between `C` and `Q` that has
//!   any, or, when none has, redirects to the parent cluster with a ceiling
//!   just above `C` (at `/` it answers that there is none).

use std::collections::BTreeMap;

use super::authority::{AuthError, Authority};
use super::message::{Answer, Query, QueryKind, MAX_ENTRIES, MAX_TARGETS};
use super::path::ScopePath;
use super::record::{Body, Record};
use super::trie::{Entry, Trie, TrieError, TrieLimits};
use crate::ids::{NodeId, Time};
use crate::wire::WireError;

/// The service that makes a runtime a member of its scope's sector
/// cluster.
pub const SECTOR: &str = "sector";

/// Why a registration or withdrawal was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The record or its grant failed a check.
    #[error("refused: {0}")]
    Auth(#[from] AuthError),
    /// The trie refused it.
    #[error("refused: {0}")]
    Trie(#[from] TrieError),
    /// The scope is not one this runtime holds.
    #[error("scope not held here")]
    NotHeld,
}

/// What a responder answered and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Queries answered with runtimes.
    pub answered: u64,
    /// Queries answered with a redirect.
    pub redirected: u64,
    /// Queries denied (not allowed, or no such scope).
    pub denied: u64,
    /// Queries answered with no route.
    pub no_route: u64,
    /// Queries that did not parse.
    pub malformed: u64,
    /// Registrations and withdrawals refused (forged, unauthorised,
    /// expired, not held here, or over a limit).
    pub refused: u64,
}

/// One runtime's answering state.
#[derive(Debug, Clone)]
pub struct Responder {
    me: NodeId,
    cluster: ScopePath,
    authority: Authority,
    table: Trie,
    records: BTreeMap<(ScopePath, String, NodeId), Record>,
    cache_ms: u32,
    stats: ResponderStats,
}

impl Responder {
    /// A runtime `me` in the cluster of `cluster`, checking records against
    /// `authority`, telling queriers to cache answers for `cache_ms`.
    pub fn new(
        me: NodeId,
        cluster: ScopePath,
        authority: Authority,
        cache_ms: u32,
        limits: TrieLimits,
    ) -> Self {
        Self {
            me,
            cluster,
            authority,
            table: Trie::new(limits),
            records: BTreeMap::new(),
            cache_ms,
            stats: ResponderStats::default(),
        }
    }

    /// What this responder answered and refused.
    pub fn stats(&self) -> &ResponderStats {
        &self.stats
    }

    /// This runtime's node ID.
    pub fn node_id(&self) -> NodeId {
        self.me
    }

    /// The scope of this runtime's cluster.
    pub fn cluster(&self) -> &ScopePath {
        &self.cluster
    }

    /// The authority table (to add scopes and revocations).
    pub fn authority_mut(&mut self) -> &mut Authority {
        &mut self.authority
    }

    /// Takes a registration backed by `grant`: the scope must be under this
    /// cluster, or it must be a sector registration of an ancestor cluster.
    ///
    /// # Errors
    /// A failed check, a scope not held here, or a full trie.
    pub fn register(
        &mut self,
        reg: &Record,
        grant: &Record,
        now: Time,
    ) -> Result<(), RegisterError> {
        let r = self.take_registration(reg, grant, now);
        if r.is_err() {
            self.stats.refused += 1;
        }
        r
    }

    fn take_registration(
        &mut self,
        reg: &Record,
        grant: &Record,
        now: Time,
    ) -> Result<(), RegisterError> {
        self.authority.check_registration(reg, grant, now)?;
        let Body::Registration {
            scope,
            service,
            runtime,
            engine,
            expires,
            ..
        } = &reg.body
        else {
            return Err(AuthError::WrongKind.into());
        };
        let held = self.cluster.is_prefix_of(scope)
            || (service == SECTOR && scope.is_prefix_of(&self.cluster));
        if !held {
            return Err(RegisterError::NotHeld);
        }
        let key = (scope.clone(), service.clone(), *runtime);
        if let Some(old) = self.records.get(&key) {
            if reg_issued(old) > reg_issued(reg) {
                return Ok(());
            }
        }
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
        self.records.insert(key, reg.clone());
        Ok(())
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
            self.stats.refused += 1;
            return Err(AuthError::BadSignature.into());
        }
        let key = (scope.clone(), service.clone(), *runtime);
        match self.records.get(&key) {
            Some(old) if reg_issued(old) < *issued => {
                self.records.remove(&key);
                self.table.remove(scope, service, *runtime);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Drops what has expired at `now`.
    pub fn expire(&mut self, now: Time) {
        self.table.expire(now);
        self.records.retain(|_, r| match r.body {
            Body::Registration { expires, .. } => expires > now,
            _ => false,
        });
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

    /// Parses a query from `from` (the querier's node ID as the overlay
    /// authenticated it), answers it and counts the outcome; returns the
    /// answer's bytes.
    ///
    /// # Errors
    /// A query that does not parse (counted as malformed; the host drops
    /// it).
    pub fn handle_query(
        &mut self,
        from: NodeId,
        bytes: &[u8],
        now: Time,
    ) -> Result<Vec<u8>, WireError> {
        let q = Query::parse(bytes).inspect_err(|_| self.stats.malformed += 1)?;
        let a = self.answer(from, &q, now);
        match a {
            Answer::Runtimes { .. } => self.stats.answered += 1,
            Answer::Redirect { .. } => self.stats.redirected += 1,
            Answer::Denied => self.stats.denied += 1,
            Answer::NoRoute => self.stats.no_route += 1,
        }
        a.to_bytes()
    }

    /// Answers `q` from `from` (the querier's node ID as the overlay
    /// authenticated it).
    pub fn answer(&self, from: NodeId, q: &Query, now: Time) -> Answer {
        if !self.authority.may_read(&q.scope, from, &q.cred, now) {
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
                    .cloned()
            })
            .take(MAX_ENTRIES)
            .collect();
        Answer::Runtimes {
            cache_ms: self.cache_ms,
            regs,
        }
    }
}

fn reg_issued(r: &Record) -> Time {
    match r.body {
        Body::Registration { issued, .. } => issued,
        _ => Time(0),
    }
}
