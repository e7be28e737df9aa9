//! Protocol constants in one place. Timer values follow WireGuard's
//! (whitepaper §6.1, "Protocol & Cryptography"), adapted where noted.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Default UDP port of a node.
pub const DEFAULT_PORT: u16 = 9740;
/// Default name of the TUN interface.
pub const DEFAULT_INTERFACE: &str = "tessel0";

/// Outer IPv6 header (40) + UDP header (8) + data header (16) + AEAD tag (16).
pub const ENCAPSULATION_OVERHEAD: usize = 40 + 8 + 16 + 16;
/// TUN MTU: 1500 − 80, so encapsulated packets never fragment on a
/// 1500-byte path, over IPv6 or IPv4 (which has 20 bytes less header).
pub const TUN_MTU: usize = 1500 - ENCAPSULATION_OVERHEAD;
/// What a relayed path adds to a datagram: the relay frame's header (68)
/// and the hop session's data header and tag (16 + 16).
pub const RELAY_OVERHEAD: usize = 68 + 16 + 16;
/// Largest IP packet sent to a member through a relay: larger ones get a
/// Packet Too Big, so the host's path MTU toward that member drops to this.
pub const RELAYED_MTU: usize = TUN_MTU - RELAY_OVERHEAD;
/// Largest datagram the node reads or writes.
pub const MAX_DATAGRAM: usize = 65_535;

/// Start a new handshake once a session is this old (initiator side).
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
/// Never use a session older than this.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
/// Start a new handshake after this many messages on one session.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// Never send more than this many messages on one session.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// Retransmit an unanswered handshake initiation after this long (plus jitter).
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
/// The first retransmission of a round of initiations comes this soon: on
/// a lossy path a lost initiation or response then costs a second, not
/// [`REKEY_TIMEOUT`]; the rest back off from there.
pub const FIRST_RESEND: Duration = Duration::from_secs(1);
/// Maximum jitter added to handshake retransmissions.
pub const REKEY_TIMEOUT_JITTER_MS: u64 = 333;
/// Give up initiating to a peer after trying this long; retried on demand.
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
/// Send an empty keepalive if we received data but sent nothing for this long.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive that holds NAT mappings open even when idle (Tessel sends it to
/// every peer with a session, unlike WireGuard where it is opt-in).
pub const PERSISTENT_KEEPALIVE: Duration = Duration::from_secs(25);
/// How often a node re-announces the members it knows to each peer.
pub const GOSSIP_INTERVAL: Duration = Duration::from_secs(30);
/// Periodic gossip goes out on a grid of this step from the node's start,
/// so that a node gossiping with a hundred members wakes at most once a
/// step for it rather than once for each.
pub const GOSSIP_TICK: Duration = Duration::from_secs(1);
/// How often a node retries a bootstrap address whose key it does not know yet.
pub const HELLO_INTERVAL: Duration = Duration::from_secs(2);
/// Forget a known member that has not been reachable for this long.
pub const PEER_EXPIRY: Duration = Duration::from_secs(600);
/// Minimum spacing between handshake initiations that one peer may send us.
pub const MIN_INITIATION_INTERVAL: Duration = Duration::from_millis(50);
/// Packets queued for a peer while its handshake is in flight.
pub const MAX_QUEUED_PACKETS: usize = 32;
/// Members announced in one gossip message.
pub const MAX_GOSSIP_ENTRIES: usize = 24;
/// Bits of the sliding anti-replay window (RFC 6479).
pub const REPLAY_WINDOW_BITS: u64 = 2048;
/// Members a node keeps sessions with at all times (its bootstrap members
/// count on top). Others get a session on demand, when traffic needs one.
pub const MAX_NEIGHBOURS: usize = 8;
/// Bound on the neighbours a node keeps, counting those that give it a
/// contact at every distance (see `node/contacts.rs`).
pub const MAX_CONTACTS: usize = 12;
/// Bound on the members a node remembers.
pub const MAX_PEERS: usize = 4096;
/// Bound on the members a node remembers that it has never had a handshake
/// with (news from others, which a member could make up): such news never
/// displaces a verified member.
pub const MAX_SECOND_HAND: usize = 3072;

/// UDP port of LAN discovery: members send their beacons to the discovery
/// groups on this port (the overlay port stays for overlay traffic).
pub const LAN_DISCOVERY_PORT: u16 = 9741;
/// IPv4 group of LAN discovery: administratively scoped (RFC 2365), sent
/// with TTL 1 so that it never leaves the link.
pub const LAN_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 255, 97, 40);
/// IPv6 group of LAN discovery: link-local scope (`ff02::/16`).
pub const LAN_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x9740);
/// How often a node sends its LAN beacon (and once at start).
pub const LAN_BEACON_INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    #[test]
    fn mtu_arithmetic() {
        assert_eq!(super::TUN_MTU, 1420);
        assert_eq!(super::RELAYED_MTU, 1320);
    }
}
