//! NAT behaviour discovery, RFC 5780 style, as a sans-IO state machine.
//!
//! [`Netcheck`] is given reflectors (STUN servers, or Tessel members, which
//! answer requests keyed with the network's [`IntegrityKey`](crate::stun::IntegrityKey))
//! and two local UDP sockets, known by index (0 and 1). It returns
//! datagrams to send ([`Transmit`]) and its next deadline, consumes the
//! answers, and ends with a [`Report`]:
//!
//! 1. From socket 0, a Binding request to every reflector: whether UDP
//!    works, each reflector's view of our address, the RTT, IPv4 and IPv6
//!    reachability, and which reflectors support RFC 5780 (they return
//!    OTHER-ADDRESS).
//! 2. With an RFC 5780 reflector, socket 0 also asks its alternate
//!    address/port combinations; socket 1 asks its primary address. The
//!    mapped addresses go to the pure [`classify`] functions: mapping
//!    behaviour and port allocation.
//! 3. From socket 1, CHANGE-REQUESTs to the RFC 5780 reflector (answer from
//!    the other address and port; from the other port only): filtering
//!    behaviour. Without such a reflector the filtering is reported as
//!    unknown. Socket 1 also sends a request to socket 0's reflexive
//!    address: if socket 0 receives it, the NAT hairpins.
//!
//! Each phase starts when every request of the one before is answered or
//! given up (three transmissions, RFC 8489 timing with a short bound).

pub mod classify;
mod machine;
mod report;

#[cfg(test)]
mod tests;

pub use classify::{
    classify_filtering, classify_mapping, Filtering, Mapping, MappingBehaviour, Observation,
    PortAllocation,
};
pub use machine::{Netcheck, Reflector, Transmit, GIVE_UP_AFTER, INITIAL_RTO, SOCKETS};
pub use report::{ObservationReport, ReflectorReport, Report};
