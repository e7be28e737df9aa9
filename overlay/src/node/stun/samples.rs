//! The answers to the node's own Binding requests, one per reflector, and
//! what they say about the NAT in front of its socket (through the
//! netcheck's pure classifier).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tessel_nat::netcheck::{classify_mapping, MappingBehaviour, Observation, PortAllocation};

use crate::identity::NodeId;

/// Samples older than this are forgotten.
pub(super) const SAMPLE_TTL: Duration = Duration::from_secs(300);

/// At most this many samples (one per reflector) are kept.
pub(super) const MAX_SAMPLES: usize = 16;

/// Whether the mapping of the node's socket depends on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatBehaviour {
    /// The same reflexive address toward every reflector.
    EndpointIndependent,
    /// Another reflexive address toward another reflector.
    Dependent,
    /// Fewer than two reflectors with distinct addresses answered.
    Unknown,
}

/// What the node's own samples say about its NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatMapping {
    /// Mapping behaviour.
    pub behaviour: NatBehaviour,
    /// Port allocation.
    pub allocation: PortAllocation,
}

/// One answer to the node's own Binding requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StunSample {
    /// Who answered.
    pub reflector: SocketAddr,
    /// The member it is, for keyed requests.
    pub member: Option<NodeId>,
    /// Where it saw us.
    pub mapped: SocketAddr,
    /// The round-trip time.
    pub rtt: Duration,
    /// When the answer arrived.
    pub at: Instant,
    /// Order in which this mapping was first seen (for the port pattern).
    order: u64,
}

/// The latest sample of each reflector (at most [`MAX_SAMPLES`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Samples {
    samples: Vec<StunSample>,
    /// The order given to the last new mapping.
    next_order: u64,
}

impl Samples {
    /// Records that `reflector` (the member `member`, if keyed) saw us at
    /// `mapped`, `rtt` after the request, at `now`. Replaces its earlier
    /// sample, keeping its order if the mapping is the same; a full set
    /// loses its oldest sample.
    pub(super) fn record(
        &mut self,
        reflector: SocketAddr,
        member: Option<NodeId>,
        mapped: SocketAddr,
        rtt: Duration,
        now: Instant,
    ) {
        tracing::debug!(%reflector, %mapped, ?rtt, "reflexive address");
        let order = match self.samples.iter().position(|x| x.reflector == reflector) {
            Some(k) => {
                let old = self.samples.remove(k);
                if old.mapped == mapped {
                    old.order
                } else {
                    self.next_order += 1;
                    self.next_order
                }
            }
            None => {
                self.next_order += 1;
                self.next_order
            }
        };
        if self.samples.len() >= MAX_SAMPLES {
            if let Some(k) = (0..self.samples.len()).min_by_key(|&k| self.samples[k].at) {
                self.samples.remove(k);
            }
        }
        self.samples.push(StunSample {
            reflector,
            member,
            mapped,
            rtt,
            at: now,
            order,
        });
    }

    /// Forgets the samples [`SAMPLE_TTL`] old at `now`.
    pub(super) fn expire(&mut self, now: Instant) {
        self.samples
            .retain(|s| now.saturating_duration_since(s.at) < SAMPLE_TTL);
    }

    /// The samples, freshest first (ties by reflector).
    pub(super) fn freshest_first(&self) -> Vec<StunSample> {
        let mut v = self.samples.clone();
        v.sort_by(|a, b| b.at.cmp(&a.at).then(a.reflector.cmp(&b.reflector)));
        v
    }

    /// Distinct mapped addresses, freshest first.
    pub(super) fn reflexive_addresses(&self) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for s in self.freshest_first() {
            if !out.contains(&s.mapped) {
                out.push(s.mapped);
            }
        }
        out
    }

    /// What the samples say about the NAT in front of a socket bound to
    /// `local_port` (if known).
    pub(super) fn nat_mapping(&self, local_port: Option<u16>) -> NatMapping {
        let mut samples = self.samples.clone();
        samples.sort_by_key(|s| s.order);
        let observations: Vec<Observation> = samples
            .iter()
            .map(|s| Observation {
                socket: 0,
                local_port,
                destination: s.reflector,
                mapped: s.mapped,
            })
            .collect();
        let m = classify_mapping(&observations);
        let behaviour = match m.behaviour {
            MappingBehaviour::EndpointIndependent => NatBehaviour::EndpointIndependent,
            MappingBehaviour::Unknown => NatBehaviour::Unknown,
            MappingBehaviour::AddressDependent
            | MappingBehaviour::AddressAndPortDependent
            | MappingBehaviour::Dependent => NatBehaviour::Dependent,
        };
        NatMapping {
            behaviour,
            allocation: m.allocation,
        }
    }
}
