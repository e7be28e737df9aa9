//! The `nat` section of `tessel status`, made from the STUN machine's
//! samples.

use std::net::SocketAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::machine::StunMachine;

/// The `nat` section of `tessel status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NatStatus {
    /// Distinct reflexive addresses, freshest first.
    pub reflexive_addresses: Vec<String>,
    /// `endpoint_independent`, `dependent` or `unknown`.
    pub mapping: String,
    /// `preserved`, `sequential (step +N)`, `random` or `unknown`.
    pub allocation: String,
    /// The configured STUN servers.
    pub stun_servers: Vec<String>,
    /// The latest answer of each reflector.
    pub samples: Vec<StunSampleStatus>,
}

/// One sample in `tessel status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StunSampleStatus {
    /// Who answered.
    pub reflector: String,
    /// The member's node ID, if a member answered.
    pub member: Option<String>,
    /// Where it saw us.
    pub mapped: String,
    /// Round-trip time in milliseconds.
    pub rtt_ms: f64,
    /// Seconds since the answer.
    pub age_secs: f64,
}

impl NatStatus {
    /// The section for `machine`'s state at `now`.
    pub(super) fn of(machine: &StunMachine, now: Instant) -> Self {
        let m = machine.nat_mapping();
        Self {
            reflexive_addresses: machine
                .reflexive_addresses()
                .iter()
                .map(ToString::to_string)
                .collect(),
            mapping: m.behaviour.name().to_owned(),
            allocation: m.allocation.to_string(),
            stun_servers: machine
                .servers()
                .iter()
                .map(SocketAddr::to_string)
                .collect(),
            samples: machine
                .samples()
                .iter()
                .map(|s| StunSampleStatus {
                    reflector: s.reflector.to_string(),
                    member: s.member.map(|m| m.to_string()),
                    mapped: s.mapped.to_string(),
                    rtt_ms: s.rtt.as_secs_f64() * 1000.0,
                    age_secs: now.saturating_duration_since(s.at).as_secs_f64(),
                })
                .collect(),
        }
    }
}
