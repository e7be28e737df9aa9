//! The sans-IO port-mapping client for PCP and NAT-PMP: one mapping of one
//! UDP port, from the first request to its deletion.
//!
//! Inputs: [`Client::handle_datagram`] (a datagram from the gateway's port
//! 5351; the caller checks the source address), [`Client::handle_timeout`]
//! and [`Client::stop`]. Outputs: [`Client::poll_transmit`] (datagrams for
//! the gateway's port 5351), [`Client::poll_event`] and
//! [`Client::poll_timeout`]. The client never reads a clock.
//!
//! The life of a mapping:
//! 1. NAT-PMP asks for the external address first, then maps; PCP maps at
//!    once (its answer carries the address). Requests are retransmitted on
//!    the protocol's schedule ([`super::retransmit`]) and the client gives
//!    up ([`Event::Failed`]) when the last one goes unanswered or the
//!    gateway refuses before any mapping was made.
//! 2. Mapped: it renews at half the lifetime the gateway granted, with the
//!    external port (and PCP address) it holds as the suggestion. Failed
//!    renewals are retried until the mapping expires ([`Event::Lost`]).
//! 3. Every answer's epoch is checked ([`super::epoch`]); a gateway that
//!    restarted gets the whole mapping sequence again at once
//!    ([`Event::GatewayRestarted`]).
//! 4. [`Client::stop`] deletes the mapping (lifetime 0); [`Event::Deleted`]
//!    follows the gateway's answer, or the last unanswered retransmission.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::epoch::EpochClock;
use super::retransmit::{Jitter, Schedule};
use super::{natpmp, pcp, Mapping, Protocol};

/// Lifetime asked for, in seconds (RFC 6886 recommends two hours).
pub const DEFAULT_LIFETIME: u32 = 7200;

/// How long to wait before mapping again after a transient refusal of a
/// renewal when the gateway does not say (NAT-PMP).
const TRANSIENT_RETRY: Duration = Duration::from_secs(60);

/// Bounds on how long a PCP error's lifetime may delay a retry.
const MIN_ERROR_RETRY: Duration = Duration::from_secs(30);
const MAX_ERROR_RETRY: Duration = Duration::from_secs(1800);

/// Transmissions of a deletion before giving up on an answer.
const DELETE_ATTEMPTS: u32 = 3;

/// What a client maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// PCP or NAT-PMP (UPnP has its own session, over HTTP).
    pub protocol: Protocol,
    /// The client's own address toward the gateway (PCP's client field).
    pub client_addr: IpAddr,
    /// The UDP port to map.
    pub internal_port: u16,
    /// Lifetime to ask for, in seconds.
    pub lifetime: u32,
    /// PCP's mapping nonce (random, chosen by the caller).
    pub nonce: [u8; 12],
    /// Seed of the retransmission jitter.
    pub seed: u64,
}

/// Why a client gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The last retransmission went unanswered.
    NoAnswer,
    /// The gateway speaks another version (a NAT-PMP-only gateway
    /// answering PCP, or the reverse).
    UnsupportedVersion,
    /// The gateway refused; the code is the protocol's result code.
    Refused(u16),
    /// The gateway granted a mapping without an external address.
    NoExternalAddress,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoAnswer => write!(f, "the gateway did not answer"),
            Self::UnsupportedVersion => write!(f, "the gateway speaks another version"),
            Self::Refused(code) => write!(f, "the gateway refused (result code {code})"),
            Self::NoExternalAddress => write!(f, "the gateway has no external address"),
        }
    }
}

/// Something the driver should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A mapping was created, renewed or changed.
    Mapped(Mapping),
    /// The mapping expired before a renewal succeeded.
    Lost,
    /// The gateway's epoch shows it restarted; the client maps again.
    GatewayRestarted,
    /// The client gave up; it sends nothing more.
    Failed(Failure),
    /// The mapping was deleted (or the gateway never answered the
    /// deletion); the client sends nothing more.
    Deleted,
}

/// The request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    ExternalAddress,
    Map,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `ask` was sent `attempt` times; the next transmission is due at `next`.
    Asking {
        ask: Ask,
        attempt: u32,
        next: Instant,
    },
    /// Waiting until `at` to map again (renewal or retry).
    Waiting { at: Instant },
    /// Nothing more to do.
    Done,
}

/// One mapping's state machine. See the module documentation.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    phase: Phase,
    jitter: Jitter,
    epoch: Option<EpochClock>,
    /// NAT-PMP's external address, from its own request.
    external_ip: Option<Ipv4Addr>,
    mapping: Option<Mapping>,
    expires: Option<Instant>,
    /// Whether a map request has been sent (a deletion is then owed).
    sent_map: bool,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client that starts mapping at `now`.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let mut c = Self {
            config,
            phase: Phase::Done,
            jitter: Jitter::new(config.seed),
            epoch: None,
            external_ip: None,
            mapping: None,
            expires: None,
            sent_map: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        c.begin(now);
        c
    }

    /// The current mapping.
    pub fn mapping(&self) -> Option<Mapping> {
        self.mapping
    }

    /// Whether the client will send nothing more.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The next datagram for the gateway's port 5351.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match self.phase {
            Phase::Asking { next, .. } => next,
            Phase::Waiting { at } => at,
            Phase::Done => return None,
        };
        Some(self.expires.map_or(phase, |e| e.min(phase)))
    }

    /// Starts the mapping sequence from the top.
    fn begin(&mut self, now: Instant) {
        let first = match self.config.protocol {
            Protocol::NatPmp => Ask::ExternalAddress,
            _ => Ask::Map,
        };
        self.ask(first, now);
    }

    /// Sends the first transmission of `ask`.
    fn ask(&mut self, ask: Ask, now: Instant) {
        self.phase = Phase::Asking {
            ask,
            attempt: 0,
            next: now,
        };
        self.transmit_due(now);
    }

    fn schedule(&self) -> Schedule {
        match self.config.protocol {
            Protocol::NatPmp => super::retransmit::NATPMP,
            _ => super::retransmit::PCP,
        }
    }

    /// Retransmits or gives up if the phase's deadline has come.
    fn transmit_due(&mut self, now: Instant) {
        let Phase::Asking { ask, attempt, next } = self.phase else {
            return;
        };
        if now < next {
            return;
        }
        let mut schedule = self.schedule();
        if ask == Ask::Delete {
            schedule.attempts = schedule.attempts.min(DELETE_ATTEMPTS);
        }
        if attempt >= schedule.attempts {
            self.phase = Phase::Done;
            self.events.push_back(match ask {
                Ask::Delete => Event::Deleted,
                _ => Event::Failed(Failure::NoAnswer),
            });
            return;
        }
        let datagram = self.request(ask);
        self.transmits.push_back(datagram);
        if ask == Ask::Map {
            self.sent_map = true;
        }
        let attempt = attempt + 1;
        let wait = schedule
            .wait_after(attempt, &mut self.jitter)
            .unwrap_or(schedule.max);
        self.phase = Phase::Asking {
            ask,
            attempt,
            next: now + wait,
        };
    }

    /// The bytes of `ask` for this protocol.
    fn request(&self, ask: Ask) -> Vec<u8> {
        let c = &self.config;
        let (lifetime, port) = match ask {
            Ask::Delete => (0, 0),
            _ => (
                c.lifetime,
                self.mapping.map_or(c.internal_port, |m| m.external.port()),
            ),
        };
        match c.protocol {
            Protocol::NatPmp => match ask {
                Ask::ExternalAddress => natpmp::emit_external_address_request().to_vec(),
                Ask::Map | Ask::Delete => natpmp::emit_map_request(&natpmp::MapRequest {
                    opcode: natpmp::Opcode::MapUdp,
                    internal_port: c.internal_port,
                    suggested_external_port: port,
                    lifetime,
                })
                .to_vec(),
            },
            _ => {
                let external_addr = self
                    .mapping
                    .map_or(pcp::any_addr_like(c.client_addr), |m| m.external.ip());
                let external_port = match ask {
                    Ask::Delete => self.mapping.map_or(0, |m| m.external.port()),
                    _ => port,
                };
                pcp::emit_request(
                    lifetime,
                    c.client_addr,
                    Some(&pcp::MapPayload {
                        nonce: c.nonce,
                        protocol: pcp::PROTO_UDP,
                        internal_port: c.internal_port,
                        external_port,
                        external_addr,
                    }),
                )
            }
        }
    }

    /// Advances timers: retransmissions, renewals, expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(exp) = self.expires {
            if now >= exp {
                self.expires = None;
                if self.mapping.take().is_some() {
                    self.events.push_back(Event::Lost);
                }
            }
        }
        match self.phase {
            Phase::Asking { .. } => self.transmit_due(now),
            Phase::Waiting { at } if now >= at => self.ask(Ask::Map, now),
            _ => {}
        }
    }

    /// Deletes the mapping: sends a request with lifetime 0, or finishes at
    /// once if no map request was ever sent.
    pub fn stop(&mut self, now: Instant) {
        if self.phase == Phase::Done && !self.sent_map {
            return;
        }
        self.expires = None;
        if !self.sent_map {
            self.phase = Phase::Done;
            self.events.push_back(Event::Deleted);
            return;
        }
        self.ask(Ask::Delete, now);
    }

    /// Takes a datagram that came from the gateway's port 5351.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        let Phase::Asking { ask, .. } = self.phase else {
            return;
        };
        match self.config.protocol {
            Protocol::NatPmp => self.on_natpmp(now, ask, datagram),
            _ => self.on_pcp(now, ask, datagram),
        }
    }

    fn on_natpmp(&mut self, now: Instant, ask: Ask, datagram: &[u8]) {
        let Ok(r) = natpmp::Response::new_checked(datagram) else {
            if pcp::Response::new_checked(datagram).is_ok() {
                self.fail(Failure::UnsupportedVersion);
            }
            return;
        };
        let expected = match ask {
            Ask::ExternalAddress => natpmp::Opcode::ExternalAddress,
            Ask::Map | Ask::Delete => natpmp::Opcode::MapUdp,
        };
        if r.opcode() != expected {
            return;
        }
        if let Some((internal, _, _)) = r.mapping() {
            if internal != self.config.internal_port {
                return;
            }
        }
        let result = r.result();
        if result == natpmp::ResultCode::UnsupportedVersion {
            return self.fail(Failure::UnsupportedVersion);
        }
        if result != natpmp::ResultCode::Success {
            let why = match result {
                natpmp::ResultCode::NetworkFailure => Failure::NoExternalAddress,
                _ => Failure::Refused(result.code()),
            };
            return self.refused(now, ask, why, result.is_transient(), None);
        }
        if !self.check_epoch(r.epoch(), now) {
            return;
        }
        match ask {
            Ask::ExternalAddress => {
                let Some(ip) = r.external_address().filter(|ip| !ip.is_unspecified()) else {
                    return self.refused(now, ask, Failure::NoExternalAddress, true, None);
                };
                self.external_ip = Some(ip);
                self.ask(Ask::Map, now);
            }
            Ask::Map => {
                let (Some(ip), Some((_, port, lifetime))) = (self.external_ip, r.mapping()) else {
                    return;
                };
                self.mapped(now, SocketAddr::new(ip.into(), port), lifetime);
            }
            Ask::Delete => self.deleted(),
        }
    }

    fn on_pcp(&mut self, now: Instant, ask: Ask, datagram: &[u8]) {
        let Ok(r) = pcp::Response::new_checked(datagram) else {
            if let Ok(old) = natpmp::Response::new_checked(datagram) {
                if old.result() == natpmp::ResultCode::UnsupportedVersion {
                    self.fail(Failure::UnsupportedVersion);
                }
            }
            return;
        };
        if r.opcode() != pcp::Opcode::Map {
            // An unsolicited ANNOUNCE still tells the epoch.
            if r.opcode() == pcp::Opcode::Announce && r.result() == pcp::ResultCode::Success {
                self.check_epoch(r.epoch(), now);
            }
            return;
        }
        let map = r.map();
        if let Some(m) = map {
            if m.nonce != self.config.nonce
                || m.protocol != pcp::PROTO_UDP
                || m.internal_port != self.config.internal_port
            {
                return;
            }
        }
        let result = r.result();
        if result == pcp::ResultCode::UnsupportedVersion {
            return self.fail(Failure::UnsupportedVersion);
        }
        if result != pcp::ResultCode::Success {
            let retry = Duration::from_secs(u64::from(r.lifetime()))
                .clamp(MIN_ERROR_RETRY, MAX_ERROR_RETRY);
            let why = match result {
                pcp::ResultCode::NetworkFailure => Failure::NoExternalAddress,
                _ => Failure::Refused(u16::from(result.code())),
            };
            return self.refused(now, ask, why, result.is_transient(), Some(retry));
        }
        if !self.check_epoch(r.epoch(), now) {
            return;
        }
        match ask {
            Ask::Delete => self.deleted(),
            _ => {
                let Some(m) = map else { return };
                if m.external_addr.is_unspecified() {
                    return self.refused(now, ask, Failure::NoExternalAddress, true, None);
                }
                self.mapped(
                    now,
                    SocketAddr::new(m.external_addr, m.external_port),
                    r.lifetime(),
                );
            }
        }
    }

    /// Checks the epoch of a successful answer; on a restart, starts over
    /// and returns `false`.
    fn check_epoch(&mut self, server: u32, now: Instant) -> bool {
        let valid = match &mut self.epoch {
            Some(e) => e.observe(server, now),
            None => {
                self.epoch = Some(EpochClock::new(server, now));
                true
            }
        };
        if !valid
            && !matches!(
                self.phase,
                Phase::Asking {
                    ask: Ask::Delete,
                    ..
                }
            )
        {
            tracing::info!(
                protocol = self.config.protocol.name(),
                "the gateway restarted: mapping again"
            );
            self.events.push_back(Event::GatewayRestarted);
            self.external_ip = None;
            self.begin(now);
            return false;
        }
        true
    }

    fn mapped(&mut self, now: Instant, external: SocketAddr, lifetime: u32) {
        if lifetime == 0 {
            return self.refused(now, Ask::Map, Failure::Refused(0), true, None);
        }
        let mapping = Mapping {
            protocol: self.config.protocol,
            external,
            lifetime: Duration::from_secs(u64::from(lifetime)),
        };
        self.mapping = Some(mapping);
        self.expires = Some(now + mapping.lifetime);
        self.phase = Phase::Waiting {
            at: now + mapping.lifetime / 2,
        };
        self.events.push_back(Event::Mapped(mapping));
    }

    fn deleted(&mut self) {
        self.mapping = None;
        self.expires = None;
        self.phase = Phase::Done;
        self.events.push_back(Event::Deleted);
    }

    fn fail(&mut self, why: Failure) {
        self.mapping = None;
        self.expires = None;
        self.phase = Phase::Done;
        self.events.push_back(Event::Failed(why));
    }

    /// The gateway said no. Before any mapping exists, give up (the driver
    /// may try another protocol); while renewing, retry transient errors
    /// until the mapping expires; a deletion ends either way.
    fn refused(
        &mut self,
        now: Instant,
        ask: Ask,
        why: Failure,
        transient: bool,
        retry: Option<Duration>,
    ) {
        if ask == Ask::Delete {
            return self.deleted();
        }
        if self.mapping.is_some() && transient {
            self.phase = Phase::Waiting {
                at: now + retry.unwrap_or(TRANSIENT_RETRY),
            };
            return;
        }
        self.fail(why);
    }
}
