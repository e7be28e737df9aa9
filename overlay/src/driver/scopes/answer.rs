//! The JSON answers of the scope requests ([`super::request`]): what a
//! query found, what a send reached, why either failed (an error of the
//! control API with a scope `code` the CLI turns into advice), this node's
//! registrations and clusters, and the counters for `tessel status`.
//!
//! Node IDs are in their text form (`tessel-node-…`), engines in hex,
//! times in Unix milliseconds; `elapsed_us` is the time the daemon measured
//! from taking the request to having the answer.

use serde_json::{json, Value};
use tessel_actors::scope::hosting::{ClusterInfo, RegistrationInfo};
use tessel_actors::scope::{Body, QueryError, QueryKind, Record, ScopePath};
use tessel_actors::{EngineAddr, NodeId, ScopeError, ScopeFound, ScopeStats, Time};

use super::request::kind_name;
use crate::driver::control::ApiError;

/// A node ID as `tessel-node-…` (hex if it is no valid key).
pub fn node_text(n: &NodeId) -> String {
    crate::identity::NodeId::from_bytes(n.0).map_or_else(|_| n.to_string(), |id| id.to_string())
}

/// A short code naming why a scope call failed.
pub fn error_code(e: &ScopeError) -> &'static str {
    match e {
        ScopeError::Disabled => "disabled",
        ScopeError::Auth(_) | ScopeError::WrongKind | ScopeError::GrantMismatch => "refused",
        ScopeError::InvalidService => "invalid",
        ScopeError::Full => "full",
        ScopeError::NotRegistered => "not_registered",
        ScopeError::NotLocal(_) => "not_local",
        ScopeError::Query(q) => match q {
            QueryError::Denied => "denied",
            QueryError::HopLimit(_) | QueryError::Loop(_) => "loop",
            QueryError::NoBootstrap => "no_bootstrap",
            QueryError::Unreachable => "unreachable",
            QueryError::NoRoute => "no_route",
            _ => "bad_answer",
        },
        ScopeError::NoCluster => "no_cluster",
        ScopeError::NoRuntime => "no_runtime",
        ScopeError::NoEngine => "no_engine",
        ScopeError::Undelivered { .. } => "undelivered",
        ScopeError::Unreachable => "unreachable",
        _ => "failed",
    }
}

/// The error answer for a failed scope call.
pub fn error(e: &ScopeError) -> ApiError {
    let error = ApiError::with_code(error_code(e), e.to_string());
    match e {
        ScopeError::Undelivered {
            sent,
            gone,
            unreachable,
        } => error
            .detail("engines", engines(sent))
            .detail("gone", engines(gone))
            .detail("unreachable", engines(unreachable)),
        _ => error,
    }
}

/// The error answer for a request that failed before it reached the
/// transport.
pub fn refusal(message: impl std::fmt::Display, code: &str) -> ApiError {
    ApiError::with_code(code, message.to_string())
}

fn engines(e: &[EngineAddr]) -> Value {
    json!(e.iter().map(ToString::to_string).collect::<Vec<_>>())
}

/// What a query found.
pub fn found(
    kind: QueryKind,
    scope: &ScopePath,
    service: &str,
    f: &ScopeFound,
    now: Time,
) -> Value {
    let runtimes: Vec<Value> = f
        .runtimes
        .iter()
        .map(|r| {
            json!({
                "scope": r.scope.to_string(),
                "node": node_text(&r.entry.runtime),
                "engine": r.entry.engine.map(|e| e.to_string()),
                "expires": r.entry.expires.0,
                "expires_in_ms": r.entry.expires.0.saturating_sub(now.0),
            })
        })
        .collect();
    let trail: Vec<Value> = f
        .trail
        .iter()
        .map(|h| {
            json!({
                "asked": node_text(&h.asked),
                "redirect": h.redirect.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    json!({
        "kind": kind_name(kind),
        "scope": scope.to_string(),
        "service": service,
        "cached": f.cached,
        "runtimes": runtimes,
        "trail": trail,
    })
}

/// The engines a send reached.
pub fn sent(kind: QueryKind, scope: &ScopePath, service: &str, reached: &[EngineAddr]) -> Value {
    json!({
        "kind": kind_name(kind),
        "scope": scope.to_string(),
        "service": service,
        "engines": engines(reached),
    })
}

/// This node's registrations, with where each was placed.
pub fn registrations(regs: &[RegistrationInfo]) -> Value {
    let v: Vec<Value> = regs
        .iter()
        .map(|r| {
            json!({
                "scope": r.scope.to_string(),
                "service": r.service,
                "engine": r.engine.map(|e| e.to_string()),
                "issued": r.issued.0,
                "expires": r.expires.0,
                "next": r.next.0,
                "placed": r.placed.as_ref().map(|p| json!({
                    "cluster": p.cluster.to_string(),
                    "via": node_text(&p.via),
                    "at": p.at.0,
                })),
                "error": r.error.as_ref().map(ToString::to_string),
            })
        })
        .collect();
    json!(v)
}

fn members(m: &[NodeId]) -> Value {
    json!(m.iter().map(node_text).collect::<Vec<_>>())
}

/// The clusters this node is a member of.
pub fn clusters(cs: &[ClusterInfo]) -> Value {
    let v: Vec<Value> = cs
        .iter()
        .map(|c| {
            json!({
                "scope": c.scope.to_string(),
                "generation": c.generation.map(|g| g.to_string()),
                "members": members(&c.members),
                "parent": c.parent.as_ref().map(|(s, m)| json!({ "scope": s.to_string(), "members": members(m) })),
                "children": c.children.iter().map(|(s, m)| json!({ "scope": s.to_string(), "members": members(m) })).collect::<Vec<_>>(),
                "held": c.held,
            })
        })
        .collect();
    json!(v)
}

/// A record, briefly: kind, id, scope, whom it is for (the owner of a
/// creation) and expiry.
pub fn record(r: &Record) -> Value {
    let hex: String = r.id().iter().map(|b| format!("{b:02x}")).collect();
    let (scope, who, expires) = match &r.body {
        Body::HostingGrant {
            scope,
            runtime,
            expires,
        }
        | Body::ReadGrant {
            scope,
            member: runtime,
            expires,
        } => (Some(scope), Some(node_text(runtime)), Some(expires.0)),
        Body::ReadCap {
            scope,
            holder,
            expires,
        } => (
            Some(scope),
            Some(if *holder == [0; 32] {
                "bearer".to_owned()
            } else {
                node_text(&NodeId(*holder))
            }),
            Some(expires.0),
        ),
        Body::ScopeCreate { path, owner, .. } => (
            Some(path),
            Some(crate::identity::OwnerId::from_bytes(*owner).map_or_else(
                |_| owner.iter().map(|b| format!("{b:02x}")).collect(),
                |o| o.to_string(),
            )),
            None,
        ),
        _ => (None, None, None),
    };
    json!({
        "kind": format!("{:?}", r.body.kind()),
        "id": hex,
        "scope": scope.map(ToString::to_string),
        "for": who,
        "expires": expires,
    })
}

/// The scope counters, for `tessel status`.
pub fn stats(s: &ScopeStats) -> Value {
    json!({
        "answered": s.answered,
        "redirected": s.redirected,
        "denied": s.denied,
        "no_route": s.no_route,
        "cache_hits": s.cache_hits,
        "hops_sent": s.hops_sent,
        "hop_timeouts": s.hop_timeouts,
        "query_bytes_out": s.query_bytes_out,
        "answer_bytes_in": s.answer_bytes_in,
        "queries_done": s.queries_done,
        "queries_failed": s.queries_failed,
        "answers_forged": s.answers_forged,
        "answers_malformed": s.answers_malformed,
        "loops": s.loops,
        "pushes_in": s.pushes_in,
        "pushes_out": s.pushes_out,
        "pushes_refused": s.pushes_refused,
        "records_taken": s.records_taken,
        "records_refused": s.records_refused,
        "records_forged": s.records_forged,
        "records_pending": s.records_pending,
        "gone_detected": s.gone_detected,
        "gone_taken": s.gone_taken,
        "gone_refused": s.gone_refused,
        "generations_assigned": s.generations_assigned,
        "generations_adopted": s.generations_adopted,
        "sends_delivered": s.sends_delivered,
        "sends_failed": s.sends_failed,
        "limited": s.limited,
        "unexpected": s.unexpected,
    })
}
