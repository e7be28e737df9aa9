//! Sending to a scope: resolve with a query, then cast the payload to the
//! engines the registrations name (all of them, or one of the nearest).
//!
//! An engine on this runtime gets it at once. An engine known as a proxy
//! of the registering runtime, with its stream up, gets it at once too.
//! Otherwise the runtime is probed first: it writes the learn records of
//! its engines on every stream before anything else and streams are
//! ordered, so at its pong every engine it hosts is known here; an engine
//! still unknown is gone. A probe that gets no pong in time, or a stream
//! that cannot be opened, makes the engine unreachable. A closest send
//! tries the nearest runtimes one at a time until one takes it.

use std::collections::VecDeque;

use rand_core::RngCore;

use super::{PendingProbe, PendingSend};
use crate::error::SendError;
use crate::ids::{EngineAddr, NodeId, Time};
use crate::scope::{QueryError, QueryKind, ScopeError, ScopeFound, ScopeQueryId};
use crate::transport::state::Reach;
use crate::transport::Transport;
use crate::wire::frame::Frame;
use crate::wire::scope_probe::ScopeProbe;

/// What became of one target.
enum Outcome {
    Sent,
    Gone,
    Unreachable,
    Waiting,
    /// The sending engine is gone: the whole send fails.
    Abort,
}

impl Transport {
    /// Starts a send (after its query was started under the same id).
    pub(super) fn send_start(
        &mut self,
        id: u64,
        from: EngineAddr,
        kind: QueryKind,
        payload: Vec<u8>,
    ) {
        if let Some(s) = self.scopes.as_mut() {
            s.sends.insert(
                id,
                PendingSend {
                    from,
                    kind,
                    payload,
                    todo: VecDeque::new(),
                    waiting: Default::default(),
                    sent: Vec::new(),
                    gone: Vec::new(),
                    unreachable: Vec::new(),
                },
            );
        }
    }

    /// Ends send `id` with `result`.
    pub(super) fn send_over(&mut self, id: u64, result: Result<Vec<EngineAddr>, ScopeError>) {
        if let Some(s) = self.scopes.as_mut() {
            s.sends.remove(&id);
            s.probes.retain(|_, p| p.send != id);
        }
        match &result {
            Ok(v) => self.stats.scopes.sends_delivered += v.len() as u64,
            Err(_) => self.stats.scopes.sends_failed += 1,
        }
        self.notices.push_back(crate::Notice::ScopeSent {
            id: ScopeQueryId(id),
            result,
        });
    }

    /// The query of send `id` finished.
    pub(super) fn send_resolved(&mut self, id: u64, r: Result<ScopeFound, QueryError>) {
        let me = self.node_id();
        let found = match r {
            Ok(f) => f,
            Err(e) => return self.send_over(id, Err(ScopeError::Query(e))),
        };
        if found.runtimes.is_empty() {
            return self.send_over(id, Err(ScopeError::NoRuntime));
        }
        let mut targets: Vec<(NodeId, EngineAddr)> = found
            .runtimes
            .iter()
            .filter_map(|f| f.entry.engine.map(|e| (f.entry.runtime, e)))
            .collect();
        if targets.is_empty() {
            return self.send_over(id, Err(ScopeError::NoEngine));
        }
        let Some(kind) = self
            .scopes
            .as_ref()
            .and_then(|s| s.sends.get(&id))
            .map(|p| p.kind)
        else {
            return;
        };
        if kind == QueryKind::Closest {
            // One of the nearest: this runtime first, then runtimes with a
            // stream up, then the rest; a random one first within each.
            let n = targets.len();
            let start = (self.rng.next_u32() as usize) % n;
            targets.rotate_left(start);
            targets.sort_by_key(|(r, _)| {
                if *r == me {
                    0
                } else if self.is_up(*r) {
                    1
                } else {
                    2
                }
            });
        }
        if let Some(ps) = self.scopes.as_mut().and_then(|s| s.sends.get_mut(&id)) {
            ps.todo = targets.into();
        }
        self.send_next(id);
    }

    /// Moves send `id` on: delivers to what is to do (all of it, or one
    /// at a time for closest) and ends it when nothing is left.
    fn send_next(&mut self, id: u64) {
        loop {
            let Some(ps) = self.scopes.as_mut().and_then(|s| s.sends.get_mut(&id)) else {
                return;
            };
            let closest = ps.kind == QueryKind::Closest;
            if closest && !ps.sent.is_empty() {
                let sent = ps.sent.clone();
                return self.send_over(id, Ok(sent));
            }
            if closest && !ps.waiting.is_empty() {
                return;
            }
            let Some((runtime, engine)) = ps.todo.pop_front() else {
                if !ps.waiting.is_empty() {
                    return;
                }
                let (sent, gone, unreachable) =
                    (ps.sent.clone(), ps.gone.clone(), ps.unreachable.clone());
                let r = if gone.is_empty() && unreachable.is_empty() {
                    Ok(sent)
                } else {
                    Err(ScopeError::Undelivered {
                        sent,
                        gone,
                        unreachable,
                    })
                };
                return self.send_over(id, r);
            };
            let outcome = self.deliver_to(id, runtime, engine);
            if !self.record(id, engine, outcome) {
                return;
            }
        }
    }

    /// Notes what became of `engine`; false when the send is over.
    fn record(&mut self, id: u64, engine: EngineAddr, o: Outcome) -> bool {
        let Some(ps) = self.scopes.as_mut().and_then(|s| s.sends.get_mut(&id)) else {
            return false;
        };
        match o {
            Outcome::Sent => ps.sent.push(engine),
            Outcome::Gone => ps.gone.push(engine),
            Outcome::Unreachable => ps.unreachable.push(engine),
            Outcome::Waiting => {}
            Outcome::Abort => {
                let from = ps.from;
                self.send_over(id, Err(ScopeError::NotLocal(from)));
                return false;
            }
        }
        true
    }

    /// Casts the payload of send `id` to `engine` if it is known to be
    /// hosted by `runtime`; probes `runtime` otherwise.
    fn deliver_to(&mut self, id: u64, runtime: NodeId, engine: EngineAddr) -> Outcome {
        let me = self.node_id();
        let now = self.now;
        let timeout = self.config.scope_query_timeout_ms;
        let local = runtime == me;
        let known = local && self.engines.contains_key(&engine)
            || self
                .proxies
                .get(&engine)
                .is_some_and(|p| p.node == runtime && p.reach == Reach::Up);
        if local && !known {
            return Outcome::Gone;
        }
        if known {
            return self.cast_for(id, engine);
        }
        let pid = self.next_id();
        let Some(s) = self.scopes.as_mut() else {
            return Outcome::Abort;
        };
        let Some(ps) = s.sends.get_mut(&id) else {
            return Outcome::Abort;
        };
        ps.waiting.insert(engine, runtime);
        let probing = s.probes.values().any(|p| p.send == id && p.peer == runtime);
        if !probing {
            s.probes.insert(
                pid,
                PendingProbe {
                    send: id,
                    peer: runtime,
                    deadline: now.plus_ms(timeout),
                },
            );
            self.scope_frame(
                runtime,
                Frame::ScopeProbe(ScopeProbe {
                    id: pid,
                    pong: false,
                }),
            );
        }
        Outcome::Waiting
    }

    fn cast_for(&mut self, id: u64, engine: EngineAddr) -> Outcome {
        let Some(ps) = self.scopes.as_ref().and_then(|s| s.sends.get(&id)) else {
            return Outcome::Abort;
        };
        let (from, payload) = (ps.from, ps.payload.clone());
        match self.cast(from, engine, payload) {
            Ok(()) => Outcome::Sent,
            Err(SendError::NotLocal(_)) => Outcome::Abort,
            Err(_) => Outcome::Unreachable,
        }
    }

    /// A probe frame from `peer`: a ping is answered (within the per-peer
    /// limit), a pong settles the engines waiting on it.
    pub(in crate::transport) fn on_scope_probe(&mut self, peer: NodeId, p: ScopeProbe) {
        if !p.pong {
            if self.scope_allow(peer, false) {
                self.scope_frame(
                    peer,
                    Frame::ScopeProbe(ScopeProbe {
                        id: p.id,
                        pong: true,
                    }),
                );
            } else {
                self.stats.scopes.limited += 1;
            }
            return;
        }
        let Some(probe) = self.scopes.as_mut().and_then(|s| {
            let ok = s.probes.get(&p.id).is_some_and(|x| x.peer == peer);
            if ok {
                s.probes.remove(&p.id)
            } else {
                None
            }
        }) else {
            self.stats.scopes.unexpected += 1;
            return;
        };
        self.settle(probe.send, peer, true);
    }

    /// Settles the engines of send `id` waiting on `runtime`: after a pong
    /// (`answered`) by what is known of its engines, else as unreachable.
    fn settle(&mut self, id: u64, runtime: NodeId, answered: bool) {
        let Some(ps) = self.scopes.as_mut().and_then(|s| s.sends.get_mut(&id)) else {
            return;
        };
        let engines: Vec<EngineAddr> = ps
            .waiting
            .iter()
            .filter(|(_, r)| **r == runtime)
            .map(|(e, _)| *e)
            .collect();
        for e in &engines {
            ps.waiting.remove(e);
        }
        for e in engines {
            let o = if !answered {
                Outcome::Unreachable
            } else if self.hosted_by(e, runtime)
                && self.proxies.get(&e).is_some_and(|p| p.reach == Reach::Up)
            {
                self.cast_for(id, e)
            } else {
                Outcome::Gone
            };
            if !self.record(id, e, o) {
                return;
            }
        }
        self.send_next(id);
    }

    /// Probes waiting on `peer` (or overdue at `now`) fail.
    pub(super) fn probes_failed(&mut self, peer: Option<NodeId>, now: Time) {
        let Some(s) = self.scopes.as_mut() else {
            return;
        };
        let hit: Vec<(u64, PendingProbe)> = s
            .probes
            .iter()
            .filter(|(_, p)| peer.map_or(p.deadline <= now, |n| p.peer == n))
            .map(|(&k, &p)| (k, p))
            .collect();
        for (k, _) in &hit {
            s.probes.remove(k);
        }
        for (_, p) in hit {
            self.settle(p.send, p.peer, false);
        }
    }
}
