//! STUN on the overlay port (RFC 8489 Binding, through `tessel-nat`).
//!
//! A datagram that passes [`looks_like_stun`] (the magic cookie) and
//! decodes as a Binding message is handled here, before the overlay parse:
//!
//! - **Requests** get a response only if they carry the network's USERNAME
//!   and their MESSAGE-INTEGRITY-SHA256 verifies with the network's STUN
//!   key, so that every member is a STUN server for the others and
//!   invisible to everyone else, and only if the response is no longer than
//!   the request. Anything else is counted (`stun_unauthenticated`) and
//!   gets no answer.
//! - **Responses** to the node's own requests are matched by transaction ID
//!   and source, and recorded as samples: reflector, mapped address, RTT.
//!   Those from members must carry the network key's integrity.
//!
//! Every [`ROUND_INTERVAL`] (and soon after start, and as soon as the first
//! sessions are up) the node asks up to [`MEMBER_REFLECTORS`] connected
//! members with distinct IP addresses (keyed requests) and the configured
//! STUN servers (plain requests), each retransmitted as RFC 8489 says with a
//! short bound. From the samples come [`Node::reflexive_addresses`] and
//! [`Node::nat_mapping`], which reuses the netcheck's pure classifier.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use tessel_nat::netcheck::{
    classify_mapping, MappingBehaviour, Observation, PortAllocation, GIVE_UP_AFTER, INITIAL_RTO,
};
use tessel_nat::stun::{
    decode, encode_request, looks_like_stun, Integrity, IntegrityKey, Message, Refusal,
    RequestOptions, Responder, TransactionId,
};

use super::rotation::Generation;
use super::{DropReason, Node, Transmit};
use crate::identity::NodeId;

/// How often the node asks its reflectors.
pub(crate) const ROUND_INTERVAL: Duration = Duration::from_secs(30);

/// The first round, after start (servers only, unless sessions are up).
const FIRST_ROUND: Duration = Duration::from_secs(1);

/// At most this many members are asked per round.
pub(crate) const MEMBER_REFLECTORS: usize = 3;

/// Transmissions of one request before giving up.
const MAX_SENDS: u32 = 3;

/// Samples older than this are forgotten.
const SAMPLE_TTL: Duration = Duration::from_secs(300);

/// At most this many samples (one per reflector) are kept.
const MAX_SAMPLES: usize = 16;

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

/// A request of ours awaiting its answer.
#[derive(Clone, Debug)]
struct Pending {
    id: TransactionId,
    to: SocketAddr,
    member: Option<NodeId>,
    payload: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    sends: u32,
    deadline: Instant,
}

/// The node's STUN state.
#[derive(Clone)]
pub(super) struct StunState {
    pub(super) responder: Responder,
    servers: Vec<SocketAddr>,
    pending: Vec<Pending>,
    samples: Vec<StunSample>,
    next_round: Instant,
    /// Reflectors asked in this round (members asked before the first
    /// round count for it).
    asked: Vec<SocketAddr>,
    /// Rounds begun.
    rounds: u64,
    /// When a session came up since members were last picked: pick again
    /// then (a new member may be asked at once).
    sessions_changed: Option<Instant>,
    local_port: Option<u16>,
    next_order: u64,
}

impl StunState {
    pub(super) fn new(key: IntegrityKey, servers: Vec<SocketAddr>, now: Instant) -> Self {
        Self {
            responder: Responder::new(key),
            servers,
            pending: Vec::new(),
            samples: Vec::new(),
            next_round: now + FIRST_ROUND,
            asked: Vec::new(),
            rounds: 0,
            sessions_changed: None,
            local_port: None,
            next_order: 0,
        }
    }

    /// The next retransmission, give-up or round; rounds only if there may
    /// be someone to ask.
    pub(super) fn next_deadline(&self, has_members: bool) -> Option<Instant> {
        let round = (has_members || !self.servers.is_empty()).then_some(self.next_round);
        self.pending
            .iter()
            .map(|p| p.deadline)
            .chain(round)
            .chain(self.sessions_changed)
            .min()
    }

    /// Replaces the servers; if any is new, the next round is at `now`
    /// (returns whether it moved).
    pub(super) fn replace_servers(&mut self, servers: &[SocketAddr], now: Instant) -> bool {
        let added = servers.iter().any(|s| !self.servers.contains(s));
        self.servers = servers.to_vec();
        if added {
            self.next_round = self.next_round.min(now);
        }
        added
    }

    /// The configured servers.
    pub(super) fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Notes that a session came up at `now`: its member may be asked at
    /// once.
    pub(super) fn session_came_up(&mut self, now: Instant) {
        self.sessions_changed.get_or_insert(now);
    }
}

impl Node {
    /// Tells the node the UDP port it listens on, so that its NAT report
    /// can tell a preserved port.
    pub fn set_local_port(&mut self, port: u16) {
        self.stun.local_port = Some(port);
    }

    /// Handles a datagram that looks like STUN; returns false if it is not
    /// a Binding message after all (the caller then parses it as ours).
    pub(super) fn receive_stun(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> bool {
        if !looks_like_stun(datagram) {
            return false;
        }
        let Ok(mut decoded) = decode(datagram, Some(self.stun.responder.key())) else {
            return false;
        };
        // A member still on the retiring network key, during its grace.
        let mut generation = Generation::Current;
        if decoded.integrity == Integrity::Failed {
            if let Some(Ok(old)) = self
                .retiring_stun_key(now)
                .map(|k| decode(datagram, Some(k)))
            {
                if old.integrity == Integrity::Verified {
                    (decoded, generation) = (old, Generation::Retiring);
                }
            }
        }
        match decoded.message {
            Message::Request { .. } => match self
                .stun_responder_of(generation)
                .respond_to(&decoded, from)
            {
                Ok(payload) if payload.len() > datagram.len() => {
                    // Never more bytes out than in (a request without the
                    // SHA-1 integrity is shorter than our answer).
                    tracing::trace!(%from, "STUN request shorter than its answer");
                    self.drops.add(DropReason::StunUnauthenticated);
                }
                Ok(payload) => {
                    tracing::trace!(%from, "answered a member's STUN request");
                    // From the socket the request reached.
                    let socket = self.rx_socket;
                    self.queue_datagram(socket, from, payload);
                }
                Err(Refusal::Invalid(_)) => self.drops.add(DropReason::UnexpectedStun),
                Err(refusal) => {
                    tracing::trace!(%from, %refusal, "STUN request refused");
                    self.drops.add(DropReason::StunUnauthenticated);
                }
            },
            Message::Success { mapped, .. } => {
                let Some(k) = self
                    .stun
                    .pending
                    .iter()
                    .position(|p| p.id == decoded.transaction_id && p.to == from)
                else {
                    self.drops.add(DropReason::UnexpectedStun);
                    return true;
                };
                if self.stun.pending[k].member.is_some() && decoded.integrity != Integrity::Verified
                {
                    self.drops.add(DropReason::StunUnauthenticated);
                    return true;
                }
                let p = self.stun.pending.swap_remove(k);
                let since = if p.sends == 1 {
                    p.first_sent
                } else {
                    p.last_sent
                };
                self.record_sample(
                    p.to,
                    p.member,
                    mapped,
                    now.saturating_duration_since(since),
                    now,
                );
            }
            Message::Error { code, .. } => {
                let k = self
                    .stun
                    .pending
                    .iter()
                    .position(|p| p.id == decoded.transaction_id && p.to == from);
                match k {
                    Some(k) if self.stun.pending[k].member.is_none() => {
                        tracing::debug!(%from, code, "STUN server answered with an error");
                        self.stun.pending.swap_remove(k);
                    }
                    _ => self.drops.add(DropReason::UnexpectedStun),
                }
            }
        }
        true
    }

    fn record_sample(
        &mut self,
        reflector: SocketAddr,
        member: Option<NodeId>,
        mapped: SocketAddr,
        rtt: Duration,
        now: Instant,
    ) {
        tracing::debug!(%reflector, %mapped, ?rtt, "reflexive address");
        let s = &mut self.stun;
        let order = match s.samples.iter().position(|x| x.reflector == reflector) {
            Some(k) => {
                let old = s.samples.remove(k);
                if old.mapped == mapped {
                    old.order
                } else {
                    s.next_order += 1;
                    s.next_order
                }
            }
            None => {
                s.next_order += 1;
                s.next_order
            }
        };
        if s.samples.len() >= MAX_SAMPLES {
            if let Some(k) = (0..s.samples.len()).min_by_key(|&k| s.samples[k].at) {
                s.samples.remove(k);
            }
        }
        s.samples.push(StunSample {
            reflector,
            member,
            mapped,
            rtt,
            at: now,
            order,
        });
    }

    /// Retransmits and gives up requests, and starts rounds.
    pub(super) fn stun_timers(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.stun.pending.len() {
            let p = &mut self.stun.pending[i];
            if p.deadline > now {
                i += 1;
                continue;
            }
            if p.sends >= MAX_SENDS {
                tracing::debug!(reflector = %p.to, "STUN request unanswered");
                self.stun.pending.swap_remove(i);
                continue;
            }
            p.sends += 1;
            p.last_sent = now;
            p.deadline = if p.sends < MAX_SENDS {
                now + INITIAL_RTO * 2u32.pow(p.sends - 1)
            } else {
                p.first_sent + GIVE_UP_AFTER
            };
            let t = Transmit {
                to: p.to,
                payload: p.payload.clone(),
            };
            self.transmits.push_back(t);
            i += 1;
        }
        let new_round = now >= self.stun.next_round;
        let sessions_changed = self.stun.sessions_changed.is_some_and(|t| t <= now);
        let members = if new_round || sessions_changed {
            self.stun.sessions_changed = None;
            self.stun_members(now)
        } else {
            Vec::new()
        };
        let mut servers = Vec::new();
        if new_round {
            // A new round: everyone again, servers included.
            if self.stun.rounds > 0 {
                self.stun.asked.clear();
            }
            self.stun.rounds += 1;
            self.stun.next_round = now + ROUND_INTERVAL;
            servers.clone_from(&self.stun.servers);
            self.stun
                .samples
                .retain(|s| now.saturating_duration_since(s.at) < SAMPLE_TTL);
        }
        // Members whose sessions just came up are asked at once, not at the
        // next round.
        let targets = members
            .into_iter()
            .map(|(id, addr)| (addr, Some(id)))
            .chain(servers.into_iter().map(|addr| (addr, None)));
        for (to, member) in targets {
            if self.stun.asked.contains(&to) || self.stun.pending.iter().any(|p| p.to == to) {
                continue;
            }
            self.stun.asked.push(to);
            self.send_stun_request(now, to, member);
        }
    }

    /// Up to [`MEMBER_REFLECTORS`] connected members with distinct IP
    /// addresses, in node ID order.
    fn stun_members(&mut self, now: Instant) -> Vec<(NodeId, SocketAddr)> {
        let mut out: Vec<(NodeId, SocketAddr)> = Vec::new();
        // The table lists the members with a session in node ID order.
        for p in self.peers.with_session() {
            if out.len() == MEMBER_REFLECTORS {
                break;
            }
            let Some(addr) = p.endpoint.filter(|_| p.connected(now)) else {
                continue;
            };
            if !out.iter().any(|(_, a)| a.ip() == addr.ip()) {
                out.push((p.id, addr));
            }
        }
        out
    }

    fn send_stun_request(&mut self, now: Instant, to: SocketAddr, member: Option<NodeId>) {
        let mut id = [0u8; 12];
        self.rng.fill_bytes(&mut id);
        let id = TransactionId(id);
        let opts = RequestOptions {
            key: member.map(|_| self.stun.responder.key()),
            ..RequestOptions::default()
        };
        let Ok(payload) = encode_request(id, &opts) else {
            return;
        };
        self.transmits.push_back(Transmit {
            to,
            payload: payload.clone(),
        });
        self.stun.pending.push(Pending {
            id,
            to,
            member,
            payload,
            first_sent: now,
            last_sent: now,
            sends: 1,
            deadline: now + INITIAL_RTO,
        });
    }

    /// When the STUN timers next need the node; for `handle_timeout`.
    pub(super) fn stun_deadline(&self) -> Option<Instant> {
        self.stun.next_deadline(!self.peers.is_empty())
    }

    /// The latest answers to the node's own Binding requests, one per
    /// reflector, freshest first.
    pub fn stun_samples(&self) -> Vec<StunSample> {
        let mut v = self.stun.samples.clone();
        v.sort_by(|a, b| b.at.cmp(&a.at).then(a.reflector.cmp(&b.reflector)));
        v
    }

    /// Where reflectors see this node: distinct mapped addresses, freshest
    /// first.
    pub fn reflexive_addresses(&self) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for s in self.stun_samples() {
            if !out.contains(&s.mapped) {
                out.push(s.mapped);
            }
        }
        out
    }

    /// What the samples say about the NAT in front of the node's socket.
    pub fn nat_mapping(&self) -> NatMapping {
        let mut samples = self.stun.samples.clone();
        samples.sort_by_key(|s| s.order);
        let observations: Vec<Observation> = samples
            .iter()
            .map(|s| Observation {
                socket: 0,
                local_port: self.stun.local_port,
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

    /// The `nat` section of the status at `now`.
    pub(super) fn nat_status(&self, now: Instant) -> NatStatus {
        let m = self.nat_mapping();
        let mapping = m.behaviour.name();
        NatStatus {
            reflexive_addresses: self
                .reflexive_addresses()
                .iter()
                .map(ToString::to_string)
                .collect(),
            mapping: mapping.to_owned(),
            allocation: m.allocation.to_string(),
            stun_servers: self.stun.servers.iter().map(ToString::to_string).collect(),
            samples: self
                .stun_samples()
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
