//! The stack's configuration: its two overlay addresses, the MTU, buffer
//! sizes and timeouts.
//!
//! [`StackConfig::new`] fills in defaults suited to the overlay (MTU 1420,
//! 4 MiB TCP buffers); every field is public so that callers can adjust one
//! before passing it to [`crate::new`]. [`StackConfig::validate`] says what is
//! out of range.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::error::ConfigError;
use crate::limits;

/// Configuration of one userspace stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    /// The stack's overlay IPv6 address.
    pub ipv6: Ipv6Addr,
    /// The stack's overlay IPv4 address.
    pub ipv4: Ipv4Addr,
    /// The IP MTU of the link to the node, in bytes (at least 1280).
    pub mtu: usize,
    /// Size of each TCP socket's receive and send buffers, in bytes. The
    /// receive buffer sets the advertised window (with window scaling), so it
    /// bounds throughput at `tcp_buffer / RTT`.
    pub tcp_buffer: usize,
    /// Bytes buffered between a [`crate::TcpStream`] and its socket, in each
    /// direction, on top of `tcp_buffer`.
    pub stream_buffer: usize,
    /// Bytes that the buffers of all TCP sockets together may take (smoltcp's
    /// and the streams'); a single peer may hold half of it. As it
    /// fills, new sockets get smaller buffers; when even the smallest do not
    /// fit, SYNs are dropped (and counted) and connects fail with
    /// [`crate::Error::OutOfSocketMemory`]. So no peer can pin more memory by
    /// opening connections to an exposed port.
    pub memory_limit: usize,
    /// Connections a [`crate::TcpListener`] holds that the application has not
    /// accepted yet, handshaking or established. A SYN beyond this is dropped
    /// (and counted), so the client retries.
    pub listen_backlog: usize,
    /// How long [`crate::StackHandle::tcp_connect`] waits for the handshake.
    pub connect_timeout: Duration,
    /// How long a dropped [`crate::TcpStream`] may take to deliver what it
    /// had buffered and close with FIN before it is aborted with RST.
    pub close_linger: Duration,
    /// Delay before a lone ACK is sent (`None`: acknowledge at once). Full
    /// segments are acknowledged at once either way.
    pub ack_delay: Option<Duration>,
    /// Whether TCP sockets use Nagle's algorithm (off: small writes go out at
    /// once, for interactive use).
    pub nagle: bool,
    /// Capacity, in packets, of each [`crate::PacketLink`] channel.
    pub link_queue: usize,
    /// Datagrams queued per [`crate::UdpSocket`] in each direction; received
    /// datagrams beyond this are dropped and counted.
    pub udp_queue: usize,
}

/// Buffer sizes for the TCP sockets of one listener or connection, in place
/// of the stack's [`StackConfig::tcp_buffer`] and
/// [`StackConfig::stream_buffer`]: smaller ones for connections that carry
/// little (control channels), so that many of them hold little memory.
/// Each is clamped to the accepted range and to at most the stack's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpBuffers {
    /// Each direction of the socket's buffer, in bytes.
    pub tcp: usize,
    /// Each direction between the stream and its socket, in bytes.
    pub stream: usize,
}

impl StackConfig {
    /// This configuration with `buffers` (if any) for its TCP sockets.
    pub(crate) fn with_buffers(&self, buffers: Option<TcpBuffers>) -> Cow<'_, StackConfig> {
        match buffers {
            None => Cow::Borrowed(self),
            Some(b) => Cow::Owned(StackConfig {
                tcp_buffer: b.tcp.clamp(
                    limits::MIN_TCP_BUFFER,
                    self.tcp_buffer.max(limits::MIN_TCP_BUFFER),
                ),
                stream_buffer: b.stream.clamp(
                    limits::MIN_STREAM_BUFFER,
                    self.stream_buffer.max(limits::MIN_STREAM_BUFFER),
                ),
                ..self.clone()
            }),
        }
    }

    /// A configuration with the given addresses and the defaults: MTU 1420,
    /// 4 MiB TCP buffers within a 256 MiB budget, a backlog of 128, a 10 s connect timeout and a 10 s
    /// close linger, 1 ms ACK delay, Nagle off.
    pub fn new(ipv6: Ipv6Addr, ipv4: Ipv4Addr) -> Self {
        Self {
            ipv6,
            ipv4,
            mtu: limits::DEFAULT_MTU,
            tcp_buffer: limits::DEFAULT_TCP_BUFFER,
            stream_buffer: limits::DEFAULT_STREAM_BUFFER,
            memory_limit: limits::DEFAULT_MEMORY_LIMIT,
            listen_backlog: limits::DEFAULT_LISTEN_BACKLOG,
            connect_timeout: limits::DEFAULT_CONNECT_TIMEOUT,
            close_linger: limits::DEFAULT_CLOSE_LINGER,
            ack_delay: Some(limits::DEFAULT_ACK_DELAY),
            nagle: false,
            link_queue: limits::DEFAULT_LINK_QUEUE,
            udp_queue: limits::DEFAULT_UDP_QUEUE,
        }
    }

    /// Checks that every field is in range.
    ///
    /// # Errors
    ///
    /// The first field found out of range, with its limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check("mtu", self.mtu, limits::MIN_MTU, limits::MAX_MTU)?;
        check(
            "tcp_buffer",
            self.tcp_buffer,
            limits::MIN_TCP_BUFFER,
            limits::MAX_TCP_BUFFER,
        )?;
        check(
            "stream_buffer",
            self.stream_buffer,
            limits::MIN_STREAM_BUFFER,
            limits::MAX_TCP_BUFFER,
        )?;
        // Each peer's half of the budget holds at least one socket with
        // the smallest buffers.
        check(
            "memory_limit",
            self.memory_limit,
            2 * 2 * (limits::MIN_TCP_BUFFER + self.stream_buffer),
            usize::MAX,
        )?;
        check(
            "listen_backlog",
            self.listen_backlog,
            1,
            limits::MAX_BACKLOG,
        )?;
        check("link_queue", self.link_queue, 1, usize::MAX)?;
        check("udp_queue", self.udp_queue, 1, usize::MAX)?;
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout {
                field: "connect_timeout",
            });
        }
        Ok(())
    }

    /// The largest UDP payload that fits the MTU towards an address family.
    pub(crate) fn max_udp_payload(&self, ipv6: bool) -> usize {
        self.mtu - limits::ip_header_len(ipv6) - limits::UDP_HEADER_LEN
    }

    /// The largest ICMP echo payload that fits the MTU towards an address
    /// family.
    pub(crate) fn max_echo_payload(&self, ipv6: bool) -> usize {
        self.mtu - limits::ip_header_len(ipv6) - limits::ICMP_ECHO_HEADER_LEN
    }
}

fn check(field: &'static str, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StackConfig {
        StackConfig::new(Ipv6Addr::LOCALHOST, Ipv4Addr::LOCALHOST)
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(config().validate(), Ok(()));
        assert_eq!(config().mtu, 1420);
        assert_eq!(config().tcp_buffer, 4 << 20);
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let mut small_mtu = config();
        small_mtu.mtu = 1279;
        assert!(matches!(
            small_mtu.validate(),
            Err(ConfigError::OutOfRange { field: "mtu", .. })
        ));
        let mut huge_buffer = config();
        huge_buffer.tcp_buffer = (1 << 30) + 1;
        assert!(matches!(
            huge_buffer.validate(),
            Err(ConfigError::OutOfRange {
                field: "tcp_buffer",
                ..
            })
        ));
        let mut no_timeout = config();
        no_timeout.connect_timeout = Duration::ZERO;
        assert_eq!(
            no_timeout.validate(),
            Err(ConfigError::ZeroTimeout {
                field: "connect_timeout"
            })
        );
    }

    #[test]
    fn payload_limits_follow_the_mtu() {
        assert_eq!(config().max_udp_payload(true), 1420 - 40 - 8);
        assert_eq!(config().max_udp_payload(false), 1420 - 20 - 8);
        assert_eq!(config().max_echo_payload(false), 1420 - 20 - 8);
    }
}
