//! The answering side on its own: a [`ClusterTable`] with its own
//! [`Authority`] and counters, for a runtime in one sector cluster.
//!
//! The transport hosts [`ClusterTable`]s directly (one authority for all
//! the clusters a runtime is in); this wrapper is the same logic for tests
//! and tools that drive one responder by hand. How a table answers is
//! described in [`super::table`].

use super::authority::{AuthError, Authority};
use super::message::{Answer, Query};
use super::path::ScopePath;
use super::record::Record;
use super::table::{ClusterTable, Taken};
use super::trie::{TrieError, TrieLimits};
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
    authority: Authority,
    table: ClusterTable,
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
            authority,
            table: ClusterTable::new(me, cluster, cache_ms, limits),
            stats: ResponderStats::default(),
        }
    }

    /// What this responder answered and refused.
    pub fn stats(&self) -> &ResponderStats {
        &self.stats
    }

    /// This runtime's node ID.
    pub fn node_id(&self) -> NodeId {
        self.table.node_id()
    }

    /// The scope of this runtime's cluster.
    pub fn cluster(&self) -> &ScopePath {
        self.table.cluster()
    }

    /// The registrations held.
    pub fn table(&self) -> &ClusterTable {
        &self.table
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
    ) -> Result<Taken, RegisterError> {
        let r = self.table.register(&self.authority, reg, grant, now);
        if r.is_err() {
            self.stats.refused += 1;
        }
        r
    }

    /// Takes a withdrawal: drops the runtime's registration if it was issued
    /// before the withdrawal. Returns whether one was dropped.
    ///
    /// # Errors
    /// Wrong kind or a signature that is not the runtime's.
    pub fn withdraw(&mut self, rec: &Record) -> Result<bool, RegisterError> {
        let r = self.table.withdraw(rec);
        if r.is_err() {
            self.stats.refused += 1;
        }
        r
    }

    /// Drops what has expired at `now`.
    pub fn expire(&mut self, now: Time) {
        self.table.expire(now);
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
        self.table.answer(&self.authority, from, q, now)
    }
}
