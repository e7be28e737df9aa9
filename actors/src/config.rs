//! Tunables and per-peer limits.

use crate::scope::TrieLimits;

/// Settings of one node's transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Deliveries an engine's mailbox holds before it refuses more.
    pub mailbox_capacity: usize,
    /// Longest frame accepted on a stream (type byte and body).
    pub max_frame: usize,
    /// Lifetime of learn and host records; they are renewed at half of it.
    pub record_ttl_ms: u64,
    /// How far a pair offer's issue time may be from our clock.
    pub pair_max_skew_ms: u64,
    /// How long messages to an unknown address wait for its host record.
    pub resolve_timeout_ms: u64,
    /// Longest call timeout honoured (longer ones are cut to this).
    pub max_call_timeout_ms: u32,
    /// Foreign engines one peer may make us keep proxies for.
    pub max_proxies_per_peer: usize,
    /// Calls from one peer's engines that we hold open at once.
    pub max_inbound_calls_per_peer: usize,
    /// Subscriptions one peer's engines may hold on our engines.
    pub max_subscriptions_per_peer: usize,
    /// Messages queued for addresses being looked up or connected to.
    pub max_queued: usize,
    /// Calls our engines may have outstanding at once.
    pub max_pending_calls: usize,
    /// The network's root key for scopes (its ed25519 public key), from
    /// the network's configuration. `None`: scopes are off and every scope
    /// call fails with a clear error.
    pub scope_root: Option<[u8; 32]>,
    /// How long queriers may cache the answers this runtime gives.
    pub scope_cache_ms: u32,
    /// Lifetime of this runtime's registrations; they are renewed at half.
    pub scope_registration_ms: u64,
    /// How long one hop of a query (or a probe before sending) waits for
    /// its answer before the next candidate is tried.
    pub scope_query_timeout_ms: u64,
    /// Period of cluster upkeep: connections to the other members and the
    /// parent cluster, expiry, generation requests, retries.
    pub scope_maintain_ms: u64,
    /// Limits of every registration table and the query cache (records
    /// per service and scope, records in all, scopes in all).
    pub scope_limits: TrieLimits,
    /// Records kept waiting for their chain of creations.
    pub scope_max_pending: usize,
    /// Grants and capabilities kept for the clusters this runtime is in.
    pub scope_max_book: usize,
    /// Queries and sends in flight at once.
    pub scope_max_queries: usize,
    /// Scope frames waiting for a stream to one peer.
    pub scope_max_outbox: usize,
    /// Length of the window the per-peer limits below count in.
    pub scope_rate_window_ms: u64,
    /// Pushes taken from one peer (not a known cluster member) per window.
    pub scope_pushes_per_peer: u32,
    /// Queries and probes answered for one peer per window.
    pub scope_queries_per_peer: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mailbox_capacity: 1024,
            max_frame: 1 << 20,
            record_ttl_ms: 10 * 60 * 1000,
            pair_max_skew_ms: 5 * 60 * 1000,
            resolve_timeout_ms: 5_000,
            max_call_timeout_ms: 5 * 60 * 1000,
            max_proxies_per_peer: 10_000,
            max_inbound_calls_per_peer: 4096,
            max_subscriptions_per_peer: 4096,
            max_queued: 4096,
            max_pending_calls: 65_536,
            scope_root: None,
            scope_cache_ms: 30_000,
            scope_registration_ms: 10 * 60 * 1000,
            scope_query_timeout_ms: 3_000,
            scope_maintain_ms: 5_000,
            scope_limits: TrieLimits::default(),
            scope_max_pending: 1024,
            scope_max_book: 4096,
            scope_max_queries: 1024,
            scope_max_outbox: 256,
            scope_rate_window_ms: 10_000,
            scope_pushes_per_peer: 1024,
            scope_queries_per_peer: 4096,
        }
    }
}
