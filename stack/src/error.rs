//! Errors: [`ConfigError`] for a bad [`crate::StackConfig`], and [`Error`],
//! the detail behind every [`std::io::Error`] the sockets return.
//!
//! Socket operations return `io::Error` so that they compose with tokio and
//! std (`?` into `io::Result`, [`std::io::ErrorKind`] matching); the
//! [`Error`] inside says what happened and can be had back with
//! `io_error.get_ref().and_then(|e| e.downcast_ref::<Error>())`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A [`crate::StackConfig`] field out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size or count outside its limits.
    #[error("{field} is {value}, outside {min}..={max}")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: usize,
        /// The smallest value accepted.
        min: usize,
        /// The largest value accepted.
        max: usize,
    },
    /// A timeout of zero.
    #[error("{field} must be longer than zero")]
    ZeroTimeout {
        /// The field's name.
        field: &'static str,
    },
}

/// Why a socket operation failed; carried inside the returned `io::Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The stack task is not running (never spawned, or ended).
    #[error("the stack task is not running")]
    StackStopped,
    /// The remote host answered the SYN with RST, or an ICMP port or
    /// protocol unreachable (ICMPv6 port unreachable) came back: nothing
    /// listens there.
    #[error("connection to {remote} refused")]
    ConnectionRefused {
        /// Whom we tried to reach.
        remote: SocketAddr,
    },
    /// An ICMP or ICMPv6 Destination Unreachable came back for the SYN: no
    /// member of the overlay owns the address, or the path to it is
    /// closed. See the crate docs for the codes.
    #[error("{remote} is unreachable (reported by {reporter})")]
    HostUnreachable {
        /// Whom we tried to reach.
        remote: SocketAddr,
        /// Who sent the Destination Unreachable.
        reporter: IpAddr,
    },
    /// The handshake did not complete in time.
    #[error("no answer from {remote} within {timeout:?}")]
    ConnectTimeout {
        /// Whom we tried to reach.
        remote: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// No echo reply came back in time.
    #[error("no echo reply from {remote} within {timeout:?}")]
    PingTimeout {
        /// Whom we pinged.
        remote: IpAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// Another socket of the stack holds the port.
    #[error("port {port} is already in use")]
    PortInUse {
        /// The port asked for.
        port: u16,
    },
    /// Port 0 where a real port is needed.
    #[error("port 0 cannot be listened on")]
    ZeroPort,
    /// Every ephemeral port is taken.
    #[error("no free ephemeral port")]
    NoFreePort,
    /// An unspecified, multicast or broadcast address, a port of 0, or an
    /// address of our own.
    #[error("{addr} cannot be a destination")]
    InvalidDestination {
        /// The destination given.
        addr: IpAddr,
    },
    /// The budget for socket buffers ([`crate::StackConfig::memory_limit`])
    /// has no room for another socket.
    #[error("the TCP sockets' memory budget of {limit} bytes is in use: close connections or raise memory_limit")]
    OutOfSocketMemory {
        /// The budget, in bytes.
        limit: usize,
    },
    /// A datagram or echo payload larger than the MTU allows.
    #[error("{len} bytes exceed the {max}-byte limit")]
    TooLarge {
        /// The size given.
        len: usize,
        /// The largest size that fits the MTU.
        max: usize,
    },
}

impl Error {
    /// The [`io::ErrorKind`] this error maps to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::StackStopped => io::ErrorKind::NotConnected,
            Error::ConnectionRefused { .. } => io::ErrorKind::ConnectionRefused,
            Error::HostUnreachable { .. } => io::ErrorKind::HostUnreachable,
            Error::ConnectTimeout { .. } | Error::PingTimeout { .. } => io::ErrorKind::TimedOut,
            Error::PortInUse { .. } | Error::NoFreePort => io::ErrorKind::AddrInUse,
            Error::OutOfSocketMemory { .. } => io::ErrorKind::OutOfMemory,
            Error::ZeroPort | Error::InvalidDestination { .. } | Error::TooLarge { .. } => {
                io::ErrorKind::InvalidInput
            }
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(err.kind(), err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_kind_and_detail() {
        let remote: SocketAddr = "[fd00::1]:80".parse().expect("literal address");
        let io_err = io::Error::from(Error::ConnectionRefused { remote });
        assert_eq!(io_err.kind(), io::ErrorKind::ConnectionRefused);
        let inner = io_err
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("detail kept");
        assert_eq!(inner, &Error::ConnectionRefused { remote });
        assert_eq!(io_err.to_string(), "connection to [fd00::1]:80 refused");

        let reporter = "fd00::2".parse().expect("literal address");
        let io_err = io::Error::from(Error::HostUnreachable { remote, reporter });
        assert_eq!(io_err.kind(), io::ErrorKind::HostUnreachable);
        assert_eq!(
            io_err.to_string(),
            "[fd00::1]:80 is unreachable (reported by fd00::2)"
        );
    }
}
