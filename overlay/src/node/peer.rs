//! What a node knows about one member: identity, addresses, endpoint,
//! sessions, the handshake in flight, and the timers that drive them.

use std::collections::VecDeque;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Instant;

use crate::identity::NodeId;
use crate::session::{InitiatorState, Session};

/// A handshake that we initiated and that awaits its response.
#[derive(Debug)]
pub(crate) struct PendingHandshake {
    pub(crate) state: InitiatorState,
    /// When the current round of attempts began (for REKEY_ATTEMPT_TIME).
    pub(crate) attempts_since: Instant,
    /// When this initiation was sent.
    pub(crate) sent_at: Instant,
    /// Initiations sent before this one in the current round.
    pub(crate) attempt: u32,
}

/// One member of the network.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) id: NodeId,
    pub(crate) ipv6: Ipv6Addr,
    /// Where authenticated packets last came from, or where we were told it is.
    pub(crate) endpoint: Option<SocketAddr>,
    /// Whether a handshake with this member ever completed.
    pub(crate) verified: bool,
    /// Whether we keep a session with it at all times (a neighbour) rather
    /// than only while traffic flows.
    pub(crate) neighbour: bool,
    /// When we last had news of it: our own contact, or gossip (minus its age).
    pub(crate) heard_at: Instant,
    /// When an IP packet last went to or came from it.
    pub(crate) last_data: Option<Instant>,
    /// After handshakes to it timed out: no retry because of gossip or a
    /// free neighbour place before this (traffic still may).
    pub(crate) retry_at: Option<Instant>,
    pub(crate) current: Option<Box<Session>>,
    pub(crate) previous: Option<Box<Session>>,
    /// A responder session not yet confirmed by a data message from the initiator.
    pub(crate) next: Option<Box<Session>>,
    pub(crate) handshake: Option<Box<PendingHandshake>>,
    /// Packets waiting for a session (cold path: copied).
    pub(crate) queue: VecDeque<Vec<u8>>,
    /// Highest initiation timestamp accepted from this member.
    pub(crate) last_initiation_ts: u64,
    pub(crate) last_initiation_at: Option<Instant>,
    pub(crate) last_handshake: Option<Instant>,
    pub(crate) last_received: Option<Instant>,
    pub(crate) last_sent: Option<Instant>,
    pub(crate) rx_bytes: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) timers: PeerTimers,
}

/// Deadlines of one peer; `None` means not armed.
#[derive(Debug, Default, Clone)]
pub(crate) struct PeerTimers {
    /// Resend the handshake initiation.
    pub(crate) retransmit: Option<Instant>,
    /// Send an empty keepalive (armed when data arrives, disarmed when we send).
    pub(crate) keepalive: Option<Instant>,
    /// Start a handshake: we sent data but heard nothing back.
    pub(crate) new_handshake: Option<Instant>,
    /// Keepalive that holds NAT mappings open.
    pub(crate) persistent_keepalive: Option<Instant>,
    /// Initiate a handshake (a retry after giving up, or a delayed first try).
    pub(crate) connect: Option<Instant>,
    /// Send gossip.
    pub(crate) gossip: Option<Instant>,
    /// Rekey the current session or clear expired ones.
    pub(crate) session_check: Option<Instant>,
}

impl PeerTimers {
    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        [
            self.retransmit,
            self.keepalive,
            self.new_handshake,
            self.persistent_keepalive,
            self.connect,
            self.gossip,
            self.session_check,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Peer {
    pub(crate) fn new(
        id: NodeId,
        ipv6: Ipv6Addr,
        endpoint: Option<SocketAddr>,
        heard_at: Instant,
    ) -> Self {
        Self {
            id,
            ipv6,
            endpoint,
            verified: false,
            neighbour: false,
            heard_at,
            last_data: None,
            retry_at: None,
            current: None,
            previous: None,
            next: None,
            handshake: None,
            queue: VecDeque::new(),
            last_initiation_ts: 0,
            last_initiation_at: None,
            last_handshake: None,
            last_received: None,
            last_sent: None,
            rx_bytes: 0,
            tx_bytes: 0,
            timers: PeerTimers::default(),
        }
    }

    /// The session to send on, if one is usable.
    pub(crate) fn sending_session(&mut self, now: Instant) -> Option<&mut Session> {
        self.current.as_deref_mut().filter(|s| s.usable(now))
    }

    /// Call after any authenticated message went to it: disarms the passive
    /// keepalive and restarts the persistent one.
    pub(crate) fn on_sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.timers.keepalive = None;
        self.timers.persistent_keepalive = Some(now + crate::limits::PERSISTENT_KEEPALIVE);
    }

    /// The latest news of this member: our own contact or gossip.
    pub(crate) fn freshness(&self) -> Instant {
        self.last_received
            .map_or(self.heard_at, |r| r.max(self.heard_at))
    }

    /// Whether we have a usable session.
    pub(crate) fn connected(&self, now: Instant) -> bool {
        self.current.as_ref().is_some_and(|s| s.usable(now))
    }

    /// The local indices of all sessions and the pending handshake.
    pub(crate) fn local_indices(&self) -> impl Iterator<Item = u32> + '_ {
        [&self.current, &self.previous, &self.next]
            .into_iter()
            .flatten()
            .map(|s| s.local_index)
            .chain(self.handshake.as_ref().map(|h| h.state.local_index))
    }

    /// The session with local index `idx`, if any.
    pub(crate) fn session_mut(&mut self, idx: u32) -> Option<(&mut Session, SessionSlot)> {
        if let Some(s) = self.current.as_deref_mut().filter(|s| s.local_index == idx) {
            return Some((s, SessionSlot::Current));
        }
        if let Some(s) = self.next.as_deref_mut().filter(|s| s.local_index == idx) {
            return Some((s, SessionSlot::Next));
        }
        if let Some(s) = self
            .previous
            .as_deref_mut()
            .filter(|s| s.local_index == idx)
        {
            return Some((s, SessionSlot::Previous));
        }
        None
    }
}

/// Which of a peer's sessions a message arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionSlot {
    Current,
    Next,
    Previous,
}
