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
}
