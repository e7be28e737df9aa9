//! Every constant of the stack in one place: defaults, bounds and header
//! sizes.

use std::time::Duration;

/// Default IP MTU: Tessel's interface MTU (1500 − 80 bytes of encapsulation).
pub const DEFAULT_MTU: usize = 1420;
/// Smallest MTU accepted: the IPv6 minimum (RFC 8200 §5).
pub const MIN_MTU: usize = 1280;
/// Largest MTU accepted.
pub const MAX_MTU: usize = 65535;

/// Default TCP socket buffer, each direction.
pub const DEFAULT_TCP_BUFFER: usize = 4 << 20;
/// Smallest TCP socket buffer accepted.
pub const MIN_TCP_BUFFER: usize = 4 << 10;
/// Largest TCP socket buffer: window scaling stops at a 1 GiB window
/// (RFC 7323 §2.3); smoltcp panics above it.
pub const MAX_TCP_BUFFER: usize = 1 << 30;

/// Default budget for the buffers of all TCP sockets together; see
/// [`crate::StackConfig::memory_limit`].
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Default buffer between a stream and its socket, each direction.
pub const DEFAULT_STREAM_BUFFER: usize = 256 << 10;
/// Smallest stream buffer accepted.
pub const MIN_STREAM_BUFFER: usize = 1 << 10;

/// Default number of connections a listener holds before the application
/// accepts them.
pub const DEFAULT_LISTEN_BACKLOG: usize = 128;
/// Largest listen backlog accepted.
pub const MAX_BACKLOG: usize = 4096;
/// Sockets a listener keeps in the LISTEN state ahead of any SYN; more are
/// added as SYNs arrive, up to the backlog.
pub const IDLE_LISTEN_SOCKETS: usize = 4;

/// Default time allowed for a TCP handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a dropped stream may take to close before it is aborted.
pub const DEFAULT_CLOSE_LINGER: Duration = Duration::from_secs(10);
/// Default delay before a lone ACK.
pub const DEFAULT_ACK_DELAY: Duration = Duration::from_millis(1);

/// Default capacity of each packet channel to and from the node.
pub const DEFAULT_LINK_QUEUE: usize = 1024;
/// Default datagrams queued per UDP socket, each direction.
pub const DEFAULT_UDP_QUEUE: usize = 256;

/// Capacity of the command channel from handles to the stack task.
pub const COMMAND_QUEUE: usize = 64;
/// Packets taken from the node per turn of the run loop before the sockets
/// are serviced.
pub const INBOUND_BATCH: usize = 256;
/// Packets the stack may hold for the node beyond what its channel takes;
/// beyond this smoltcp is told the device is busy and keeps its segments.
pub const OUTBOUND_BACKLOG: usize = 256;

/// First port of the ephemeral range (RFC 6335 §6).
pub const EPHEMERAL_FIRST: u16 = 49152;
/// Last port of the ephemeral range.
pub const EPHEMERAL_LAST: u16 = 65535;

/// Echo requests a ping socket holds at once.
pub const PING_QUEUE: usize = 4;

/// IPv4 header without options (RFC 791).
pub const IPV4_HEADER_LEN: usize = 20;
/// IPv6 fixed header (RFC 8200).
pub const IPV6_HEADER_LEN: usize = 40;
/// UDP header (RFC 768).
pub const UDP_HEADER_LEN: usize = 8;
/// ICMP and ICMPv6 echo header: type, code, checksum, identifier, sequence.
pub const ICMP_ECHO_HEADER_LEN: usize = 8;

/// The IP header length towards an address family.
pub const fn ip_header_len(ipv6: bool) -> usize {
    if ipv6 {
        IPV6_HEADER_LEN
    } else {
        IPV4_HEADER_LEN
    }
}
