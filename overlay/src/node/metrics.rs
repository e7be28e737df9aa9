//! The node's counters and gauges in one plain snapshot, for the metrics
//! endpoint: the same sources as [`super::Status`], without the per-member
//! strings, so that taking one costs a pass over the member table and no
//! allocation per member.

use std::time::Instant;

use super::{
    DropCounters, HandshakeStats, LookupStats, NatBehaviour, Node, RecordStats, RelayStats,
    TrafficStats, TraversalStats, STREAM_IDS_FROM,
};

/// How many connected members each kind of path serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathCounts {
    /// Straight to the member over UDP (main or hole-punching socket).
    pub direct: u64,
    /// Through another member (relayed end to end).
    pub relayed: u64,
    /// Straight to the member over a TCP connection.
    pub tcp: u64,
}

/// The node's counters and gauges at one moment.
#[derive(Debug, Clone)]
pub struct NodeMetrics {
    /// Members in the table (known, connected or not).
    pub members: u64,
    /// Members with a usable session.
    pub sessions: u64,
    /// Connected members by the kind of path their traffic takes.
    pub paths: PathCounts,
    /// Dropped packets by reason.
    pub drops: DropCounters,
    /// Packets, datagrams and handshakes.
    pub traffic: TrafficStats,
    /// Handshake work done and avoided.
    pub handshakes: HandshakeStats,
    /// Hole punching.
    pub traversal: TraversalStats,
    /// Relaying for others and through others.
    pub relay: RelayStats,
    /// Lookups of members' addresses.
    pub lookups: LookupStats,
    /// Records kept and fetched.
    pub records: RecordStats,
    /// What the STUN samples say about the NAT's mapping.
    pub nat_mapping: NatBehaviour,
    /// Whether the gateway maps a port to the node (PCP, NAT-PMP, UPnP).
    pub port_mapped: bool,
    /// The network key's epoch (0 until the first rotation).
    pub key_epoch: u32,
}

impl NatBehaviour {
    /// Every behaviour, in display order.
    pub const ALL: [Self; 3] = [Self::EndpointIndependent, Self::Dependent, Self::Unknown];

    /// The name `tessel status` shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint_independent",
            Self::Dependent => "dependent",
            Self::Unknown => "unknown",
        }
    }
}

impl Node {
    /// The node's counters and gauges at `now`.
    pub fn metrics(&self, now: Instant) -> NodeMetrics {
        let mut paths = PathCounts::default();
        let mut members = 0;
        for p in self.peers.values() {
            members += 1;
            if !p.connected(now) {
                continue;
            }
            match (p.relay_hop, p.socket) {
                (Some(_), _) => paths.relayed += 1,
                (None, s) if s >= STREAM_IDS_FROM => paths.tcp += 1,
                (None, _) => paths.direct += 1,
            }
        }
        NodeMetrics {
            members,
            sessions: paths.direct + paths.relayed + paths.tcp,
            paths,
            drops: self.drops.clone(),
            traffic: self.traffic,
            handshakes: self.initiation_guard.cookies.stats,
            traversal: self.traversal.stats,
            relay: self.relay_stats(),
            lookups: self.lookup_stats(),
            records: self.record_stats(),
            nat_mapping: self.nat_mapping().behaviour,
            port_mapped: self.port_mapping.is_some(),
            key_epoch: self.network_key().epoch(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_status() {
        for b in NatBehaviour::ALL {
            let json = serde_json::to_value(b).unwrap();
            assert_eq!(json.as_str(), Some(b.name()));
        }
    }
}
