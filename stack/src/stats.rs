//! Counters: packets and bytes through the link, packets dropped by reason,
//! Destination Unreachable messages acted on or ignored, and the sockets the
//! stack holds.
//!
//! The stack task owns the counters and publishes a [`StackStats`] snapshot
//! through a `watch` channel at the end of every turn of its loop, so that
//! handles read them without sharing state with the task.

/// Why a packet from the node was dropped before it reached a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Not a well-formed IPv4 or IPv6 packet, or a transport header that does
    /// not fit it, or an invalid source address.
    Malformed,
    /// A header or transport checksum that does not match.
    BadChecksum,
    /// Addressed to someone other than this stack.
    NotLocal,
    /// A fragment, an IPv6 extension header, or a protocol other than TCP,
    /// UDP and ICMP.
    Unsupported,
    /// A SYN for a listener whose backlog is full.
    Backlog,
    /// A SYN from a peer that holds its share of the sockets' memory budget,
    /// or one that finds the budget full.
    Memory,
    /// An ICMP or ICMPv6 Destination Unreachable that does not quote a
    /// packet this stack sent: the quote is too short for an IP header and
    /// 8 bytes, is not from our address, or is from someone who may not
    /// report on it. Its checksum was valid (else
    /// [`DropReason::BadChecksum`]).
    BadIcmpError,
}

/// A snapshot of the stack's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackStats {
    /// Packets from the node that passed the checks and went to smoltcp.
    pub packets_in: u64,
    /// Bytes of those packets.
    pub bytes_in: u64,
    /// Packets handed to the node.
    pub packets_out: u64,
    /// Bytes of those packets.
    pub bytes_out: u64,
    /// Packets from the node dropped as [`DropReason::Malformed`].
    pub dropped_malformed: u64,
    /// Packets from the node dropped as [`DropReason::BadChecksum`].
    pub dropped_checksum: u64,
    /// Packets from the node dropped as [`DropReason::NotLocal`].
    pub dropped_not_local: u64,
    /// Packets from the node dropped as [`DropReason::Unsupported`].
    pub dropped_unsupported: u64,
    /// SYNs dropped as [`DropReason::Backlog`].
    pub dropped_backlog: u64,
    /// SYNs dropped as [`DropReason::Memory`].
    pub dropped_memory: u64,
    /// ICMP errors dropped as [`DropReason::BadIcmpError`].
    pub dropped_icmp_error: u64,
    /// Packets for the node dropped because it stopped reading them.
    pub dropped_outbound: u64,
    /// Datagrams dropped because a UDP socket's queue was full.
    pub dropped_udp: u64,
    /// Connection attempts failed at once by an ICMP or ICMPv6 Destination
    /// Unreachable (host unreachable, or refused for port unreachable).
    pub unreachable_failed_connects: u64,
    /// Valid Destination Unreachable messages that failed no attempt: about
    /// an established connection (a soft error, as for the kernel), a UDP
    /// datagram, a ping, a socket no longer connecting, or "fragmentation
    /// needed". They still count in [`StackStats::packets_in`].
    pub unreachable_ignored: u64,
    /// TCP sockets connecting, carrying a stream, or closing one.
    pub tcp_connections: usize,
    /// TCP sockets held by listeners: listening, handshaking, or established
    /// and waiting for `accept`.
    pub tcp_listening: usize,
    /// Bound UDP sockets.
    pub udp_sockets: usize,
    /// ICMP sockets of pings in flight.
    pub icmp_sockets: usize,
    /// Bytes of TCP socket buffers held now, within
    /// [`crate::StackConfig::memory_limit`].
    pub tcp_memory: usize,
}

impl StackStats {
    /// Packets from the node dropped for any reason.
    pub fn dropped_inbound(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_checksum
            + self.dropped_not_local
            + self.dropped_unsupported
            + self.dropped_backlog
            + self.dropped_memory
            + self.dropped_icmp_error
    }

    /// Sockets of every kind the stack holds.
    pub fn sockets(&self) -> usize {
        self.tcp_connections + self.tcp_listening + self.udp_sockets + self.icmp_sockets
    }

    /// Counts one dropped inbound packet.
    pub(crate) fn record_drop(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Malformed => &mut self.dropped_malformed,
            DropReason::BadChecksum => &mut self.dropped_checksum,
            DropReason::NotLocal => &mut self.dropped_not_local,
            DropReason::Unsupported => &mut self.dropped_unsupported,
            DropReason::Backlog => &mut self.dropped_backlog,
            DropReason::Memory => &mut self.dropped_memory,
            DropReason::BadIcmpError => &mut self.dropped_icmp_error,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_counter() {
        let mut stats = StackStats::default();
        for reason in [
            DropReason::Malformed,
            DropReason::BadChecksum,
            DropReason::NotLocal,
            DropReason::Unsupported,
            DropReason::Backlog,
            DropReason::Memory,
            DropReason::BadIcmpError,
        ] {
            stats.record_drop(reason);
        }
        assert_eq!(stats.dropped_malformed, 1);
        assert_eq!(stats.dropped_checksum, 1);
        assert_eq!(stats.dropped_not_local, 1);
        assert_eq!(stats.dropped_unsupported, 1);
        assert_eq!(stats.dropped_backlog, 1);
        assert_eq!(stats.dropped_memory, 1);
        assert_eq!(stats.dropped_icmp_error, 1);
        assert_eq!(stats.dropped_inbound(), 7);
    }
}
