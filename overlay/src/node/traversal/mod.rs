//! Hole punching: finding a direct path to a member behind a NAT.
//!
//! When a node starts a handshake with a member it has no session with, it
//! also starts a *punch*: it signals its candidate endpoints (interface
//! addresses, reflexive addresses, mapped ports) to the member through a
//! member that reaches both ([`signal`]: hop by hop, sealed for the other
//! side and signed), and probes every candidate it knows of the other side
//! ([`probe`]). The other side answers with its own candidates and probes
//! back at once, so both NATs open a mapping toward each other within a
//! round trip. The first probe to be answered gives the path; the handshake
//! then goes there.
//!
//! The side that was asked also dials back, which is connection reversal:
//! when only it can reach the asker, its probes get through, the asker
//! learns its endpoint from them and answers there.
//!
//! Ports of NATs that allocate sequentially are predicted from the step
//! they reveal ([`candidates`], [`selfcheck`]). Toward a NAT that allocates
//! at random, the side behind it opens many sockets and the other side
//! probes random ports until one matches ([`extra_sockets`], the birthday technique).
//!
//! [`Traversal`] is the machine: a sans-IO state machine that takes inputs
//! and queues [`Output`]s, tested alone (`tests.rs`). What it must know of
//! members and of our own addresses comes through [`members`]. The node's
//! glue ([`glue`], and [`probe`] and [`signal`], which need the node's keys
//! and sessions) feeds it and carries out its outputs.

mod aim;
mod candidates;
mod crossing;
mod extra_sockets;
mod glue;
pub(crate) mod limits;
mod members;
pub(crate) mod pair;
mod probe;
mod punch;
mod reading;
mod selfcheck;
mod signal;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crossing;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::identity::NodeId;
use crate::wire::signal::Candidates;
use crate::wire::signal_seal::SALT_LEN;
pub use extra_sockets::STREAM_IDS_FROM;
pub(crate) use members::{MemberFacts, Members, OwnView};
pub(crate) use punch::Punch;

/// How long one punch probes before it gives up.
pub(crate) const PUNCH_TIME: Duration = Duration::from_secs(8);
/// Least time between two punches toward one member that is idle, or that
/// kept failing (it doubles with each failure beyond the fast retries).
pub(crate) const PUNCH_COOLDOWN: Duration = Duration::from_secs(20);
/// Punches that failed in a row after which a member with traffic waiting
/// is punched again at once, with a fresh exchange of candidates, before
/// the backoff of [`PUNCH_COOLDOWN`] starts.
pub(crate) const FAST_RETRIES: u8 = 3;
/// The IP TTL of an *opener*: a probe that leaves through our own NAT (the
/// host's TTL of 2 is 1 past its first router), opening its mapping toward
/// the other side, and dies at the next router, before the other side's
/// NAT sees it. A NAT built on stock Linux conntrack that saw the other
/// side's probe first would take it for a connection to itself and move
/// our flow to another port, which the other side's NAT then filters. A
/// punch therefore starts with openers on both sides, and so do candidates
/// new to it; probes in earnest follow from the next scheduled round.
pub(crate) const OPENER_TTL: u8 = 2;
/// Punches in progress at once.
pub(crate) const MAX_PUNCHES: usize = 64;
/// Hops a signal may travel.
pub(crate) const SIGNAL_HOPS: u8 = 16;
/// How long a sighting of our endpoint stays a candidate.
const OBSERVED_LIFETIME: Duration = Duration::from_secs(600);
/// Own endpoints as seen by others that a node remembers.
const MAX_OBSERVED: usize = 4;
/// Room for outputs kept between inputs.
const KEEP_OUTPUTS: usize = 32;

/// The hole-punching machine: its punches, the caps on what signals can
/// make it send, our candidates, the NAT self-check and the extra sockets.
/// Inputs are its methods (each takes the time, and what it must know of
/// the members through [`Members`]); what it wants done comes out of
/// [`Traversal::poll_output`], and when it next needs to run out of
/// [`Traversal::next_deadline`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Traversal {
    /// The node's interface addresses with its UDP port (from the driver).
    pub(crate) local_addrs: Vec<SocketAddr>,
    /// This node's endpoint as others see it, freshest first.
    pub(crate) observed: Vec<Observed>,
    /// Punches in progress, by member.
    pub(crate) punches: BTreeMap<NodeId, Punch>,
    /// Counters for `tessel status`.
    pub(crate) stats: TraversalStats,
    /// Extra sockets.
    pub(crate) extra: extra_sockets::ExtraSockets,
    /// What we know of our own NAT.
    pub(crate) check: selfcheck::SelfCheck,
    /// When relayed sessions are next looked at for a direct path.
    pub(crate) next_upgrade: Option<Instant>,
    /// Caps on what signals can make this node send.
    pub(crate) limits: limits::Limits,
    /// Where the next port reading looks for a free socket (see `reading.rs`).
    reading_turn: u16,
    /// What the machine wants done, in order.
    out: VecDeque<Output>,
}

/// What the hole-punching machine wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// Send a path probe for `member` with `tx` to `to`, from our socket
    /// `socket` (0: the main one).
    Probe {
        /// The member probed.
        member: NodeId,
        /// Our socket to send from.
        socket: u16,
        /// Where to.
        to: SocketAddr,
        /// The probe's transaction value.
        tx: u64,
        /// Send with this IP TTL: an opener (see [`OPENER_TTL`]).
        ttl: Option<u8>,
    },
    /// Signal our candidates to `member` (sealed and signed by the node).
    Signal {
        /// The recipient.
        member: NodeId,
        /// What to tell it.
        candidates: Candidates,
        /// The salt of its seal (drawn when the machine decided to send).
        salt: [u8; SALT_LEN],
    },
    /// Open these extra sockets.
    OpenSockets(Vec<u16>),
    /// Close these extra sockets.
    CloseSockets(Vec<u16>),
    /// A direct path to `member` answered: from our socket `socket` to `addr`.
    PathFound {
        /// The member reached.
        member: NodeId,
        /// Our socket.
        socket: u16,
        /// Its endpoint.
        addr: SocketAddr,
        /// The round trip the path showed.
        rtt: Duration,
    },
    /// The punch toward `member` ended; `found`: with a direct path.
    PunchEnded {
        /// The member.
        member: NodeId,
        /// Whether it found a path.
        found: bool,
    },
}

/// One sighting of our endpoint by another member.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed {
    pub(crate) addr: SocketAddr,
    pub(crate) by: NodeId,
    pub(crate) at: Instant,
}

/// Hole-punching counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraversalStats {
    /// Punches this node started.
    pub punches_started: u64,
    /// Punches other members asked this node to join.
    pub punches_joined: u64,
    /// Punches that found a direct path.
    pub direct_paths_found: u64,
    /// Punches that ended without a path.
    pub punches_failed: u64,
    /// Punches in which this node opened many sockets (birthday technique).
    pub birthday_punches: u64,
    /// Probes this node sent to random ports (birthday technique).
    pub spray_probes: u64,
    /// Path probes sent.
    pub probes_sent: u64,
    /// Signals this node passed on for other members.
    pub signals_forwarded: u64,
    /// Candidate addresses in signals that this node refused to probe
    /// (loopback, multicast, link-local, overlay addresses and the like).
    #[serde(default)]
    pub candidates_refused: u64,
    /// Requests to join a punch that this node refused: the asking member,
    /// or the member that passed the request on, or all of them together
    /// asked too often.
    #[serde(default)]
    pub joins_refused: u64,
    /// Probes not sent because their target address, which had not proven
    /// to be the member's, had its probes of the minute already.
    #[serde(default)]
    pub probes_capped: u64,
    /// Candidates signalled again during a punch: a request the other side
    /// had not answered within a second or three, or candidates that
    /// changed since they were told.
    #[serde(default)]
    pub requests_resent: u64,
    /// Punches started at once after one that found nothing, because
    /// traffic was waiting.
    #[serde(default)]
    pub fast_retries: u64,
}

impl Traversal {
    /// Whether the machine ran once (the first run schedules its upgrades
    /// and the self-check).
    pub(crate) fn started(&self) -> bool {
        self.next_upgrade.is_some()
    }

    /// The earliest deadline of any punch, the self-check or the upgrades.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.punches
            .values()
            .map(Punch::next_deadline)
            .chain(self.check.next_deadline())
            .chain(self.next_upgrade)
            .min()
    }

    /// The next thing the machine wants done.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        let next = self.out.pop_front();
        if next.is_none() {
            // A birthday round queues hundreds of probes at once: the room
            // for them need not stay.
            self.out.shrink_to(KEEP_OUTPUTS);
        }
        next
    }

    /// Remembers that `by` saw us at `addr`.
    pub(crate) fn observe(&mut self, addr: SocketAddr, by: NodeId, at: Instant) {
        // A sighting from long ago may describe a mapping that is gone.
        self.observed
            .retain(|o| o.by != by && at.saturating_duration_since(o.at) < OBSERVED_LIFETIME);
        self.observed.insert(0, Observed { addr, by, at });
        self.observed.truncate(MAX_OBSERVED);
    }
}
