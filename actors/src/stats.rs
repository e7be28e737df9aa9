//! Counters of what the transport did and dropped.

/// Counters; every dropped frame or message lands in exactly one drop counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received and parsed.
    pub frames_in: u64,
    /// Frames written.
    pub frames_out: u64,
    /// Frames that did not parse, or a stream whose framing broke.
    pub malformed: u64,
    /// Frames naming an engine that the sending node does not host, or
    /// carrying a bad signature.
    pub forged: u64,
    /// Messages for which no pair key is known on the stream.
    pub unauthenticated: u64,
    /// Messages whose MAC was wrong.
    pub bad_mac: u64,
    /// Messages or pair offers at or below the last accepted sequence or
    /// epoch.
    pub replayed: u64,
    /// Expired learn records, stale pair offers, name releases older than
    /// the claim.
    pub stale: u64,
    /// Messages for engines not on this node.
    pub unknown_destination: u64,
    /// Remote casts and events dropped because the mailbox was full.
    pub mailbox_full: u64,
    /// Casts that could not be delivered (unreachable or unknown engine).
    pub undeliverable: u64,
    /// Learns, calls or subscriptions refused by a per-peer limit.
    pub limited: u64,
    /// Responses with no pending call, events with no subscription.
    pub unexpected: u64,
    /// Events sent to remote subscribers.
    pub events_sent: u64,
    /// Events not sent to a remote subscriber because its filter failed.
    pub events_filtered: u64,
    /// Bytes written to streams.
    pub bytes_out: u64,
    /// What the scope hosting did, answered and refused.
    pub scopes: ScopeStats,
}

/// Counters of the scopes hosted in the transport (see
/// [`crate::Transport::scope_query`]). Scope frames that do not parse are
/// counted in [`Stats::malformed`] like every other frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeStats {
    /// Queries this runtime answered with runtimes.
    pub answered: u64,
    /// Queries this runtime answered with a redirect.
    pub redirected: u64,
    /// Queries this runtime denied (not allowed, or no such scope).
    pub denied: u64,
    /// Queries this runtime answered with no route (it is in no cluster,
    /// or knows none above).
    pub no_route: u64,
    /// Queries answered from this runtime's cache.
    pub cache_hits: u64,
    /// Query hops sent to other runtimes.
    pub hops_sent: u64,
    /// Hops that got no answer in time (the next candidate was tried).
    pub hop_timeouts: u64,
    /// Bytes of the query frames this runtime sent (its own queries'
    /// hops, frame header included).
    pub query_bytes_out: u64,
    /// Bytes of the answer frames this runtime got for its own queries'
    /// hops (frame header included).
    pub answer_bytes_in: u64,
    /// Queries of this runtime that found their answer.
    pub queries_done: u64,
    /// Queries of this runtime that failed, for any reason.
    pub queries_failed: u64,
    /// Of those, answers holding forged or mismatched registrations.
    pub answers_forged: u64,
    /// Of those, answers that did not parse (oversize ones included).
    pub answers_malformed: u64,
    /// Of those, redirect loops and hop limits.
    pub loops: u64,
    /// Pushes taken from other runtimes.
    pub pushes_in: u64,
    /// Pushes sent (placements, forwarding, syncs).
    pub pushes_out: u64,
    /// Pushes refused by the per-peer limit.
    pub pushes_refused: u64,
    /// Records in pushes that changed what this runtime holds.
    pub records_taken: u64,
    /// Records refused: unauthorised, expired, revoked, for a scope not
    /// held here, or over a limit.
    pub records_refused: u64,
    /// Records refused for a bad signature (forged).
    pub records_forged: u64,
    /// Records kept waiting for their chain of creations.
    pub records_pending: u64,
    /// Runtimes found gone (stream closed and not reopened).
    pub gone_detected: u64,
    /// Gone notices taken from cluster members.
    pub gone_taken: u64,
    /// Gone notices refused (not from a known cluster member).
    pub gone_refused: u64,
    /// Generation numbers this runtime assigned (as a root runtime).
    pub generations_assigned: u64,
    /// Generation records adopted for a cluster of this runtime.
    pub generations_adopted: u64,
    /// Payloads handed to engines by scope sends.
    pub sends_delivered: u64,
    /// Scope sends that reached no engine, or not all of them.
    pub sends_failed: u64,
    /// Queries, probes or frames dropped by a per-peer or size limit.
    pub limited: u64,
    /// Answers and pongs that matched nothing in flight.
    pub unexpected: u64,
}
