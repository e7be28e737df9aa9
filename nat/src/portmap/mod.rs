//! Port mapping: asking the home router (the default gateway) to forward
//! an external UDP port to the node's port, so that members outside reach
//! the node without hole punching.
//!
//! Three protocols, tried in this order:
//! - PCP (RFC 6887): [`pcp`] messages, the [`client`] state machine;
//! - NAT-PMP (RFC 6886): [`natpmp`] messages, the same [`client`];
//! - UPnP IGD (SSDP discovery, then SOAP over HTTP): [`upnp`].
//!
//! Everything here is sans-IO except the tokio shell ([`shell`], behind
//! the `tokio` feature), which finds the gateway ([`gateway`]), probes
//! which protocols it answers, keeps one mapping alive and publishes it.

pub mod client;
pub mod epoch;
pub mod error;
pub mod gateway;
pub mod natpmp;
pub mod pcp;
pub mod retransmit;
pub mod upnp;

#[cfg(test)]
mod client_tests;

#[cfg(feature = "tokio")]
pub mod shell;

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

pub use error::WireError;

/// A port-mapping protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Port Control Protocol (RFC 6887).
    Pcp,
    /// NAT Port Mapping Protocol (RFC 6886).
    NatPmp,
    /// UPnP Internet Gateway Device (WANIPConnection).
    Upnp,
}

impl Protocol {
    /// Every protocol, in the order they are tried.
    pub const ALL: [Protocol; 3] = [Protocol::Pcp, Protocol::NatPmp, Protocol::Upnp];

    /// The protocol's name as shown to users: `pcp`, `nat-pmp`, `upnp`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pcp => "pcp",
            Self::NatPmp => "nat-pmp",
            Self::Upnp => "upnp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A protocol name that is none of `pcp`, `nat-pmp`, `upnp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown port-mapping protocol `{0}` (expected pcp, nat-pmp or upnp)")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "pcp" => Ok(Self::Pcp),
            "nat-pmp" | "natpmp" | "pmp" => Ok(Self::NatPmp),
            "upnp" | "igd" => Ok(Self::Upnp),
            _ => Err(UnknownProtocol(s.to_owned())),
        }
    }
}

/// A mapping the gateway granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// How it was obtained.
    pub protocol: Protocol,
    /// The external address and port that reach the node's port.
    pub external: SocketAddr,
    /// How long the gateway keeps it without a renewal.
    pub lifetime: Duration,
}

/// Which protocols a gateway answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offered {
    /// A PCP server answered.
    pub pcp: bool,
    /// A NAT-PMP server answered.
    pub nat_pmp: bool,
    /// A UPnP IGD with a WANIPConnection (or WANPPPConnection) service
    /// answered discovery.
    pub upnp: bool,
}

impl Offered {
    /// Whether `protocol` was offered.
    pub fn has(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Pcp => self.pcp,
            Protocol::NatPmp => self.nat_pmp,
            Protocol::Upnp => self.upnp,
        }
    }

    /// The offered protocols, in the order they are tried.
    pub fn protocols(&self) -> Vec<Protocol> {
        Protocol::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.name().parse::<Protocol>().unwrap(), p);
        }
        assert!("socks".parse::<Protocol>().is_err());
    }

    #[test]
    fn offered_order() {
        let o = Offered {
            pcp: false,
            nat_pmp: true,
            upnp: true,
        };
        assert_eq!(o.protocols(), vec![Protocol::NatPmp, Protocol::Upnp]);
    }
}
