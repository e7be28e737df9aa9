//! Running totals of what crosses the node: overlay IP packets to and from
//! members, the datagrams of their sessions, and handshakes. Unlike the
//! per-member byte counts of `tessel status`, they never go down when a
//! member leaves the table (the metrics endpoint exports them as counters).

use serde::{Deserialize, Serialize};

/// Totals since the node started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficStats {
    /// IP packets from the interface sent to members (encrypted on a session).
    pub packets_sent: u64,
    /// Bytes of those IP packets.
    pub packet_bytes_sent: u64,
    /// IP packets from members handed to the interface.
    pub packets_received: u64,
    /// Bytes of those IP packets.
    pub packet_bytes_received: u64,
    /// Datagrams sent to members: session messages and handshake
    /// initiations (the sum of the members' `tx_bytes` counts them).
    pub datagrams_sent: u64,
    /// Bytes of those datagrams.
    pub datagram_bytes_sent: u64,
    /// Session messages from members that authenticated.
    pub datagrams_received: u64,
    /// Bytes of those datagrams.
    pub datagram_bytes_received: u64,
    /// Handshake initiations sent (first attempts and retries).
    pub handshakes_initiated: u64,
    /// Handshakes completed, as initiator or responder (sessions installed).
    pub handshakes_completed: u64,
}

impl TrafficStats {
    /// Counts a datagram of `len` bytes sent to a member.
    pub(crate) fn datagram_sent(&mut self, len: usize) {
        self.datagrams_sent += 1;
        self.datagram_bytes_sent += len as u64;
    }

    /// Counts an authenticated datagram of `len` bytes from a member.
    pub(crate) fn datagram_received(&mut self, len: usize) {
        self.datagrams_received += 1;
        self.datagram_bytes_received += len as u64;
    }

    /// Counts an IP packet of `len` bytes sent to a member.
    pub(crate) fn packet_sent(&mut self, len: usize) {
        self.packets_sent += 1;
        self.packet_bytes_sent += len as u64;
    }

    /// Counts an IP packet of `len` bytes from a member.
    pub(crate) fn packet_received(&mut self, len: usize) {
        self.packets_received += 1;
        self.packet_bytes_received += len as u64;
    }
}
