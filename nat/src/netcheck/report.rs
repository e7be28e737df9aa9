//! What a netcheck found.

use std::net::SocketAddr;

use serde::Serialize;

use super::{Filtering, MappingBehaviour, PortAllocation};

/// The result of a [`super::Netcheck`] run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Some reflector answered: UDP gets out and back.
    pub udp: bool,
    /// An IPv4 reflector answered.
    pub ipv4: bool,
    /// An IPv6 reflector answered; `None` if none was asked.
    pub ipv6: Option<bool>,
    /// Each reflector, in the order given.
    pub reflectors: Vec<ReflectorReport>,
    /// The distinct reflexive addresses of socket 0, in the order seen.
    pub reflexive_addresses: Vec<SocketAddr>,
    /// Mapping behaviour.
    pub mapping: MappingBehaviour,
    /// Port allocation.
    pub allocation: PortAllocation,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// Why the filtering is what it is, or why it is unknown.
    pub filtering_note: String,
    /// Whether a packet to our own reflexive address came back to us;
    /// `None` if not tested (no IPv4 reflexive address).
    pub hairpinning: Option<bool>,
    /// The reflector whose RFC 5780 alternate address was used, if any.
    pub rfc5780_reflector: Option<String>,
    /// Every reflexive address seen, for the curious.
    pub observations: Vec<ObservationReport>,
    /// Which port-mapping protocol the router offers (UPnP IGD, NAT-PMP,
    /// PCP); `None` until checked.
    pub port_mapping: Option<String>,
}

/// One reflector's answer to socket 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReflectorReport {
    /// Its label (e.g. `stun stun.example.net:3478` or `member tessel-node-…`).
    pub label: String,
    /// Its address.
    pub address: SocketAddr,
    /// Requests to it were keyed, and its answer verified.
    pub authenticated: bool,
    /// It answered.
    pub answered: bool,
    /// Where it saw us.
    pub mapped: Option<SocketAddr>,
    /// Round-trip time of the answered request, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Its RFC 5780 OTHER-ADDRESS, if it gave one.
    pub other_address: Option<SocketAddr>,
}

/// One reflexive address seen, as given to the classifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservationReport {
    /// Local socket index.
    pub socket: usize,
    /// Where the request went.
    pub destination: SocketAddr,
    /// Where it was seen coming from.
    pub mapped: SocketAddr,
}
