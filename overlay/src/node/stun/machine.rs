//! The STUN machine: the node's Binding requests, their retransmissions
//! and rounds, the samples their answers leave, and the answers to members'
//! requests. Sans-IO and on its own: it takes the time, datagrams with
//! their source, the members it may ask and a random source, and returns
//! datagrams to send, drops to count and its next deadline. The node only
//! carries datagrams in and out (see `mod.rs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use tessel_nat::netcheck::{GIVE_UP_AFTER, INITIAL_RTO};
use tessel_nat::stun::{
    decode, encode_request, looks_like_stun, Integrity, IntegrityKey, Message, Refusal,
    RequestOptions, Responder, TransactionId,
};

use super::samples::{NatMapping, Samples, StunSample};
use crate::identity::NodeId;
use crate::node::{DropReason, Transmit, MAIN_SOCKET};

/// How often the node asks its reflectors.
pub(crate) const ROUND_INTERVAL: Duration = Duration::from_secs(30);

/// The first round, after start (servers only, unless sessions are up).
pub(crate) const FIRST_ROUND: Duration = Duration::from_secs(1);

/// At most this many members are asked per round.
pub(crate) const MEMBER_REFLECTORS: usize = 3;

/// Transmissions of one request before giving up.
pub(crate) const MAX_SENDS: u32 = 3;

/// What became of a datagram offered to [`StunMachine::handle_datagram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    /// Not a STUN Binding message: the caller parses it as an overlay one.
    NotStun,
    /// Taken: an answer to one of our requests matched it.
    Taken,
    /// A member's request, answered: send this back to its source, from
    /// the socket the request reached.
    Answer(Vec<u8>),
    /// Dropped; the caller counts the reason.
    Dropped(DropReason),
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

/// The node's STUN client and server (see the module documentation).
#[derive(Clone)]
pub(crate) struct StunMachine {
    /// Answers members' requests under the current network key (and keys
    /// our requests to members).
    responder: Responder,
    servers: Vec<SocketAddr>,
    pending: Vec<Pending>,
    samples: Samples,
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
}

impl StunMachine {
    /// A machine keyed with the network's STUN `key`, asking `servers`
    /// besides members; its first round is [`FIRST_ROUND`] after `now`.
    pub(crate) fn new(key: IntegrityKey, servers: Vec<SocketAddr>, now: Instant) -> Self {
        Self {
            responder: Responder::new(key),
            servers,
            pending: Vec::new(),
            samples: Samples::default(),
            next_round: now + FIRST_ROUND,
            asked: Vec::new(),
            rounds: 0,
            sessions_changed: None,
            local_port: None,
        }
    }

    /// The next retransmission, give-up or round; rounds only if there may
    /// be someone to ask (`has_members`, or a configured server).
    pub(crate) fn next_deadline(&self, has_members: bool) -> Option<Instant> {
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
    pub(crate) fn replace_servers(&mut self, servers: &[SocketAddr], now: Instant) -> bool {
        let added = servers.iter().any(|s| !self.servers.contains(s));
        self.servers = servers.to_vec();
        if added {
            self.next_round = self.next_round.min(now);
        }
        added
    }

    /// The configured servers.
    pub(crate) fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Brings the next round to `now`: a direct path died, and our NAT may
    /// have changed our address (the next punch should name the new one).
    pub(crate) fn round_now(&mut self, now: Instant) {
        self.next_round = self.next_round.min(now);
    }

    /// Notes that a session came up at `now`: its member may be asked at
    /// once.
    pub(crate) fn session_came_up(&mut self, now: Instant) {
        self.sessions_changed.get_or_insert(now);
    }

    /// The UDP port the node listens on, so that the NAT report can tell a
    /// preserved port.
    pub(crate) fn set_local_port(&mut self, port: u16) {
        self.local_port = Some(port);
    }

    /// Makes `responder` (a new current network key's) answer requests and
    /// key ours; returns the one it replaces.
    pub(crate) fn replace_responder(&mut self, responder: Responder) -> Responder {
        std::mem::replace(&mut self.responder, responder)
    }

    /// Handles a datagram from `from` at `now`. `retiring` answers members
    /// still on the retiring network key, during its grace.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        retiring: Option<&Responder>,
    ) -> Received {
        if !looks_like_stun(datagram) {
            return Received::NotStun;
        }
        let Ok(mut decoded) = decode(datagram, Some(self.responder.key())) else {
            return Received::NotStun;
        };
        // A member still on the retiring network key, during its grace.
        let mut responder = &self.responder;
        if decoded.integrity == Integrity::Failed {
            if let Some((Ok(old), r)) = retiring.map(|r| (decode(datagram, Some(r.key())), r)) {
                if old.integrity == Integrity::Verified {
                    (decoded, responder) = (old, r);
                }
            }
        }
        match decoded.message {
            Message::Request { .. } => match responder.respond_to(&decoded, from) {
                Ok(payload) if payload.len() > datagram.len() => {
                    // Never more bytes out than in (a request without the
                    // SHA-1 integrity is shorter than our answer).
                    tracing::trace!(%from, "STUN request shorter than its answer");
                    Received::Dropped(DropReason::StunUnauthenticated)
                }
                Ok(payload) => {
                    tracing::trace!(%from, "answered a member's STUN request");
                    Received::Answer(payload)
                }
                Err(Refusal::Invalid(_)) => Received::Dropped(DropReason::UnexpectedStun),
                Err(refusal) => {
                    tracing::trace!(%from, %refusal, "STUN request refused");
                    Received::Dropped(DropReason::StunUnauthenticated)
                }
            },
            Message::Success { mapped, .. } => {
                let Some(k) = self.pending_index(decoded.transaction_id, from) else {
                    return Received::Dropped(DropReason::UnexpectedStun);
                };
                if self.pending[k].member.is_some() && decoded.integrity != Integrity::Verified {
                    return Received::Dropped(DropReason::StunUnauthenticated);
                }
                let p = self.pending.swap_remove(k);
                let since = if p.sends == 1 {
                    p.first_sent
                } else {
                    p.last_sent
                };
                let rtt = now.saturating_duration_since(since);
                self.samples.record(p.to, p.member, mapped, rtt, now);
                Received::Taken
            }
            Message::Error { code, .. } => match self.pending_index(decoded.transaction_id, from) {
                Some(k) if self.pending[k].member.is_none() => {
                    tracing::debug!(%from, code, "STUN server answered with an error");
                    self.pending.swap_remove(k);
                    Received::Taken
                }
                _ => Received::Dropped(DropReason::UnexpectedStun),
            },
        }
    }

    /// Our request `id` to `to`, if it awaits its answer.
    fn pending_index(&self, id: TransactionId, to: SocketAddr) -> Option<usize> {
        self.pending.iter().position(|p| p.id == id && p.to == to)
    }

    /// Retransmits and gives up requests, and starts rounds, at `now`;
    /// returns the datagrams to send from the main socket. `members` lists
    /// the connected members with their endpoints, in node ID order: it is
    /// read only when members are to be picked, and the first
    /// [`MEMBER_REFLECTORS`] with distinct IP addresses are asked.
    /// Transaction IDs come from `rng`.
    pub(crate) fn handle_timeout<I>(
        &mut self,
        now: Instant,
        members: impl FnOnce() -> I,
        rng: &mut impl RngCore,
    ) -> Vec<Transmit>
    where
        I: IntoIterator<Item = (NodeId, SocketAddr)>,
    {
        let mut out = Vec::new();
        self.retransmit(now, &mut out);
        let new_round = now >= self.next_round;
        let sessions_changed = self.sessions_changed.is_some_and(|t| t <= now);
        let members = if new_round || sessions_changed {
            self.sessions_changed = None;
            pick_members(members())
        } else {
            Vec::new()
        };
        let mut servers = Vec::new();
        if new_round {
            // A new round: everyone again, servers included.
            if self.rounds > 0 {
                self.asked.clear();
            }
            self.rounds += 1;
            self.next_round = now + ROUND_INTERVAL;
            servers.clone_from(&self.servers);
            self.samples.expire(now);
        }
        // Members whose sessions just came up are asked at once, not at the
        // next round.
        let targets = members
            .into_iter()
            .map(|(id, addr)| (addr, Some(id)))
            .chain(servers.into_iter().map(|addr| (addr, None)));
        for (to, member) in targets {
            if self.asked.contains(&to) || self.pending.iter().any(|p| p.to == to) {
                continue;
            }
            self.asked.push(to);
            self.request(now, to, member, rng, &mut out);
        }
        out
    }

    /// Sends again the requests due at `now`, and forgets those that used
    /// their [`MAX_SENDS`].
    fn retransmit(&mut self, now: Instant, out: &mut Vec<Transmit>) {
        let mut i = 0;
        while i < self.pending.len() {
            let p = &mut self.pending[i];
            if p.deadline > now {
                i += 1;
                continue;
            }
            if p.sends >= MAX_SENDS {
                tracing::debug!(reflector = %p.to, "STUN request unanswered");
                self.pending.swap_remove(i);
                continue;
            }
            p.sends += 1;
            p.last_sent = now;
            p.deadline = if p.sends < MAX_SENDS {
                now + INITIAL_RTO * 2u32.pow(p.sends - 1)
            } else {
                p.first_sent + GIVE_UP_AFTER
            };
            out.push(Transmit {
                socket: MAIN_SOCKET,
                to: p.to,
                payload: p.payload.clone(),
                ttl: None,
            });
            i += 1;
        }
    }

    /// Sends a new request to `to` (keyed if it is a member).
    fn request(
        &mut self,
        now: Instant,
        to: SocketAddr,
        member: Option<NodeId>,
        rng: &mut impl RngCore,
        out: &mut Vec<Transmit>,
    ) {
        let mut id = [0u8; 12];
        rng.fill_bytes(&mut id);
        let id = TransactionId(id);
        let opts = RequestOptions {
            key: member.map(|_| self.responder.key()),
            ..RequestOptions::default()
        };
        let Ok(payload) = encode_request(id, &opts) else {
            return;
        };
        out.push(Transmit {
            socket: MAIN_SOCKET,
            to,
            payload: payload.clone(),
            ttl: None,
        });
        self.pending.push(Pending {
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

    /// The latest answer of each reflector, freshest first.
    pub(crate) fn samples(&self) -> Vec<StunSample> {
        self.samples.freshest_first()
    }

    /// Where reflectors see the node: distinct mapped addresses, freshest
    /// first.
    pub(crate) fn reflexive_addresses(&self) -> Vec<SocketAddr> {
        self.samples.reflexive_addresses()
    }

    /// What the samples say about the NAT in front of the node's socket.
    pub(crate) fn nat_mapping(&self) -> NatMapping {
        self.samples.nat_mapping(self.local_port)
    }
}

/// Up to [`MEMBER_REFLECTORS`] of `members`, with distinct IP addresses,
/// in their order.
fn pick_members(
    members: impl IntoIterator<Item = (NodeId, SocketAddr)>,
) -> Vec<(NodeId, SocketAddr)> {
    let mut out: Vec<(NodeId, SocketAddr)> = Vec::new();
    for (id, addr) in members {
        if out.len() == MEMBER_REFLECTORS {
            break;
        }
        if !out.iter().any(|(_, a)| a.ip() == addr.ip()) {
            out.push((id, addr));
        }
    }
    out
}
