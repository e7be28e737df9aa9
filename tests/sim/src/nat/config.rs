//! What a NAT does, in RFC 4787's terms, and the usual named kinds.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which outbound flows share an external port (RFC 4787 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// One external port per internal endpoint, whatever the destination.
    EndpointIndependent,
    /// A new external port per destination IP address.
    AddressDependent,
    /// A new external port per destination IP address and port ("symmetric").
    AddressAndPortDependent,
}

/// Which inbound datagrams a mapping lets in (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Anyone may send to a mapped port ("full cone").
    EndpointIndependent,
    /// Only IP addresses that the internal endpoint sent to ("restricted cone").
    AddressDependent,
    /// Only IP address and port pairs that it sent to ("port-restricted cone").
    AddressAndPortDependent,
}

/// How a NAT picks the external port of a new mapping (RFC 4787 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allocation {
    /// The internal port if it is free; otherwise the next free one. With a
    /// destination-dependent mapping, one internal endpoint's mappings share
    /// its preserved port (as Linux does when the 5-tuples differ).
    Preserve,
    /// A counter that advances by `step` for every new mapping.
    Sequential {
        /// How far the counter moves per mapping.
        step: u16,
    },
    /// A uniformly random free port.
    Random,
}

/// The complete behaviour of a NAT box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// Port allocation.
    pub allocation: Allocation,
    /// A mapping (and each destination's permission) lapses this long after
    /// the last outbound datagram that used it; inbound traffic does not
    /// refresh it (RFC 4787 REQ-6).
    pub timeout: Duration,
    /// Whether a datagram from inside to the NAT's own external address is
    /// looped back in (RFC 4787 §6).
    pub hairpin: bool,
    /// Drop all UDP, both ways.
    pub udp_blocked: bool,
    /// Linux connection tracking (see [`NatKind::Linux`]): an inbound
    /// datagram that matches no mapping leaves an entry for its 5-tuple for
    /// [`CONNTRACK_UNREPLIED`], and a new outbound flow whose reply would
    /// match such an entry gets another, random, port.
    pub conntrack: bool,
}

/// UDP mapping timeout of the named kinds: RFC 4787 REQ-5's minimum.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long Linux keeps a UDP conntrack entry that saw no reply (the
/// `nf_conntrack_udp_timeout` default).
pub const CONNTRACK_UNREPLIED: Duration = Duration::from_secs(30);

/// The NAT kinds that tests and the matrix name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NatKind {
    /// Endpoint-independent mapping and filtering.
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering.
    RestrictedCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering.
    PortRestrictedCone,
    /// Address-and-port-dependent mapping and filtering, ports preserved
    /// (behaves like a port-restricted cone while ports do not collide).
    SymmetricPreserving,
    /// Address-and-port-dependent mapping and filtering, sequential ports.
    SymmetricSequential,
    /// Address-and-port-dependent mapping and filtering, random ports.
    SymmetricRandom,
    /// Drops all UDP.
    UdpBlocked,
    /// A carrier-grade NAT (RFC 6888): endpoint-independent mapping,
    /// address-and-port-dependent filtering, random ports, hairpinning.
    Carrier,
    /// A stock Linux home router: `MASQUERADE` on netfilter, modelled on how
    /// `nf_nat` and conntrack treat UDP.
    ///
    /// * Every flow (internal endpoint, remote endpoint) is its own
    ///   conntrack entry, so the mapping is per destination; but the source
    ///   port is kept whenever the resulting 5-tuple is unique, so one
    ///   socket's flows share its port and look endpoint-independent from
    ///   outside.
    /// * Inbound, a datagram is forwarded only if it is the reply direction
    ///   of an entry: address-and-port-dependent filtering, because nothing
    ///   else maps to the LAN (no port forwards, no hairpin rules).
    /// * A datagram that matches no entry goes to the router's own input
    ///   path, which accepts it (no firewall beyond conntrack); conntrack
    ///   then holds an entry for it, unreplied, for
    ///   [`CONNTRACK_UNREPLIED`] after its last datagram.
    /// * The port clash: a new outbound flow toward remote endpoint R whose
    ///   preserved port P would give the reply tuple (R → P) of such an
    ///   entry (typically: the peer's punch arrived before our own first
    ///   datagram to it) cannot keep P; `nf_nat` picks another port at a
    ///   random offset in 1024–65535, the first whose tuple is unique.
    ///
    /// Simplifications: the outbound flows lapse after the NAT's `timeout`
    /// (inbound replies do not refresh them, as for the other kinds), and
    /// two internal hosts never share an external port (Linux lets them
    /// when their remote endpoints differ).
    Linux,
}

impl NatKind {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::FullCone,
        Self::RestrictedCone,
        Self::PortRestrictedCone,
        Self::SymmetricPreserving,
        Self::SymmetricSequential,
        Self::SymmetricRandom,
        Self::UdpBlocked,
        Self::Carrier,
        Self::Linux,
    ];

    /// The kind's behaviour, with [`DEFAULT_TIMEOUT`] and hairpinning on
    /// (but for [`NatKind::Linux`]).
    pub fn config(self) -> NatConfig {
        use Allocation::*;
        let (mapping, filtering, allocation) = match self {
            Self::FullCone => (
                Mapping::EndpointIndependent,
                Filtering::EndpointIndependent,
                Preserve,
            ),
            Self::RestrictedCone => (
                Mapping::EndpointIndependent,
                Filtering::AddressDependent,
                Preserve,
            ),
            Self::PortRestrictedCone | Self::UdpBlocked => (
                Mapping::EndpointIndependent,
                Filtering::AddressAndPortDependent,
                Preserve,
            ),
            Self::SymmetricPreserving | Self::Linux => (
                Mapping::AddressAndPortDependent,
                Filtering::AddressAndPortDependent,
                Preserve,
            ),
            Self::SymmetricSequential => (
                Mapping::AddressAndPortDependent,
                Filtering::AddressAndPortDependent,
                Sequential { step: 1 },
            ),
            Self::SymmetricRandom => (
                Mapping::AddressAndPortDependent,
                Filtering::AddressAndPortDependent,
                Random,
            ),
            Self::Carrier => (
                Mapping::EndpointIndependent,
                Filtering::AddressAndPortDependent,
                Random,
            ),
        };
        NatConfig {
            mapping,
            filtering,
            allocation,
            timeout: DEFAULT_TIMEOUT,
            hairpin: self != Self::Linux,
            udp_blocked: self == Self::UdpBlocked,
            conntrack: self == Self::Linux,
        }
    }

    /// The kind's name in test names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::FullCone => "full_cone",
            Self::RestrictedCone => "restricted_cone",
            Self::PortRestrictedCone => "port_restricted",
            Self::SymmetricPreserving => "symmetric_preserving",
            Self::SymmetricSequential => "symmetric_sequential",
            Self::SymmetricRandom => "symmetric_random",
            Self::UdpBlocked => "udp_blocked",
            Self::Carrier => "carrier",
            Self::Linux => "linux",
        }
    }
}

impl fmt::Display for NatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A NAT kind name that is not one of [`NatKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown NAT kind `{0}` (known: full_cone, restricted_cone, port_restricted, symmetric_preserving, symmetric_sequential, symmetric_random, udp_blocked, carrier, linux)")]
pub struct UnknownNatKind(pub String);

impl FromStr for NatKind {
    type Err = UnknownNatKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownNatKind(s.to_string()))
    }
}
