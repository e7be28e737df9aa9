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
/// Sockets for readings: two per punch reading at once.
const READING_SOCKETS: u16 = 64;
/// Time between a reading's two probes: enough that links that reorder by
/// a few milliseconds still bring them to the NAT in order.
const SECOND_AFTER: Duration = Duration::from_millis(3);
/// Largest difference between the two ports of a reading still taken for
/// the NAT's step.
const MAX_STEP: i32 = 64;

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
    /// No member could answer, or its answers did not come.
    Failed,
    /// Two sockets are opening; the first probes at `at`.
    Opening { sockets: [u16; 2], at: Instant },
    /// The probes with `tx` went (the second at `second`, if not yet); the
    /// ports the answers saw; answers are awaited until `until`.
    Sent {
        sockets: [u16; 2],
        tx: u64,
        second: Option<Instant>,
        ports: [Option<u16>; 2],
        until: Instant,
    },
    /// Our NAT gave the reading's mappings ports up to `port`, `step` apart
    /// if both answered (the answers came by `at`); the other side is told
    /// next.
    Read {
        port: u16,
        step: Option<i16>,
        at: Instant,
    },
    /// The reading, told to the other side; the punch probes in earnest
    /// again at `earnest` (if not yet).
    Done { port: u16, earnest: Option<Instant> },
}

impl Reading {
    /// The sockets it holds open, if it still needs them.
    pub(crate) fn sockets(&self) -> [Option<u16>; 2] {
        match *self {
            Reading::Opening { sockets, .. } | Reading::Sent { sockets, .. } => sockets.map(Some),
            _ => [None; 2],
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
            Reading::Sent { second, until, .. } => Some(second.map_or(until, |s| s.min(until))),
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

/// What two answers say: the later port, and the step from the first if it
/// looks like one (the NAT may have given other mappings ports in between,
/// or none at all if it maps once per socket).
fn read(ports: [Option<u16>; 2]) -> Option<(u16, Option<i16>)> {
    match ports {
        [Some(a), Some(b)] => {
            let step = i32::from(b) - i32::from(a);
            let step = (step != 0 && step.abs() <= MAX_STEP).then_some(step as i16);
            Some((b, step))
        }
        [Some(p), None] | [None, Some(p)] => Some((p, None)),
        [None, None] => None,
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
        // Each reading on sockets not used lately: a NAT that still held
        // the mapping of an earlier reading's socket would hand out its old
        // port again.
        let ids = reading_ids();
        let first = *ids.start();
        let mut free = (0..READING_SOCKETS)
            .map(|i| first + (self.reading_turn + i) % READING_SOCKETS)
            .filter(|id| !self.extra.is_open(*id));
        let (Some(a), Some(b)) = (free.next(), free.next()) else {
            return;
        };
        self.reading_turn = (b - first + 1) % READING_SOCKETS;
        let punch = self.punches.get_mut(&pid).expect("checked");
        punch.reading = Reading::Opening {
            sockets: [a, b],
            at: now + PROBE_AFTER_OPEN,
        };
        self.open_extra([a, b]);
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
            Reading::Opening { sockets, at } if at <= now => {
                let Some((member, addr)) = reading_member(now, members) else {
                    punch.reading = Reading::Failed;
                    self.close_unused_extra(members);
                    return;
                };
                let tx = rng.next_u64();
                punch.reading = Reading::Sent {
                    sockets,
                    tx,
                    second: Some(now + SECOND_AFTER),
                    ports: [None; 2],
                    until: now + PATIENCE,
                };
                self.send_probe(sockets[0], member, addr, tx);
            }
            Reading::Sent {
                sockets,
                tx,
                second: Some(at),
                ports,
                until,
            } if at <= now => {
                punch.reading = Reading::Sent {
                    sockets,
                    tx,
                    second: None,
                    ports,
                    until,
                };
                if let Some((member, addr)) = reading_member(now, members) {
                    self.send_probe(sockets[1], member, addr, tx);
                }
            }
            Reading::Sent { ports, until, .. } if until <= now => {
                punch.reading = match read(ports) {
                    Some((port, step)) => Reading::Read {
                        port,
                        step,
                        at: now,
                    },
                    None => {
                        tracing::debug!(peer = %pid.short(), "hole punching: no port reading");
                        Reading::Failed
                    }
                };
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
            Reading::Read { port, step, at } if at <= now => {
                punch.reading = Reading::Done {
                    port,
                    earnest: Some(now + HOLD),
                };
                let id = punch.id;
                let mut update = self.own_candidates_message(own, false, id, 0);
                update.fresh = true;
                update.nat.last_port = port;
                if let Some(step) = step {
                    update.nat.step = step;
                }
                tracing::debug!(peer = %pid.short(), port, ?step, "hole punching: port read");
                self.signal(rng, pid, update);
                self.send_line(now, members, own, pid);
            }
            _ => {}
        }
    }

    /// A probe-ack with `tx` to our socket `socket` says our NAT mapped it
    /// at `seen`; returns whether it answered a reading.
    pub(crate) fn reading_ack(
        &mut self,
        now: Instant,
        members: &impl Members,
        tx: u64,
        socket: u16,
        seen: SocketAddr,
    ) -> bool {
        let Some(punch) = self
            .punches
            .values_mut()
            .find(|p| matches!(p.reading, Reading::Sent { tx: t, .. } if t == tx))
        else {
            return false;
        };
        let Reading::Sent { sockets, ports, .. } = &mut punch.reading else {
            return false;
        };
        let Some(i) = sockets.iter().position(|&s| s == socket) else {
            return true;
        };
        ports[i] = Some(seen.port());
        if let [Some(_), Some(_)] = *ports {
            let (port, step) = read(*ports).expect("both answered");
            punch.reading = Reading::Read {
                port,
                step,
                at: now,
            };
            self.close_unused_extra(members);
        }
        true
    }
}

/// The member a reading probes: the first connected one, in ID order.
fn reading_member(now: Instant, members: &impl Members) -> Option<(NodeId, SocketAddr)> {
    let mut direct = members.direct_from_main(now);
    direct.sort();
    direct.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_answers_give_the_port_and_the_step() {
        assert_eq!(read([Some(20_004), Some(20_005)]), Some((20_005, Some(1))));
        assert_eq!(read([Some(20_010), Some(20_006)]), Some((20_006, Some(-4))));
        // One answer: the port, and the step stays the self-check's.
        assert_eq!(read([None, Some(20_005)]), Some((20_005, None)));
        // Ports far apart or equal say nothing of a step.
        assert_eq!(read([Some(1_000), Some(50_000)]), Some((50_000, None)));
        assert_eq!(read([Some(9_740), Some(9_740)]), Some((9_740, None)));
        assert_eq!(read([None, None]), None);
    }
}
