//! The simulator's errors.

use std::net::Ipv4Addr;

/// Why the simulator could not do what a scenario asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Every public IPv4 address of the documentation ranges is in use.
    #[error("the public IPv4 ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24: 762 addresses) are used up")]
    PublicV4Exhausted,
    /// The private range has no room for another LAN.
    #[error("198.18.0.0/15 has no free /26 for another LAN")]
    LansExhausted,
    /// A LAN has no free address.
    #[error("the LAN {subnet}/26 is full")]
    LanFull {
        /// The LAN's subnet.
        subnet: Ipv4Addr,
    },
}
