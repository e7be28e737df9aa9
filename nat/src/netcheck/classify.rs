//! The pure classifiers: mapping behaviour and port allocation from the
//! reflexive addresses seen, and filtering behaviour from which
//! CHANGE-REQUEST answers got through. [`super::Netcheck`] uses them, and
//! so does the node for the samples of its own periodic requests.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

/// Largest distance between successive external ports that still counts as
/// sequential allocation (other traffic through the NAT takes ports in
/// between).
pub const MAX_SEQUENTIAL_STEP: i32 = 16;

/// One reflexive address seen: from local socket `socket` (bound to
/// `local_port`, if known), a request to `destination` was seen coming from
/// `mapped`. Observations are given in the order their requests were first
/// sent, which is the order the NAT allocated its mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Which local socket sent the request.
    pub socket: usize,
    /// The local socket's port, if known.
    pub local_port: Option<u16>,
    /// Where the request went.
    pub destination: SocketAddr,
    /// Where the reflector saw it come from.
    pub mapped: SocketAddr,
}

/// How the NAT maps one internal endpoint (RFC 4787 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingBehaviour {
    /// The same external endpoint toward every destination.
    EndpointIndependent,
    /// A new external endpoint per destination address.
    AddressDependent,
    /// A new external endpoint per destination address and port.
    AddressAndPortDependent,
    /// Another endpoint per destination address; whether the port alone
    /// changes it is not known (no two destinations on one address).
    Dependent,
    /// Too few answers to tell.
    Unknown,
}

/// How the NAT picks external ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PortAllocation {
    /// The external port is the internal one.
    Preserved,
    /// Each new mapping takes the port `step` after the last one.
    Sequential {
        /// The distance between successive mappings' ports.
        step: i32,
    },
    /// No pattern.
    Random,
    /// Too few mappings to tell.
    Unknown,
}

/// Which unsolicited inbound packets the NAT lets through (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filtering {
    /// From anyone, once a mapping exists.
    EndpointIndependent,
    /// Only from addresses the internal endpoint sent to.
    AddressDependent,
    /// Only from the exact address and port it sent to.
    AddressAndPortDependent,
    /// Not tested: no reflector supports RFC 5780 CHANGE-REQUEST, or UDP
    /// does not get through.
    Unknown,
}

/// Mapping behaviour and port allocation together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// Mapping behaviour.
    pub behaviour: MappingBehaviour,
    /// Port allocation.
    pub allocation: PortAllocation,
}

/// Classifies the observations: those of IPv4 if there are any (IPv6
/// rarely has NAT, and mixing families would look like a dependent
/// mapping), else those of IPv6.
pub fn classify_mapping(observations: &[Observation]) -> Mapping {
    let v4 = observations.iter().any(|o| o.destination.is_ipv4());
    let obs: Vec<Observation> = observations
        .iter()
        .filter(|o| o.destination.is_ipv4() == v4 && o.mapped.is_ipv4() == v4)
        .copied()
        .collect();
    Mapping {
        behaviour: behaviour(&obs),
        allocation: allocation(&obs),
    }
}

fn behaviour(obs: &[Observation]) -> MappingBehaviour {
    let (mut same_other_ip, mut same_other_port) = (false, false);
    let (mut differs_other_ip, mut differs_other_port) = (false, false);
    for (i, a) in obs.iter().enumerate() {
        for b in &obs[i + 1..] {
            if a.socket != b.socket || a.destination == b.destination {
                continue;
            }
            let same_ip = a.destination.ip() == b.destination.ip();
            match (a.mapped == b.mapped, same_ip) {
                (true, false) => same_other_ip = true,
                (true, true) => same_other_port = true,
                (false, false) => differs_other_ip = true,
                (false, true) => differs_other_port = true,
            }
        }
    }
    if differs_other_port {
        MappingBehaviour::AddressAndPortDependent
    } else if differs_other_ip && same_other_port {
        MappingBehaviour::AddressDependent
    } else if differs_other_ip {
        MappingBehaviour::Dependent
    } else if same_other_ip {
        MappingBehaviour::EndpointIndependent
    } else {
        MappingBehaviour::Unknown
    }
}

fn allocation(obs: &[Observation]) -> PortAllocation {
    // Preserved: every socket whose port we know kept it in its first mapping.
    let mut firsts: Vec<&Observation> = Vec::new();
    for o in obs {
        if !firsts.iter().any(|f| f.socket == o.socket) {
            firsts.push(o);
        }
    }
    let known: Vec<&&Observation> = firsts.iter().filter(|f| f.local_port.is_some()).collect();
    if !known.is_empty() && known.iter().all(|f| f.local_port == Some(f.mapped.port())) {
        return PortAllocation::Preserved;
    }
    // The distinct external ports, in the order the mappings were made.
    let mut ports: Vec<u16> = Vec::new();
    for o in obs {
        if !ports.contains(&o.mapped.port()) {
            ports.push(o.mapped.port());
        }
    }
    if ports.len() < 2 {
        return PortAllocation::Unknown;
    }
    let steps: Vec<i32> = ports
        .windows(2)
        .map(|w| i32::from(w[1]) - i32::from(w[0]))
        .collect();
    let ascending = steps.iter().all(|s| (1..=MAX_SEQUENTIAL_STEP).contains(s));
    let descending = steps
        .iter()
        .all(|s| (-MAX_SEQUENTIAL_STEP..=-1).contains(s));
    if !(ascending || descending) {
        return PortAllocation::Random;
    }
    // The most common step (gaps are other traffic's mappings); the
    // smallest in magnitude on a tie.
    let mut best = (0usize, 0i32);
    for s in &steps {
        let n = steps.iter().filter(|t| *t == s).count();
        if n > best.0 || (n == best.0 && s.abs() < best.1.abs()) {
            best = (n, *s);
        }
    }
    PortAllocation::Sequential { step: best.1 }
}

/// Filtering from the outcomes of the two CHANGE-REQUEST tests (RFC 5780
/// §4.4): whether the answer from the other address and port got in, and
/// whether the answer from the same address but the other port did;
/// `None` for a test not made.
pub fn classify_filtering(other_address: Option<bool>, other_port: Option<bool>) -> Filtering {
    match (other_address, other_port) {
        (Some(true), _) => Filtering::EndpointIndependent,
        (Some(false), Some(true)) => Filtering::AddressDependent,
        (Some(false), Some(false)) => Filtering::AddressAndPortDependent,
        _ => Filtering::Unknown,
    }
}

impl fmt::Display for MappingBehaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address-and-port-dependent",
            Self::Dependent => "dependent on the destination",
            Self::Unknown => "unknown",
        })
    }
}

impl fmt::Display for PortAllocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Preserved => f.write_str("preserved"),
            Self::Sequential { step } => write!(f, "sequential (step {step:+})"),
            Self::Random => f.write_str("random"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl fmt::Display for Filtering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address-and-port-dependent",
            Self::Unknown => "unknown",
        })
    }
}
