//! The scopes of this node's transport, driven from the control socket
//! (the `scope` command, [`crate::driver::scopes::request`]).
//!
//! - add, register, withdraw, list and forget are answered at once;
//! - a query or send is started and waits, with its deadline, for the
//!   transport's `Notice::ScopeAnswer`/`ScopeSent`; the answer carries the
//!   time from taking the request to the notice (`elapsed_us`). Sends come
//!   from an engine the daemon owns (started at the first send, kept
//!   running; whatever it is sent is dropped);
//! - the bootstrap runtimes are the configured ones plus the DNS ones
//!   (the remembered answer until a lookup succeeds); a query that finds
//!   nothing to start from wakes the DNS lookup;
//! - after every input the scope state is saved if it changed, and at exit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tessel_actors::scope::{QueryError, QueryKind, ScopePath};
use tessel_actors::{EngineAddr, Notice, Persistence, ScopeError, ScopeState};
use tokio::sync::mpsc;

use super::{actor_id, time, EngineHost, Input};
use crate::driver::bootstrap::{remember, remembered};
use crate::driver::clock;
use crate::driver::control::{Replier, Reply};
use crate::driver::scopes::dns::{DnsAnswer, DnsTask};
use crate::driver::scopes::request::ScopeRequest;
use crate::driver::scopes::{answer, state, ScopeOptions};
use crate::driver::state_dir::StateDir;

/// The answer to every scope request of a node without a root key.
const DISABLED: &str =
    "scopes are not enabled on this node: start the node with --scope-root tessel-owner-…";

/// A query or send waiting for its notice.
struct Waiter {
    reply: Replier,
    started: Instant,
    deadline: Instant,
    kind: QueryKind,
    scope: ScopePath,
    service: String,
}

/// The daemon's side of the scopes.
pub(super) struct ScopeSide {
    /// Bootstrap runtimes from the command line.
    configured: Vec<tessel_actors::NodeId>,
    /// The DNS name, if one is configured.
    dns_name: Option<String>,
    /// The root runtimes DNS (or the remembered answer) named.
    dns_roots: Vec<tessel_actors::NodeId>,
    dns: Option<DnsTask>,
    waiting: BTreeMap<u64, Waiter>,
    /// The engine scope sends come from.
    sender: Option<EngineAddr>,
    state: StateDir,
    saved: ScopeState,
}

impl ScopeSide {
    /// The scope side for `opts`; starts the DNS lookups if a name is set.
    pub(super) fn start(opts: &ScopeOptions, state: &StateDir, tx: mpsc::Sender<Input>) -> Self {
        let on = opts.root.is_some();
        let dns_roots = match (&opts.dns, on) {
            (Some(name), true) => remembered(state, name).iter().map(actor_id).collect(),
            _ => Vec::new(),
        };
        let dns = match (&opts.dns, on) {
            (Some(name), true) => Some(DnsTask::start(
                name.clone(),
                opts.dns_server,
                tx,
                Input::ScopeDns,
            )),
            _ => None,
        };
        Self {
            configured: opts.bootstrap.iter().map(actor_id).collect(),
            dns_name: opts.dns.clone(),
            dns_roots,
            dns,
            waiting: BTreeMap::new(),
            sender: None,
            state: state.clone(),
            saved: state::load(state),
        }
    }

    /// The configured and DNS bootstrap runtimes, without duplicates.
    fn bootstrap(&self) -> Vec<tessel_actors::NodeId> {
        let mut v = self.configured.clone();
        for r in &self.dns_roots {
            if !v.contains(r) {
                v.push(*r);
            }
        }
        v
    }

    /// The earliest deadline of a waiting request.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.values().map(|w| w.deadline).min()
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl EngineHost {
    /// Restores the saved scope state and sets the bootstrap runtimes
    /// (called once the transport exists).
    pub(super) fn scopes_begin(&mut self) {
        self.transport.restore_scope_state(self.scopes.saved);
        self.transport.set_scope_bootstrap(self.scopes.bootstrap());
        if let Some(name) = &self.scopes.dns_name {
            tracing::info!(
                name,
                remembered = self.scopes.dns_roots.len(),
                "scopes: looking the root runtimes up in DNS"
            );
        }
    }

    /// Carries out a `scope` control request (`op` and its fields).
    pub(crate) fn scope_request(&mut self, args: Map<String, Value>, reply: Replier) {
        let started = clock::now();
        let r = match ScopeRequest::from_args(&args) {
            Ok(r) => r,
            Err(e) => return reply.err(answer::refusal(e, "bad_request")),
        };
        if self.transport.scope_authority().is_none() {
            return reply.err(answer::refusal(DISABLED, "disabled"));
        }
        self.transport.set_time(time());
        match self.scope_op(r) {
            Op::Now(v) => reply.send(with_elapsed(v, started)),
            Op::Wait {
                id,
                timeout,
                kind,
                scope,
                service,
            } => {
                let w = Waiter {
                    reply,
                    started,
                    deadline: started + timeout,
                    kind,
                    scope,
                    service,
                };
                self.scopes.waiting.insert(id, w);
            }
        }
    }

    fn scope_op(&mut self, r: ScopeRequest) -> Op {
        match r {
            ScopeRequest::Add { record } => {
                let v = answer::record(&record);
                Op::now(
                    self.transport
                        .scope_add_record(record)
                        .map(|()| json!({ "record": v })),
                )
            }
            ScopeRequest::Register {
                scope,
                service,
                grant,
                engine,
            } => {
                if let Some(e) = engine.filter(|e| !self.transport.local_engines().any(|l| l == *e))
                {
                    let msg = format!("engine {e} does not run on this node");
                    return Op::Now(Err(answer::refusal(msg, "not_local")));
                }
                let v = json!({ "scope": scope.to_string(), "service": service });
                Op::now(
                    self.transport
                        .scope_register(scope, &service, engine, grant)
                        .map(|()| v),
                )
            }
            ScopeRequest::Withdraw { scope, service } => {
                let v = json!({ "scope": scope.to_string(), "service": service });
                Op::now(self.transport.scope_withdraw(&scope, &service).map(|()| v))
            }
            ScopeRequest::List => Op::now(Ok(self.scope_list())),
            ScopeRequest::Forget => {
                self.transport.scope_forget_cache();
                Op::now(Ok(json!({})))
            }
            ScopeRequest::Query {
                kind,
                scope,
                service,
                cred,
                timeout,
            } => {
                let id = self
                    .transport
                    .scope_query(kind, scope.clone(), &service, cred);
                Op::Wait {
                    id: id.0,
                    timeout,
                    kind,
                    scope,
                    service,
                }
            }
            ScopeRequest::Send {
                kind,
                scope,
                service,
                cred,
                payload,
                timeout,
            } => {
                let from = self.scope_sender();
                let id =
                    self.transport
                        .scope_send(from, kind, scope.clone(), &service, cred, payload);
                Op::Wait {
                    id: id.0,
                    timeout,
                    kind,
                    scope,
                    service,
                }
            }
        }
    }

    /// The engine scope sends come from, started at the first send.
    fn scope_sender(&mut self) -> EngineAddr {
        if let Some(e) = self
            .scopes
            .sender
            .filter(|e| self.transport.local_engines().any(|l| l == *e))
        {
            return e;
        }
        let e = self.transport.start_engine(Persistence::Ephemeral);
        tracing::debug!(engine = %e, "scopes: started the engine scope sends come from");
        self.scopes.sender = Some(e);
        e
    }

    /// This node's registrations, clusters, kept records and bootstrap
    /// runtimes.
    fn scope_list(&self) -> Value {
        let records: Vec<Value> = self.transport.scope_records().map(answer::record).collect();
        let bootstrap: Vec<String> = self
            .scopes
            .bootstrap()
            .iter()
            .map(answer::node_text)
            .collect();
        json!({
            "node": answer::node_text(&self.transport.node_id()),
            "registrations": answer::registrations(&self.transport.scope_registrations()),
            "clusters": answer::clusters(&self.transport.scope_clusters()),
            "records": records,
            "bootstrap": bootstrap,
            "dns": self.scopes.dns_name,
        })
    }

    /// A scope notice from the transport: answers the request waiting
    /// for it.
    pub(super) fn scope_notice(&mut self, n: Notice) {
        let (id, result) = match n {
            Notice::ScopeAnswer { id, result } => {
                if result == Err(QueryError::NoBootstrap) {
                    self.scope_no_bootstrap();
                }
                let now = time();
                let result = result
                    .map(|f| Found::Runtimes(f, now))
                    .map_err(ScopeError::Query);
                (id, result)
            }
            Notice::ScopeSent { id, result } => (id, result.map(Found::Engines)),
            _ => return,
        };
        let Some(w) = self.scopes.waiting.remove(&id.0) else {
            return;
        };
        let v = match result {
            Ok(Found::Runtimes(f, now)) => {
                Ok(object(answer::found(w.kind, &w.scope, &w.service, &f, now)))
            }
            Ok(Found::Engines(e)) => Ok(object(answer::sent(w.kind, &w.scope, &w.service, &e))),
            Err(e) => Err(answer::error(&e)),
        };
        w.reply.send(with_elapsed(v, w.started));
    }

    /// A query found no runtime to start from: look DNS up again soon.
    fn scope_no_bootstrap(&self) {
        match &self.scopes.dns {
            Some(d) => d.wake(),
            None if self.scopes.configured.is_empty() => tracing::warn!(
                "scopes: a query found no root runtime to ask; give one with --scope-bootstrap \
                 or --scope-bootstrap-dns"
            ),
            None => {}
        }
    }

    /// A DNS lookup ended: good answers are remembered and used; on a
    /// failure the last good one stays in use.
    pub(super) fn scope_dns(&mut self, a: DnsAnswer) {
        match a.result {
            Ok(roots) => {
                let ids: Vec<_> = roots.iter().map(actor_id).collect();
                if ids != self.scopes.dns_roots {
                    tracing::info!(
                        name = a.name,
                        roots = ids.len(),
                        "scopes: root runtimes from DNS"
                    );
                }
                if let Err(e) = remember(&self.scopes.state, &a.name, &roots) {
                    tracing::warn!(error = %e, "scopes: remembering the DNS answer");
                }
                self.scopes.dns_roots = ids;
                self.transport.set_time(time());
                self.transport.set_scope_bootstrap(self.scopes.bootstrap());
            }
            Err(e) if self.scopes.dns_roots.is_empty() => tracing::warn!(
                name = a.name, error = %e,
                "scopes: DNS bootstrap failed and no earlier answer is remembered; \
                 queries have no root runtime to start from unless --scope-bootstrap names one"
            ),
            Err(e) => tracing::warn!(
                name = a.name, error = %e, remembered = self.scopes.dns_roots.len(),
                "scopes: DNS bootstrap failed; using the last good answer"
            ),
        }
    }

    /// After every input: answers requests whose time is up, empties the
    /// sending engine's mailbox and saves the scope state if it changed.
    pub(super) fn scopes_drain(&mut self) {
        let now = clock::now();
        if self.scopes.next_deadline().is_some_and(|d| d <= now) {
            let late: Vec<u64> = self
                .scopes
                .waiting
                .iter()
                .filter(|(_, w)| w.deadline <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in late {
                if let Some(w) = self.scopes.waiting.remove(&id) {
                    let ms = w.deadline.duration_since(w.started).as_millis();
                    let e = answer::refusal(format!("no answer within {ms} ms"), "timeout");
                    w.reply.send(with_elapsed(Err(e), w.started));
                }
            }
        }
        if let Some(e) = self.scopes.sender {
            while self.transport.recv(e).is_some() {}
        }
        self.scope_save();
    }

    /// Saves the scope state if it changed.
    pub(super) fn scope_save(&mut self) {
        let s = self.transport.scope_state();
        if s == self.scopes.saved {
            return;
        }
        match state::save(&self.scopes.state, &s) {
            Ok(()) => self.scopes.saved = s,
            Err(e) => tracing::warn!(error = %e, "scopes: saving the scope state"),
        }
    }

    /// The scopes' part of `tessel status` (`null` when scopes are off).
    pub(super) fn scope_status(&self) -> Value {
        if self.transport.scope_authority().is_none() {
            return Value::Null;
        }
        let mut v = answer::stats(&self.transport.stats().scopes);
        v["clusters"] = json!(self.transport.scope_clusters().len());
        v["registrations"] = json!(self.transport.scope_registrations().len());
        v["bootstrap"] = json!(self.scopes.bootstrap().len());
        v
    }
}

/// `reply` with the time since `started` (`elapsed_us`), in its fields or
/// its error's.
fn with_elapsed(reply: Reply, started: Instant) -> Reply {
    let us = json!(micros(started));
    match reply {
        Ok(mut body) => {
            body.insert("elapsed_us".into(), us);
            Ok(body)
        }
        Err(e) => Err(e.detail("elapsed_us", us)),
    }
}

/// The fields of a JSON object (answers are objects; anything else is
/// kept under `value`).
fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => Map::from_iter([("value".to_owned(), other)]),
    }
}

/// What a request came to: an answer now, or a notice to wait for.
enum Op {
    Now(Reply),
    Wait {
        id: u64,
        timeout: Duration,
        kind: QueryKind,
        scope: ScopePath,
        service: String,
    },
}

impl Op {
    /// The answer of a scope call done at once.
    fn now(result: Result<Value, ScopeError>) -> Self {
        Self::Now(result.map(object).map_err(|e| answer::error(&e)))
    }
}

/// What a notice found.
enum Found {
    Runtimes(tessel_actors::ScopeFound, tessel_actors::Time),
    Engines(Vec<EngineAddr>),
}
