//! Readings: where our NAT's port counter stands at the start of a punch.
//!
//! Behind a NAT that maps per destination and allocates ports in sequence,
//! the port our next probe leaves from follows the last port the NAT gave
//! out, which a self-check minutes ago no longer knows. So a punch behind
//! such a NAT opens a socket of its own, probes a connected member from it
//! (a new mapping: the NAT gives it its next port), and learns that port
//! from the member's probe-ack. The punch then tells the other side the
//! reading (candidates with `fresh` set), and both aim their probes from
//! the two readings ([`super::crossing`]).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::crossing::sequential_per_destination;
use super::extra_sockets::BIRTHDAY_SOCKETS;
use super::{Members, OwnView, Traversal};
use crate::identity::NodeId;

/// Time between opening the reading's socket and probing from it (the
/// driver opens the socket in between).
const PROBE_AFTER_OPEN: Duration = Duration::from_millis(10);
/// How long a reading waits for its probe-ack before the punch goes on
/// without it.
const PATIENCE: Duration = Duration::from_secs(1);
/// How long after telling its reading a punch still sends its probes as
/// openers: the other side opens toward the ports after the reading when it
/// hears of it, and a probe of ours that reached a stock Linux router before
/// that would leave a conntrack entry that clashes with its member's own
/// flow to our port (see `OPENER_TTL`).
const HOLD: Duration = Duration::from_millis(200);
/// Sockets for readings: one per punch reading at once.
const READING_SOCKETS: u16 = 64;

/// IDs of the reading sockets (after the birthday sockets).
pub(crate) fn reading_ids() -> RangeInclusive<u16> {
    let first = 3 + BIRTHDAY_SOCKETS;
    first..=first + READING_SOCKETS - 1
}

/// Where a punch's reading stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Reading {
    /// None taken (so far): our NAT needs none, or the punch began before
    /// we knew it did.
    #[default]
    None,
    /// No member could answer, or its answer did not come.
    Failed,
    /// Socket `socket` is opening; it probes at `at`.
    Opening { socket: u16, at: Instant },
    /// The probe with `tx` went; its answer is awaited until `until`.
    Sent {
        socket: u16,
        tx: u64,
        until: Instant,
    },
    /// Our NAT gave the reading's mapping this port (the answer came at
    /// `at`); the other side is told next.
    Read { port: u16, at: Instant },
    /// The port read, told to the other side; the punch probes in earnest
    /// again at `earnest` (if not yet).
    Done { port: u16, earnest: Option<Instant> },
}

impl Reading {
    /// The socket it holds open, if it still needs one.
    pub(crate) fn socket(&self) -> Option<u16> {
        match *self {
            Reading::Opening { socket, .. } | Reading::Sent { socket, .. } => Some(socket),
            _ => None,
        }
    }

    /// Whether the punch's probes go as openers only: while the reading is
    /// under way, and until [`HOLD`] after it was told.
    pub(crate) fn holds(&self) -> bool {
        matches!(
            self,
            Reading::Opening { .. }
                | Reading::Sent { .. }
                | Reading::Read { .. }
                | Reading::Done {
                    earnest: Some(_),
                    ..
                }
        )
    }

    /// When the punch must next look at it.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match *self {
            Reading::Opening { at, .. } => Some(at),
            Reading::Sent { until, .. } => Some(until),
            Reading::Read { at, .. } => Some(at),
            Reading::Done {
                earnest: Some(at), ..
            } => Some(at),
            _ => None,
        }
    }

    /// The port read, if the reading is done.
    pub(crate) fn port(&self) -> Option<u16> {
        match *self {
            Reading::Read { port, .. } | Reading::Done { port, .. } => Some(port),
            _ => None,
        }
    }
}

impl Traversal {
    /// Starts a reading for the punch toward `pid` if our NAT needs one
    /// and a member can answer it.
    pub(crate) fn start_reading(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        pid: NodeId,
    ) {
        let needed = self
            .punches
            .get(&pid)
            .is_some_and(|p| p.reading == Reading::None && p.found.is_none());
        if !needed
            || !sequential_per_destination(&self.own_nat_hint(own))
            || members.direct_from_main(now).is_empty()
        {
            return;
        }
        // Each reading on a socket not used lately: a NAT that still held
        // the mapping of an earlier reading's socket would hand out its old
        // port again.
        let ids = reading_ids();
        let first = *ids.start();
        let Some(socket) = (0..READING_SOCKETS)
            .map(|i| first + (self.reading_turn + i) % READING_SOCKETS)
            .find(|id| !self.extra.is_open(*id))
        else {
            return;
        };
        self.reading_turn = (socket - first + 1) % READING_SOCKETS;
        let punch = self.punches.get_mut(&pid).expect("checked");
        punch.reading = Reading::Opening {
            socket,
            at: now + PROBE_AFTER_OPEN,
        };
        self.open_extra([socket]);
    }

    /// Sends the reading's probe, gives up on it, or tells the other side
    /// what it read, when due.
    pub(crate) fn reading_step(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        rng: &mut impl RngCore,
        pid: NodeId,
    ) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        match punch.reading {
            Reading::Opening { socket, at } if at <= now => {
                let mut direct = members.direct_from_main(now);
                direct.sort();
                let Some(&(member, addr)) = direct.first() else {
                    punch.reading = Reading::Failed;
                    self.close_unused_extra(members);
                    return;
                };
                let tx = rng.next_u64();
                punch.reading = Reading::Sent {
                    socket,
                    tx,
                    until: now + PATIENCE,
                };
                self.send_probe(socket, member, addr, tx);
            }
            Reading::Sent { until, .. } if until <= now => {
                tracing::debug!(peer = %pid.short(), "hole punching: no port reading");
                punch.reading = Reading::Failed;
                self.close_unused_extra(members);
            }
            Reading::Done {
                port,
                earnest: Some(at),
            } if at <= now => {
                punch.reading = Reading::Done {
                    port,
                    earnest: None,
                };
                // The round the hold kept back, now in earnest.
                self.probe_round_ttl(now, members, pid, false, None);
            }
            Reading::Read { port, at } if at <= now => {
                punch.reading = Reading::Done {
                    port,
                    earnest: Some(now + HOLD),
                };
                let id = punch.id;
                let mut update = self.own_candidates_message(own, false, id, 0);
                update.fresh = true;
                update.nat.last_port = port;
                tracing::debug!(peer = %pid.short(), port, "hole punching: port read");
                self.signal(rng, pid, update);
                self.send_line(now, members, own, pid);
            }
            _ => {}
        }
    }

    /// A probe-ack with `tx` says our NAT mapped a reading's socket at
    /// `seen`; returns whether `tx` was a reading's.
    pub(crate) fn reading_ack(
        &mut self,
        now: Instant,
        members: &impl Members,
        tx: u64,
        seen: SocketAddr,
    ) -> bool {
        let Some(punch) = self
            .punches
            .values_mut()
            .find(|p| matches!(p.reading, Reading::Sent { tx: t, .. } if t == tx))
        else {
            return false;
        };
        punch.reading = Reading::Read {
            port: seen.port(),
            at: now,
        };
        self.close_unused_extra(members);
        true
    }
}
