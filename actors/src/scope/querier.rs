//! The asking side: a query state machine that follows redirects, with a
//! hop limit and loop detection, and caches what it learns in the trie.
//!
//! [`Querier::start`] first looks in the cache; on a miss it picks the
//! runtime to ask (the deepest cluster the cache knows on the way to the
//! scope, else the bootstrap runtime) and returns a [`QueryRun`]. The host
//! sends [`QueryRun::next_send`] to that runtime and feeds the reply to
//! [`QueryRun::handle_answer`] until it is done or failed. A runtime that
//! cannot be reached is reported with [`QueryRun::handle_unreachable`].

use std::collections::BTreeSet;

use super::authority::Credential;
use super::message::{Answer, Query, QueryKind, NO_CEILING};
use super::path::ScopePath;
use super::record::Body;
use super::responder::SECTOR;
use super::trie::{Entry, Trie};
use crate::ids::{NodeId, Time};
use crate::wire::WireError;

/// Default most runtimes one query asks.
pub const DEFAULT_HOP_LIMIT: usize = 16;

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// Not allowed to read the scope, or no such scope.
    #[error("denied (or no such scope)")]
    Denied,
    /// More redirects than the hop limit.
    #[error("gave up after {0} hops")]
    HopLimit(usize),
    /// A redirect led only to runtimes already asked at that ceiling.
    #[error("redirect loop at {0}")]
    Loop(ScopePath),
    /// An answer did not parse (oversize answers included).
    #[error("malformed answer: {0}")]
    Malformed(WireError),
    /// An answer held a registration with a bad signature or for another
    /// scope or service.
    #[error("forged or mismatched registration in answer")]
    Forged,
    /// A runtime answered that it knows nobody to ask.
    #[error("no route to the scope")]
    NoRoute,
    /// No runtime was left to ask.
    #[error("no runtime reachable")]
    Unreachable,
    /// No runtime known to start from.
    #[error("nothing known to ask (no bootstrap runtime)")]
    NoBootstrap,
    /// Scopes are off on this runtime (no root key configured).
    #[error("scopes are off (no root key configured)")]
    Disabled,
    /// Too many queries are in flight on this runtime.
    #[error("too many scope queries in flight")]
    Busy,
}

/// A runtime found by a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The scope it hosts the service in.
    pub scope: ScopePath,
    /// It and its engine, with expiry.
    pub entry: Entry,
}

/// One step of a query's path, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The runtime asked.
    pub asked: NodeId,
    /// The scope it redirected to, if it did.
    pub redirect: Option<ScopePath>,
}

/// Where a query stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the answer to [`QueryRun::next_send`].
    Pending,
    /// Answered; the runtimes (possibly none).
    Done(Vec<Found>),
}

/// What a querier's queries came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerierStats {
    /// Queries answered from the cache.
    pub cache_hits: u64,
    /// Queries sent to the network.
    pub started: u64,
    /// Redirects followed.
    pub redirects: u64,
    /// Queries answered with runtimes.
    pub answered: u64,
    /// Queries that failed, by any [`QueryError`].
    pub failed: u64,
    /// Of those, answers that did not parse (oversize ones included).
    pub malformed: u64,
    /// Of those, answers holding forged or mismatched registrations.
    pub forged: u64,
    /// Of those, redirect loops and hop limits.
    pub loops: u64,
}

/// The querier's state: its cache and where to bootstrap.
#[derive(Debug, Clone)]
pub struct Querier {
    /// The cache of answers.
    pub cache: Trie,
    /// Runtimes of the root cluster (from configuration or DNS), asked in
    /// this order when the cache knows no cluster on the way.
    pub bootstrap: Vec<NodeId>,
    /// Most runtimes one query asks.
    pub hop_limit: usize,
    /// What the queries came to.
    pub stats: QuerierStats,
}

/// The result of [`Querier::start`].
#[derive(Debug)]
pub enum Start {
    /// Answered from the cache.
    Cached(Vec<Found>),
    /// A query to run.
    Run(Box<QueryRun>),
}

impl Querier {
    /// A querier with an empty cache, starting from `bootstrap` (a single
    /// `Option<NodeId>` works too).
    pub fn new(cache: Trie, bootstrap: impl IntoIterator<Item = NodeId>) -> Self {
        Self {
            cache,
            bootstrap: bootstrap.into_iter().collect(),
            hop_limit: DEFAULT_HOP_LIMIT,
            stats: QuerierStats::default(),
        }
    }

    /// What the cache answers for `kind`, `scope`, `service` at `now`, if it
    /// knows.
    pub fn cached(
        &self,
        kind: QueryKind,
        scope: &ScopePath,
        service: &str,
        now: Time,
    ) -> Option<Vec<Found>> {
        let found = |s: &ScopePath| -> Vec<Found> {
            self.cache
                .get(s, service, now)
                .into_iter()
                .map(|entry| Found {
                    scope: s.clone(),
                    entry,
                })
                .collect()
        };
        match kind {
            QueryKind::All => self
                .cache
                .is_complete(scope, service, now)
                .then(|| found(scope)),
            QueryKind::Closest => {
                for s in scope.lineage().iter().rev() {
                    if !self.cache.is_complete(s, service, now) {
                        return None;
                    }
                    let v = found(s);
                    if !v.is_empty() {
                        return Some(v);
                    }
                }
                Some(Vec::new())
            }
        }
    }

    /// Starts a query.
    ///
    /// # Errors
    /// [`QueryError::NoBootstrap`] when nothing is cached and no bootstrap
    /// runtime is known.
    pub fn start(
        &mut self,
        kind: QueryKind,
        scope: ScopePath,
        service: &str,
        cred: Credential,
        now: Time,
    ) -> Result<Start, QueryError> {
        self.start_with(kind, scope, service, cred, now, true)
    }

    /// As [`Self::start`]; with `use_cache` false the answer is never taken
    /// from the cache (the redirects it holds still give the first runtime
    /// to ask). A host serving several clients uses this when it cannot
    /// check a client's credential itself, so that one client's answer is
    /// not handed to another that may not read the scope.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_with(
        &mut self,
        kind: QueryKind,
        scope: ScopePath,
        service: &str,
        cred: Credential,
        now: Time,
        use_cache: bool,
    ) -> Result<Start, QueryError> {
        if use_cache {
            if let Some(v) = self.cached(kind, &scope, service, now) {
                self.stats.cache_hits += 1;
                return Ok(Start::Cached(v));
            }
        }
        let first = match self.cache.longest_prefix(&scope, SECTOR, now) {
            Some((_, e)) => e.iter().map(|e| e.runtime).collect(),
            None if self.bootstrap.is_empty() => return Err(QueryError::NoBootstrap),
            None => self.bootstrap.clone(),
        };
        self.stats.started += 1;
        Ok(Start::Run(Box::new(QueryRun {
            query: Query {
                kind,
                ceiling: NO_CEILING,
                scope,
                service: service.to_owned(),
                cred,
            },
            candidates: first,
            asked: BTreeSet::new(),
            trail: Vec::new(),
            hop_limit: self.hop_limit,
        })))
    }
}

/// One query in flight.
#[derive(Debug)]
pub struct QueryRun {
    query: Query,
    candidates: Vec<NodeId>,
    asked: BTreeSet<(NodeId, u8)>,
    trail: Vec<Hop>,
    hop_limit: usize,
}

impl QueryRun {
    /// The runtime to ask now and the query bytes to send it.
    ///
    /// # Errors
    /// [`QueryError::Unreachable`] when no candidate is left, or an
    /// unencodable query.
    pub fn next_send(&self) -> Result<(NodeId, Vec<u8>), QueryError> {
        let to = *self.candidates.first().ok_or(QueryError::Unreachable)?;
        Ok((to, self.query.to_bytes().map_err(QueryError::Malformed)?))
    }

    /// The runtimes asked so far and where each sent the query.
    pub fn trail(&self) -> &[Hop] {
        &self.trail
    }

    /// The runtime to ask now, if any is left.
    pub fn current(&self) -> Option<NodeId> {
        self.candidates.first().copied()
    }

    /// The query as sent.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The runtime asked now could not be reached: try the next candidate.
    ///
    /// # Errors
    /// [`QueryError::Unreachable`] when none is left.
    pub fn handle_unreachable(&mut self) -> Result<(), QueryError> {
        if !self.candidates.is_empty() {
            self.candidates.remove(0);
        }
        if self.candidates.is_empty() {
            return Err(QueryError::Unreachable);
        }
        Ok(())
    }

    /// Takes the reply of the runtime asked now; on success caches it in
    /// `q.cache` with the answering runtime's lifetime.
    ///
    /// # Errors
    /// Any [`QueryError`]; the query is over after an error.
    pub fn handle_answer(
        &mut self,
        q: &mut Querier,
        bytes: &[u8],
        now: Time,
    ) -> Result<Progress, QueryError> {
        let r = match Answer::parse(bytes) {
            Ok(a) => self.take_answer(q, a, now),
            Err(e) => Err(QueryError::Malformed(e)),
        };
        Self::count(q, r)
    }

    /// As [`Self::handle_answer`], for an answer already parsed.
    ///
    /// # Errors
    /// Any [`QueryError`]; the query is over after an error.
    pub fn handle_parsed(
        &mut self,
        q: &mut Querier,
        answer: Answer,
        now: Time,
    ) -> Result<Progress, QueryError> {
        let r = self.take_answer(q, answer, now);
        Self::count(q, r)
    }

    /// The reply of the runtime asked now did not parse: the query fails
    /// with [`QueryError::Malformed`] (counted).
    pub fn handle_malformed(&mut self, q: &mut Querier, e: WireError) -> QueryError {
        match Self::count(q, Err(QueryError::Malformed(e))) {
            Err(e) => e,
            Ok(_) => QueryError::Malformed(e),
        }
    }

    fn count(q: &mut Querier, r: Result<Progress, QueryError>) -> Result<Progress, QueryError> {
        let s = &mut q.stats;
        match &r {
            Ok(Progress::Pending) => s.redirects += 1,
            Ok(Progress::Done(_)) => s.answered += 1,
            Err(e) => {
                s.failed += 1;
                match e {
                    QueryError::Malformed(_) => s.malformed += 1,
                    QueryError::Forged => s.forged += 1,
                    QueryError::Loop(_) | QueryError::HopLimit(_) => s.loops += 1,
                    _ => {}
                }
            }
        }
        r
    }

    fn take_answer(
        &mut self,
        q: &mut Querier,
        answer: Answer,
        now: Time,
    ) -> Result<Progress, QueryError> {
        let asked = *self.candidates.first().ok_or(QueryError::Unreachable)?;
        self.asked.insert((asked, self.query.ceiling));
        match answer {
            Answer::Denied => Err(QueryError::Denied),
            Answer::NoRoute => Err(QueryError::NoRoute),
            Answer::Redirect {
                scope,
                ceiling,
                cache_ms,
                targets,
            } => {
                self.trail.push(Hop {
                    asked,
                    redirect: Some(scope.clone()),
                });
                if self.trail.len() >= self.hop_limit {
                    return Err(QueryError::HopLimit(self.trail.len()));
                }
                let until = now.plus_ms(u64::from(cache_ms));
                for t in &targets {
                    let e = Entry {
                        runtime: *t,
                        engine: None,
                        expires: until,
                    };
                    // A full cache only costs a later redirect.
                    let _ = q.cache.insert(&scope, SECTOR, e, now);
                }
                let fresh: Vec<NodeId> = targets
                    .into_iter()
                    .filter(|t| !self.asked.contains(&(*t, ceiling)))
                    .collect();
                if fresh.is_empty() {
                    return Err(QueryError::Loop(scope));
                }
                self.query.ceiling = ceiling;
                self.candidates = fresh;
                Ok(Progress::Pending)
            }
            Answer::Runtimes { cache_ms, regs } => {
                self.trail.push(Hop {
                    asked,
                    redirect: None,
                });
                let found = self.check(&regs, now)?;
                self.cache_answer(q, &found, cache_ms, now);
                Ok(Progress::Done(found))
            }
        }
    }

    fn check(&self, regs: &[super::record::Record], now: Time) -> Result<Vec<Found>, QueryError> {
        let mut out = Vec::new();
        let mut at: Option<&ScopePath> = None;
        for r in regs {
            let Body::Registration {
                scope,
                service,
                runtime,
                engine,
                expires,
                ..
            } = &r.body
            else {
                return Err(QueryError::Forged);
            };
            let in_place = match self.query.kind {
                QueryKind::All => *scope == self.query.scope,
                QueryKind::Closest => scope.is_prefix_of(&self.query.scope),
            };
            if !in_place
                || *service != self.query.service
                || r.signer != runtime.0
                || !r.verify_signature()
                || at.is_some_and(|a| a != scope)
            {
                return Err(QueryError::Forged);
            }
            at = Some(scope);
            if *expires > now {
                out.push(Found {
                    scope: scope.clone(),
                    entry: Entry {
                        runtime: *runtime,
                        engine: *engine,
                        expires: *expires,
                    },
                });
            }
        }
        Ok(out)
    }

    fn cache_answer(&self, q: &mut Querier, found: &[Found], cache_ms: u32, now: Time) {
        let until = now.plus_ms(u64::from(cache_ms));
        let service = &self.query.service;
        let qs = &self.query.scope;
        // Scopes the answer says everything about: the scope itself for
        // all; for closest, from the scope found (or `/`) down to the scope.
        let from = match self.query.kind {
            QueryKind::All => qs.depth(),
            QueryKind::Closest => found.first().map_or(0, |f| f.scope.depth()),
        };
        for d in from..=qs.depth() {
            let s = qs.prefix(d);
            q.cache.clear(&s, service);
            let _ = q.cache.mark_complete(&s, service, until);
        }
        for f in found {
            let mut e = f.entry.clone();
            e.expires = e.expires.min(until);
            let _ = q.cache.insert(&f.scope, service, e, now);
        }
    }
}
