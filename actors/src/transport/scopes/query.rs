//! Queries: running this runtime's queries hop by hop, and answering the
//! queries of others from this runtime's cluster tables.

use super::{HopWait, PendingQuery, Purpose, Scopes};
use crate::ids::{NodeId, Time};
use crate::scope::querier::{Progress, QueryError, Start};
use crate::scope::record::check_service;
use crate::scope::{Answer, Credential, Query, QueryKind, ScopeFound, ScopePath};
use crate::stats::ScopeStats;
use crate::transport::Transport;
use crate::wire::frame::{Frame, HEADER_LEN};
use crate::wire::scope_answer::ScopeAnswerFrame;
use crate::wire::scope_query::ScopeQueryFrame;
use crate::wire::WireError;

impl Scopes {
    /// Answers `q` from `from` with the table of the cluster that holds the
    /// deepest part of its scope (or, when none does, the shallowest, which
    /// redirects up); `None` when this runtime is in no cluster.
    pub(super) fn local_answer(
        &self,
        from: NodeId,
        q: &Query,
        now: Time,
        stats: &mut ScopeStats,
    ) -> Option<Answer> {
        let target = match q.kind {
            QueryKind::All => q.scope.clone(),
            QueryKind::Closest => q.scope.prefix(usize::from(q.ceiling)),
        };
        let m = self
            .members
            .iter()
            .filter(|(c, _)| c.is_prefix_of(&target))
            .max_by_key(|(c, _)| c.depth())
            .or_else(|| self.members.iter().min_by_key(|(c, _)| c.depth()))
            .map(|(_, m)| m)?;
        let a = m.table.answer(&self.authority, from, q, now);
        match a {
            Answer::Runtimes { .. } => stats.answered += 1,
            Answer::Redirect { .. } => stats.redirected += 1,
            Answer::Denied => stats.denied += 1,
            Answer::NoRoute => stats.no_route += 1,
        }
        Some(a)
    }
}

impl Transport {
    /// Starts query `id` for `purpose`: from the cache, or the first hop.
    pub(super) fn scope_run_query(
        &mut self,
        id: u64,
        kind: QueryKind,
        scope: ScopePath,
        service: &str,
        cred: Credential,
        purpose: Purpose,
    ) {
        let now = self.now;
        let max = self.config.scope_max_queries;
        let Some(s) = self.scopes.as_mut() else {
            self.scope_query_done(id, purpose, Vec::new(), Err(QueryError::Disabled));
            return;
        };
        if let Err(e) = check_service(service) {
            self.scope_query_done(id, purpose, Vec::new(), Err(QueryError::Malformed(e)));
            return;
        }
        if s.queries.len() >= max {
            self.scope_query_done(id, purpose, Vec::new(), Err(QueryError::Busy));
            return;
        }
        // The cache is shared by every caller on this runtime: it answers
        // only a caller whose credential this runtime can check itself.
        let me = self.keys.node_id();
        let use_cache = s.authority.may_read(&scope, me, &cred, now);
        match s
            .querier
            .start_with(kind, scope, service, cred, now, use_cache)
        {
            Err(e) => self.scope_query_done(id, purpose, Vec::new(), Err(e)),
            Ok(Start::Cached(found)) => {
                self.stats.scopes.cache_hits += 1;
                let r = Ok(ScopeFound {
                    runtimes: found,
                    trail: Vec::new(),
                    cached: true,
                });
                self.scope_finish(id, purpose, r);
            }
            Ok(Start::Run(run)) => {
                s.queries.insert(
                    id,
                    PendingQuery {
                        run,
                        purpose,
                        hop: None,
                    },
                );
                self.scope_step(id);
            }
        }
    }

    /// Sends query `id` to its next candidate, answering hops to this
    /// runtime at once.
    fn scope_step(&mut self, id: u64) {
        let me = self.node_id();
        loop {
            let now = self.now;
            let timeout = self.config.scope_query_timeout_ms;
            let Some(s) = self.scopes.as_mut() else {
                return;
            };
            let Some(mut pq) = s.queries.remove(&id) else {
                return;
            };
            let Some(to) = pq.run.current() else {
                self.scope_query_over(id, pq, Err(QueryError::Unreachable));
                return;
            };
            if to != me {
                let hop = self.next_id();
                let query = pq.run.query().clone();
                pq.hop = Some(HopWait {
                    peer: to,
                    id: hop,
                    deadline: now.plus_ms(timeout),
                });
                let Some(s) = self.scopes.as_mut() else {
                    return;
                };
                s.hops.insert(hop, id);
                s.queries.insert(id, pq);
                self.stats.scopes.hops_sent += 1;
                let f = Frame::ScopeQuery(ScopeQueryFrame { id: hop, query });
                self.stats.scopes.query_bytes_out += f.encoded_len() as u64;
                self.scope_frame(to, f);
                return;
            }
            let query = pq.run.query().clone();
            let answer = s.local_answer(me, &query, now, &mut self.stats.scopes);
            let r = match answer {
                None => pq.run.handle_unreachable().map(|()| Progress::Pending),
                Some(a) => pq.run.handle_parsed(&mut s.querier, a, now),
            };
            match r {
                Ok(Progress::Pending) => {
                    s.queries.insert(id, pq);
                }
                Ok(Progress::Done(found)) => {
                    self.scope_query_over(id, pq, Ok(found));
                    return;
                }
                Err(e) => {
                    self.scope_query_over(id, pq, Err(e));
                    return;
                }
            }
        }
    }

    fn scope_query_over(
        &mut self,
        id: u64,
        pq: PendingQuery,
        r: Result<Vec<crate::scope::Found>, QueryError>,
    ) {
        let trail = pq.run.trail().to_vec();
        self.scope_query_done(id, pq.purpose, trail, r);
    }

    /// Counts a finished query and hands its result on.
    fn scope_query_done(
        &mut self,
        id: u64,
        purpose: Purpose,
        trail: Vec<crate::scope::Hop>,
        r: Result<Vec<crate::scope::Found>, QueryError>,
    ) {
        let r = r.map(|runtimes| ScopeFound {
            runtimes,
            trail,
            cached: false,
        });
        self.scope_finish(id, purpose, r);
    }

    fn scope_finish(&mut self, id: u64, purpose: Purpose, r: Result<ScopeFound, QueryError>) {
        let st = &mut self.stats.scopes;
        match &r {
            Ok(_) => st.queries_done += 1,
            Err(e) => {
                st.queries_failed += 1;
                match e {
                    QueryError::Forged => st.answers_forged += 1,
                    QueryError::Malformed(_) => st.answers_malformed += 1,
                    QueryError::Loop(_) | QueryError::HopLimit(_) => st.loops += 1,
                    _ => {}
                }
            }
        }
        match purpose {
            Purpose::Answer => self.notices.push_back(crate::Notice::ScopeAnswer {
                id: crate::scope::ScopeQueryId(id),
                result: r,
            }),
            Purpose::Send => self.send_resolved(id, r),
            Purpose::Place(scope, service) => self.located(&scope, &service, r),
            Purpose::Withdraw(rec) => self.located_withdrawal(rec, r),
            Purpose::Book(rec) => self.located_book(rec, r),
        }
    }

    /// The hop of query `qid` got no answer: ask the next candidate.
    fn scope_hop_failed(&mut self, qid: u64) {
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let Some(mut pq) = s.queries.remove(&qid) else {
            return;
        };
        if let Some(h) = pq.hop.take() {
            s.hops.remove(&h.id);
        }
        match pq.run.handle_unreachable() {
            Ok(()) => {
                s.queries.insert(qid, pq);
                self.scope_step(qid);
            }
            Err(e) => self.scope_query_over(qid, pq, Err(e)),
        }
    }

    /// Hops waiting on `peer` fail (its stream closed or could not open).
    pub(super) fn scope_hops_failed(&mut self, peer: NodeId) {
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let hit: Vec<u64> = s
            .queries
            .iter()
            .filter(|(_, q)| q.hop.is_some_and(|h| h.peer == peer))
            .map(|(&id, _)| id)
            .collect();
        for qid in hit {
            self.scope_hop_failed(qid);
        }
    }

    /// Hops whose answer is overdue at `now` fail.
    pub(super) fn scope_hop_timeouts(&mut self, now: Time) {
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let due: Vec<u64> = s
            .queries
            .iter()
            .filter(|(_, q)| q.hop.is_some_and(|h| h.deadline <= now))
            .map(|(&id, _)| id)
            .collect();
        for qid in due {
            self.stats.scopes.hop_timeouts += 1;
            self.scope_hop_failed(qid);
        }
    }

    /// Takes `f` as the query id whose hop waits on `peer`, if one does.
    fn take_hop(&mut self, peer: NodeId, hop: u64) -> Option<PendingQuery> {
        let s = self.scopes.as_mut()?;
        let qid = *s.hops.get(&hop)?;
        let ok = s
            .queries
            .get(&qid)
            .and_then(|q| q.hop)
            .is_some_and(|h| h.peer == peer && h.id == hop);
        if !ok {
            return None;
        }
        s.hops.remove(&hop);
        let mut pq = s.queries.remove(&qid)?;
        pq.hop = None;
        Some(pq)
    }

    /// An answer frame from `peer`.
    pub(in crate::transport) fn on_scope_answer(&mut self, peer: NodeId, f: ScopeAnswerFrame) {
        let now = self.now;
        let Some(qid) = self
            .scopes
            .as_ref()
            .and_then(|s| s.hops.get(&f.id).copied())
        else {
            self.stats.scopes.unexpected += 1;
            return;
        };
        let Some(mut pq) = self.take_hop(peer, f.id) else {
            self.stats.scopes.unexpected += 1;
            return;
        };
        self.stats.scopes.answer_bytes_in += (HEADER_LEN + f.encoded_len()) as u64;
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        match pq.run.handle_parsed(&mut s.querier, f.answer, now) {
            Ok(Progress::Pending) => {
                s.queries.insert(qid, pq);
                self.scope_step(qid);
            }
            Ok(Progress::Done(found)) => self.scope_query_over(qid, pq, Ok(found)),
            Err(e) => self.scope_query_over(qid, pq, Err(e)),
        }
    }

    /// An answer frame from `peer` that did not parse: its query fails.
    pub(in crate::transport) fn on_bad_scope_answer(
        &mut self,
        peer: NodeId,
        body: &[u8],
        e: WireError,
    ) {
        let Some(hop) = ScopeAnswerFrame::peek_id(body) else {
            return;
        };
        let Some(qid) = self.scopes.as_ref().and_then(|s| s.hops.get(&hop).copied()) else {
            return;
        };
        let Some(mut pq) = self.take_hop(peer, hop) else {
            return;
        };
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let err = pq.run.handle_malformed(&mut s.querier, e);
        self.scope_query_over(qid, pq, Err(err));
    }

    /// A query frame from `peer`: answered from our tables (no route when
    /// we are in no cluster), within the per-peer limit.
    pub(in crate::transport) fn on_scope_query(&mut self, peer: NodeId, f: ScopeQueryFrame) {
        let now = self.now;
        if !self.scope_allow(peer, false) {
            self.stats.scopes.limited += 1;
            return;
        }
        let Some(s) = self.scopes.as_ref() else {
            return;
        };
        let answer = s
            .local_answer(peer, &f.query, now, &mut self.stats.scopes)
            .unwrap_or_else(|| {
                self.stats.scopes.no_route += 1;
                Answer::NoRoute
            });
        self.scope_frame(
            peer,
            Frame::ScopeAnswer(ScopeAnswerFrame { id: f.id, answer }),
        );
    }

    /// Counts one push (`push`) or query/probe against `peer`'s limit for
    /// the current window; false when over it. Known cluster members are
    /// not limited.
    pub(super) fn scope_allow(&mut self, peer: NodeId, push: bool) -> bool {
        let now = self.now;
        if self
            .scopes
            .as_ref()
            .is_some_and(|s| s.knows_member(peer, now))
        {
            return true;
        }
        let window = self.config.scope_rate_window_ms;
        let (max_push, max_query) = (
            self.config.scope_pushes_per_peer,
            self.config.scope_queries_per_peer,
        );
        let p = self.peers.entry(peer).or_default();
        if now >= p.scope_window.plus_ms(window) {
            p.scope_window = now;
            p.scope_pushes = 0;
            p.scope_queries = 0;
        }
        if push {
            p.scope_pushes += 1;
            p.scope_pushes <= max_push
        } else {
            p.scope_queries += 1;
            p.scope_queries <= max_query
        }
    }
}
