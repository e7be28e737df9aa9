//! The netcheck state machine (see the module documentation of
//! [`super`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::classify::{classify_filtering, classify_mapping, Filtering, Observation};
use super::report::{ObservationReport, ReflectorReport, Report};
use crate::stun::{
    decode, encode_request, looks_like_stun, ChangeRequest, Integrity, IntegrityKey, Message,
    RequestOptions, TransactionId,
};

/// How many local sockets a netcheck uses.
pub const SOCKETS: usize = 2;

/// The first retransmission timeout (RFC 8489 §6.2.1); it doubles.
pub const INITIAL_RTO: Duration = Duration::from_millis(500);

/// Transmissions of one request before giving up (RFC 8489 says 7; a
/// netcheck keeps it short).
const MAX_SENDS: u32 = 3;

/// A request unanswered this long after its first transmission is given
/// up: sent at 0, 0.5 and 1.5 s, then 2 s more for the last answer.
pub const GIVE_UP_AFTER: Duration = Duration::from_millis(3500);

/// A reflector: a STUN server, or a Tessel member (keyed).
#[derive(Debug, Clone)]
pub struct Reflector {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Sign requests with this key and demand signed answers (members).
    pub key: Option<IntegrityKey>,
    /// How to name it in the report.
    pub label: String,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// From which local socket (0 or 1).
    pub socket: usize,
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub payload: Vec<u8>,
}

/// Why a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Socket 0 to reflector `i`.
    Discover(usize),
    /// Socket 0 to an alternate address/port of the RFC 5780 reflector.
    Alternate,
    /// Socket 1 to a reflector's primary address.
    Second,
    /// Socket 1, CHANGE-REQUEST for the other address and port.
    ChangeBoth,
    /// Socket 1, CHANGE-REQUEST for the other port.
    ChangePort,
    /// Socket 1 to socket 0's reflexive address.
    Hairpin,
}

/// The phases, each started when every request of the last one finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discover,
    Map,
    Filter,
    Done,
}

/// A success response.
#[derive(Debug, Clone, Copy)]
struct Answer {
    mapped: SocketAddr,
    other_address: Option<SocketAddr>,
    rtt: Duration,
    authenticated: bool,
}

/// One request and its fate.
#[derive(Debug)]
struct Tx {
    id: TransactionId,
    socket: usize,
    to: SocketAddr,
    key: Option<IntegrityKey>,
    purpose: Purpose,
    payload: Vec<u8>,
    first_sent: Instant,
    last_sent: Instant,
    sends: u32,
    /// Next retransmission or the give-up time; `None` once finished.
    deadline: Option<Instant>,
    answer: Option<Answer>,
    /// An error response's code.
    error: Option<u16>,
    /// For [`Purpose::Hairpin`]: socket 0 received it.
    hairpinned: bool,
}

impl Tx {
    fn finished(&self) -> bool {
        self.deadline.is_none()
    }
}

/// NAT behaviour discovery (see the module documentation of [`super`]).
#[derive(Debug)]
pub struct Netcheck {
    reflectors: Vec<Reflector>,
    local_ports: [Option<u16>; SOCKETS],
    seed: [u8; 32],
    counter: u64,
    txs: Vec<Tx>,
    transmits: VecDeque<Transmit>,
    phase: Phase,
    /// The reflector used for RFC 5780 tests, and its OTHER-ADDRESS.
    rfc5780: Option<(usize, SocketAddr)>,
}

impl Netcheck {
    /// Starts a netcheck at `now`: the first requests are ready in
    /// [`Netcheck::poll_transmit`]. `local_ports` are the sockets' ports, if
    /// known (to tell a preserved port); `seed` makes the transaction IDs
    /// (use fresh randomness: they are what makes answers unforgeable by
    /// anyone off the path).
    pub fn new(
        reflectors: Vec<Reflector>,
        local_ports: [Option<u16>; SOCKETS],
        seed: [u8; 32],
        now: Instant,
    ) -> Self {
        let mut n = Self {
            reflectors,
            local_ports,
            seed,
            counter: 0,
            txs: Vec::new(),
            transmits: VecDeque::new(),
            phase: Phase::Discover,
            rfc5780: None,
        };
        for i in 0..n.reflectors.len() {
            let r = &n.reflectors[i];
            let (to, key) = (r.addr, r.key.clone());
            n.send(
                now,
                0,
                to,
                key,
                Purpose::Discover(i),
                ChangeRequest::default(),
            );
        }
        n.advance(now);
        n
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`Netcheck::handle_timeout`] should next be called; `None` once
    /// done.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.txs.iter().filter_map(|t| t.deadline).min()
    }

    /// Whether the netcheck has finished: [`Netcheck::report`] is final.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Retransmits and gives up requests that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.txs.len() {
            let t = &mut self.txs[i];
            if t.deadline.is_none_or(|d| d > now) {
                continue;
            }
            if t.sends >= MAX_SENDS {
                t.deadline = None;
                continue;
            }
            t.sends += 1;
            t.last_sent = now;
            t.deadline = Some(if t.sends < MAX_SENDS {
                now + INITIAL_RTO * 2u32.pow(t.sends - 1)
            } else {
                t.first_sent + GIVE_UP_AFTER
            });
            self.transmits.push_back(Transmit {
                socket: t.socket,
                to: t.to,
                payload: t.payload.clone(),
            });
        }
        self.advance(now);
    }

    /// Handles a datagram that local socket `socket` received from `from`.
    /// Returns whether it was one of ours (an answer, or our hairpin probe).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        socket: usize,
        from: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        if !looks_like_stun(datagram) {
            return false;
        }
        let mut id = [0u8; 12];
        id.copy_from_slice(&datagram[8..20]);
        let id = TransactionId(id);
        let Some(t) = self.txs.iter_mut().find(|t| t.id == id) else {
            return false;
        };
        let Ok(d) = decode(datagram, t.key.as_ref()) else {
            return false;
        };
        if t.finished() {
            return true;
        }
        match d.message {
            Message::Request { .. } if t.purpose == Purpose::Hairpin && socket == 0 => {
                t.hairpinned = true;
                t.deadline = None;
            }
            Message::Success {
                mapped,
                other_address,
                ..
            } if socket == t.socket => {
                let authenticated = d.integrity == Integrity::Verified;
                if t.key.is_some() && !authenticated {
                    tracing::debug!(%from, "ignoring an answer that fails integrity");
                    return false;
                }
                let since = if t.sends == 1 {
                    t.first_sent
                } else {
                    t.last_sent
                };
                t.answer = Some(Answer {
                    mapped,
                    other_address,
                    rtt: now.saturating_duration_since(since),
                    authenticated,
                });
                t.deadline = None;
            }
            Message::Error { code, .. } if socket == t.socket => {
                if t.key.is_some() && d.integrity != Integrity::Verified {
                    return false;
                }
                t.error = Some(code);
                t.deadline = None;
            }
            _ => return false,
        }
        self.advance(now);
        true
    }

    /// Starts the next phase once the current one has finished.
    fn advance(&mut self, now: Instant) {
        while self.phase != Phase::Done && self.txs.iter().all(Tx::finished) {
            self.phase = match self.phase {
                Phase::Discover => {
                    self.start_map(now);
                    Phase::Map
                }
                Phase::Map => {
                    self.start_filter(now);
                    Phase::Filter
                }
                Phase::Filter | Phase::Done => Phase::Done,
            };
        }
    }

    fn start_map(&mut self, now: Instant) {
        self.rfc5780 = self.txs.iter().find_map(|t| {
            let (Purpose::Discover(i), Some(a)) = (t.purpose, t.answer) else {
                return None;
            };
            let other = a.other_address?;
            let proper = t.to.is_ipv4()
                && other.is_ipv4()
                && other.ip() != t.to.ip()
                && other.port() != t.to.port();
            proper.then_some((i, other))
        });
        let primary = match self.rfc5780 {
            Some((i, other)) => {
                let r = &self.reflectors[i];
                let (addr, key) = (r.addr, r.key.clone());
                for to in [
                    SocketAddr::new(other.ip(), addr.port()),
                    other,
                    SocketAddr::new(addr.ip(), other.port()),
                ] {
                    self.send(
                        now,
                        0,
                        to,
                        key.clone(),
                        Purpose::Alternate,
                        ChangeRequest::default(),
                    );
                }
                Some(i)
            }
            None => self.txs.iter().find_map(|t| match (t.purpose, t.answer) {
                (Purpose::Discover(i), Some(_)) if t.to.is_ipv4() => Some(i),
                _ => None,
            }),
        };
        if let Some(i) = primary {
            let r = &self.reflectors[i];
            let (addr, key) = (r.addr, r.key.clone());
            self.send(now, 1, addr, key, Purpose::Second, ChangeRequest::default());
        }
    }

    fn start_filter(&mut self, now: Instant) {
        if let Some((i, _)) = self.rfc5780 {
            let r = &self.reflectors[i];
            let (addr, key) = (r.addr, r.key.clone());
            let both = ChangeRequest {
                ip: true,
                port: true,
            };
            let port = ChangeRequest {
                ip: false,
                port: true,
            };
            self.send(now, 1, addr, key.clone(), Purpose::ChangeBoth, both);
            self.send(now, 1, addr, key, Purpose::ChangePort, port);
        }
        let own = self.txs.iter().find_map(|t| match (t.purpose, t.answer) {
            (Purpose::Discover(_), Some(a)) if a.mapped.is_ipv4() => Some(a.mapped),
            _ => None,
        });
        if let Some(own) = own {
            self.send(
                now,
                1,
                own,
                None,
                Purpose::Hairpin,
                ChangeRequest::default(),
            );
        }
    }

    fn next_id(&mut self) -> TransactionId {
        self.counter += 1;
        let h = blake3::keyed_hash(&self.seed, &self.counter.to_le_bytes());
        let mut id = [0u8; 12];
        id.copy_from_slice(&h.as_bytes()[..12]);
        TransactionId(id)
    }

    fn send(
        &mut self,
        now: Instant,
        socket: usize,
        to: SocketAddr,
        key: Option<IntegrityKey>,
        purpose: Purpose,
        change: ChangeRequest,
    ) {
        let id = self.next_id();
        let opts = RequestOptions {
            key: key.as_ref(),
            change,
        };
        let Ok(payload) = encode_request(id, &opts) else {
            tracing::warn!(%to, "could not encode a Binding request");
            return;
        };
        self.transmits.push_back(Transmit {
            socket,
            to,
            payload: payload.clone(),
        });
        self.txs.push(Tx {
            id,
            socket,
            to,
            key,
            purpose,
            payload,
            first_sent: now,
            last_sent: now,
            sends: 1,
            deadline: Some(now + INITIAL_RTO),
            answer: None,
            error: None,
            hairpinned: false,
        });
    }

    /// What the netcheck found so far (final once [`Netcheck::is_done`]).
    pub fn report(&self) -> Report {
        let observations: Vec<Observation> = self
            .txs
            .iter()
            .filter(|t| {
                matches!(
                    t.purpose,
                    Purpose::Discover(_) | Purpose::Alternate | Purpose::Second
                )
            })
            .filter_map(|t| {
                Some(Observation {
                    socket: t.socket,
                    local_port: self.local_ports[t.socket],
                    destination: t.to,
                    mapped: t.answer?.mapped,
                })
            })
            .collect();
        let mapping = classify_mapping(&observations);
        let reflectors: Vec<ReflectorReport> = self
            .reflectors
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = self
                    .txs
                    .iter()
                    .find(|t| t.purpose == Purpose::Discover(i))
                    .and_then(|t| t.answer);
                ReflectorReport {
                    label: r.label.clone(),
                    address: r.addr,
                    authenticated: a.is_some_and(|a| a.authenticated),
                    answered: a.is_some(),
                    mapped: a.map(|a| a.mapped),
                    rtt_ms: a.map(|a| a.rtt.as_secs_f64() * 1000.0),
                    other_address: a.and_then(|a| a.other_address),
                }
            })
            .collect();
        let answered = |v6: bool| {
            reflectors
                .iter()
                .any(|r| r.answered && r.address.is_ipv6() == v6)
        };
        let mut reflexive_addresses = Vec::new();
        for o in observations.iter().filter(|o| o.socket == 0) {
            if !reflexive_addresses.contains(&o.mapped) {
                reflexive_addresses.push(o.mapped);
            }
        }
        let (filtering, filtering_note) = self.filtering();
        let hairpin = self.txs.iter().find(|t| t.purpose == Purpose::Hairpin);
        Report {
            udp: reflectors.iter().any(|r| r.answered),
            ipv4: answered(false),
            ipv6: self
                .reflectors
                .iter()
                .any(|r| r.addr.is_ipv6())
                .then(|| answered(true)),
            reflectors,
            reflexive_addresses,
            mapping: mapping.behaviour,
            allocation: mapping.allocation,
            filtering,
            filtering_note,
            hairpinning: hairpin.filter(|t| t.finished()).map(|t| t.hairpinned),
            rfc5780_reflector: self.rfc5780.map(|(i, _)| self.reflectors[i].label.clone()),
            observations: observations
                .iter()
                .map(|o| ObservationReport {
                    socket: o.socket,
                    destination: o.destination,
                    mapped: o.mapped,
                })
                .collect(),
            port_mapping: None,
        }
    }

    fn filtering(&self) -> (Filtering, String) {
        let Some((i, other)) = self.rfc5780 else {
            let why = if self.txs.iter().any(|t| t.answer.is_some()) {
                "unknown: no reflector supports RFC 5780 (none returned OTHER-ADDRESS); \
                 use a STUN server with two addresses, e.g. coturn"
            } else {
                "unknown: no reflector answered"
            };
            return (Filtering::Unknown, why.to_owned());
        };
        let test = |p: Purpose| self.txs.iter().find(|t| t.purpose == p);
        let (both, port) = (test(Purpose::ChangeBoth), test(Purpose::ChangePort));
        let refused = [both, port].iter().flatten().find_map(|t| t.error);
        if let Some(code) = refused {
            let note = format!(
                "unknown: {} refused CHANGE-REQUEST (error {code})",
                self.reflectors[i].label
            );
            return (Filtering::Unknown, note);
        }
        let outcome = |t: Option<&Tx>| t.filter(|t| t.finished()).map(|t| t.answer.is_some());
        let f = classify_filtering(outcome(both), outcome(port));
        let primary = self.reflectors[i].addr;
        let note = match f {
            Filtering::EndpointIndependent => {
                format!("an answer from {other}, never contacted, got in")
            }
            Filtering::AddressDependent => format!(
                "an answer from {}, another port of a contacted address, got in; one from {other} did not",
                SocketAddr::new(primary.ip(), other.port())
            ),
            Filtering::AddressAndPortDependent => format!(
                "only answers from {primary} itself got in, none from {other} or port {}",
                other.port()
            ),
            Filtering::Unknown => "unknown: the CHANGE-REQUEST tests did not finish".to_owned(),
        };
        (f, note)
    }
}
