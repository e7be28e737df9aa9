//! Tunables and per-peer limits.

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
        }
    }
}
