//! What a node knows about one member: identity, addresses, endpoint,
//! sessions, the handshake in flight, and the timers that drive them.

use std::collections::VecDeque;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Instant;

use crate::identity::NodeId;
use crate::session::{InitiatorState, Session};

/// A member silent for this long is not used as a hop, of a relayed path or
/// of a route (every session carries a keepalive at least every 25 s).
const HOP_SILENCE: std::time::Duration = std::time::Duration::from_secs(40);
/// Sending this long without anything back marks a path dead (longer than
/// the persistent keepalive interval, so an idle session stays alive).
const UNANSWERED: std::time::Duration = std::time::Duration::from_secs(27);
/// A member that gossiped to us within this long (two of its gossip
/// intervals, and a little) still counts us as its neighbour.
const GOSSIP_PARTNER_SILENCE: std::time::Duration = std::time::Duration::from_secs(65);
/// A ping to a member unanswered this long marks the path dead.
const PING_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);
/// How long a member that we send data to directly may stay silent before
/// a ping asks whether the path still works (a NAT on the way may have
/// rebooted or renumbered).
const QUIET_PATH: std::time::Duration = std::time::Duration::from_secs(2);

/// What sending data on a direct path asks of the node (see
/// [`Peer::path_check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathCheck {
    /// Nothing: the path answers, or a ping is on its way.
    Fine,
    /// The member has been silent a while: ping it.
    Ping,
    /// A ping went unanswered: the path is dead; shake hands again (both
    /// directly and through a relay).
    Lost,
}

/// How long after the last direct datagram a relayed one does not move a
/// member's path off the direct one (the other side only relays when its
/// direct datagrams went unanswered).
const DIRECT_FRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// A handshake that we initiated and that awaits its response.
#[derive(Clone, Debug)]
pub(crate) struct PendingHandshake {
    pub(crate) state: InitiatorState,
    /// When the current round of attempts began (for REKEY_ATTEMPT_TIME).
    pub(crate) attempts_since: Instant,
    /// When this initiation was sent.
    pub(crate) sent_at: Instant,
    /// Initiations sent before this one in the current round.
    pub(crate) attempt: u32,
    /// The initiation's MAC (a cookie reply's tag covers it).
    pub(crate) mac1: [u8; crate::wire::mac::MAC_LEN],
    /// Whether it carried a cookie, or a cookie reply for it was taken
    /// already (no second immediate retry).
    pub(crate) had_cookie: bool,
}

/// One member of the network.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) id: NodeId,
    pub(crate) ipv6: Ipv6Addr,
    /// Where authenticated packets last came from, or where we were told it is.
    pub(crate) endpoint: Option<SocketAddr>,
    /// Our socket that reaches `endpoint`: 0 for the main one, or an extra
    /// socket that hole punching opened.
    pub(crate) socket: u16,
    /// While no direct path works, our path to it is relayed: the hop our
    /// frames to it go through, which also relays its frames to us;
    /// `None` while the path is direct (to `endpoint` on `socket`).
    pub(crate) relay_hop: Option<NodeId>,
    /// When an authenticated datagram last came from it directly.
    pub(crate) last_direct_rx: Option<Instant>,
    /// Quality of our direct session with it.
    pub(crate) link: super::routing::LinkQuality,
    /// Our route to it (see `routing`): the next hop through which signals
    /// and relayed frames for it go when we have no direct path, and its cost.
    pub(crate) route: super::routing::Route,
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
    pub(crate) queue: PacketQueue,
    /// Its handshakes with us, once there was one.
    pub(crate) history: Option<Box<HandshakeHistory>>,
    pub(crate) last_received: Option<Instant>,
    pub(crate) last_sent: Option<Instant>,
    pub(crate) rx_bytes: u64,
    pub(crate) tx_bytes: u64,
    pub(crate) timers: PeerTimers,
    /// Highest signal timestamp accepted from it.
    pub(crate) last_signal_ts: u64,
    /// When we last started hole punching toward it.
    pub(crate) last_punch: Option<Instant>,
    /// Punches toward it in a row that found no path (they back off).
    pub(crate) punch_failures: u8,
    /// Where it was heard on our LANs (LAN discovery).
    pub(crate) lan: super::lan::LanPeer,
}

/// A member's handshakes with us: kept apart from [`Peer`], since most
/// members a node knows of never shake hands with it.
#[derive(Clone, Debug, Default)]
pub(crate) struct HandshakeHistory {
    /// Highest initiation timestamp accepted from it.
    pub(crate) last_initiation_ts: u64,
    /// When we last accepted an initiation from it.
    pub(crate) last_initiation_at: Option<Instant>,
    /// When a session with it was last installed.
    pub(crate) last_handshake: Option<Instant>,
    /// When its last gossip message came (it counts us as a neighbour).
    pub(crate) gossip_heard: Option<Instant>,
    /// The cookie it sent while under load, and when (see `cookies`).
    pub(crate) cookie: Option<([u8; crate::wire::cookie_reply::COOKIE_LEN], Instant)>,
}

/// Packets waiting for a member's session. Most members never have any, so
/// the queue takes one pointer until the first packet.
#[derive(Clone, Debug, Default)]
// Boxed on purpose: 8 bytes in every `Peer` instead of a `VecDeque`'s 32.
#[allow(clippy::box_collection)]
pub(crate) struct PacketQueue(Option<Box<VecDeque<Vec<u8>>>>);

impl PacketQueue {
    /// Packets waiting.
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }

    /// Whether no packet waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a packet at the back.
    pub(crate) fn push_back(&mut self, packet: Vec<u8>) {
        self.0.get_or_insert_default().push_back(packet);
    }

    /// Takes the oldest packet.
    pub(crate) fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.0.as_mut()?.pop_front()
    }

    /// Drops every packet, and the queue's storage.
    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }
}

impl IntoIterator for PacketQueue {
    type Item = Vec<u8>;
    type IntoIter = std::iter::Flatten<std::option::IntoIter<VecDeque<Vec<u8>>>>;

    /// The packets, oldest first.
    fn into_iter(self) -> Self::IntoIter {
        self.0.map(|q| *q).into_iter().flatten()
    }
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
    /// The earliest armed deadline worth waking for. A persistent keepalive
    /// counts only for a neighbour: others get none, so waking for it would
    /// do nothing (after every message to a member that is not a neighbour,
    /// such as a node's gossip to the members it is a neighbour of).
    pub(crate) fn next(&self, neighbour: bool) -> Option<Instant> {
        [
            self.retransmit,
            self.keepalive,
            self.new_handshake,
            self.persistent_keepalive.filter(|_| neighbour),
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
            socket: 0,
            relay_hop: None,
            last_direct_rx: None,
            link: Default::default(),
            route: Default::default(),
            verified: false,
            neighbour: false,
            heard_at,
            last_data: None,
            retry_at: None,
            current: None,
            previous: None,
            next: None,
            handshake: None,
            queue: PacketQueue::default(),
            history: None,
            last_received: None,
            last_sent: None,
            rx_bytes: 0,
            tx_bytes: 0,
            timers: PeerTimers::default(),
            last_signal_ts: 0,
            last_punch: None,
            punch_failures: 0,
            lan: Default::default(),
        }
    }

    /// Its handshake history, to change.
    pub(crate) fn history_mut(&mut self) -> &mut HandshakeHistory {
        self.history.get_or_insert_default()
    }

    /// When a session with it was last installed.
    pub(crate) fn last_handshake(&self) -> Option<Instant> {
        self.history.as_ref()?.last_handshake
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

    /// Notes that an authenticated datagram from it came directly from
    /// `from` on our socket `socket`, or relayed by the hop `relay_hop`.
    /// Returns whether the path we send on changed. A relayed arrival does
    /// not replace a direct path that worked lately.
    pub(crate) fn heard_on(
        &mut self,
        from: SocketAddr,
        socket: u16,
        relay_hop: Option<NodeId>,
        now: Instant,
    ) -> bool {
        match relay_hop {
            None => {
                let changed = self.endpoint != Some(from)
                    || self.socket != socket
                    || self.relay_hop.is_some();
                self.endpoint = Some(from);
                self.socket = socket;
                self.relay_hop = None;
                self.last_direct_rx = Some(now);
                changed
            }
            Some(r) => {
                let direct_lately = self
                    .last_direct_rx
                    .is_some_and(|t| now.saturating_duration_since(t) < DIRECT_FRESH);
                if direct_lately || self.relay_hop == Some(r) {
                    return false;
                }
                self.relay_hop = Some(r);
                true
            }
        }
    }

    /// The latest news of this member: our own contact or gossip.
    pub(crate) fn freshness(&self) -> Instant {
        self.last_received
            .map_or(self.heard_at, |r| r.max(self.heard_at))
    }

    /// Whether we have a usable session on a path that answers: something
    /// came back within [`HOP_SILENCE`]; not [`UNANSWERED`] of sending
    /// without anything back (a healthy member sends at least a keepalive
    /// every 25 s); and no ping to it unanswered for [`PING_PATIENCE`]. A
    /// path that swallows what we send is dead well before the session
    /// expires. Relayed paths and routes only use reachable members as hops.
    pub(crate) fn reachable(&self, now: Instant) -> bool {
        let Some(rx) = self.last_received else {
            return false;
        };
        let unanswered = self
            .last_sent
            .is_some_and(|tx| tx.saturating_duration_since(rx) > UNANSWERED);
        let ping_lost = self
            .link
            .ping
            .is_some_and(|(_, sent)| now.saturating_duration_since(sent) > PING_PATIENCE);
        self.connected(now)
            && now.saturating_duration_since(rx) < HOP_SILENCE
            && !unanswered
            && !ping_lost
    }

    /// Whether the direct path we just sent data on needs a look: data that
    /// goes out with nothing coming back soon gets a ping, and a ping that
    /// nothing followed for [`PING_PATIENCE`] ends the path (once per
    /// handshake), within seconds rather than at the session's
    /// new-handshake timer. The lost ping stays, so the path counts as not
    /// [`Peer::reachable`] (the new handshake also goes through a relay)
    /// until something comes back.
    pub(crate) fn path_check(&mut self, now: Instant) -> PathCheck {
        if self.relay_hop.is_some() {
            return PathCheck::Fine;
        }
        match self.link.ping {
            Some((_, sent)) if self.last_received.is_some_and(|r| r >= sent) => {
                // Something came back since: the path works.
                self.link.ping = None;
                PathCheck::Fine
            }
            Some((_, sent))
                if now.saturating_duration_since(sent) > PING_PATIENCE
                    && self.handshake.is_none() =>
            {
                // Proven dead: the answer to the next handshake may move the
                // member to a relay at once (see `heard_on`).
                self.last_direct_rx = None;
                PathCheck::Lost
            }
            Some(_) => PathCheck::Fine,
            None if self
                .last_received
                .is_none_or(|r| now.saturating_duration_since(r) >= QUIET_PATH) =>
            {
                PathCheck::Ping
            }
            None => PathCheck::Fine,
        }
    }

    /// Whether we gossip to it: it is our neighbour, or it gossiped to us
    /// lately (we are its neighbour). Other sessions, kept for traffic, carry
    /// no gossip.
    pub(crate) fn gossip_partner(&self, now: Instant) -> bool {
        self.neighbour
            || self
                .history
                .as_ref()
                .and_then(|h| h.gossip_heard)
                .is_some_and(|t| now.saturating_duration_since(t) < GOSSIP_PARTNER_SILENCE)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_queue_keeps_order_and_frees_its_storage() {
        let mut q = PacketQueue::default();
        assert!(q.is_empty() && q.0.is_none());
        q.push_back(vec![1]);
        q.push_back(vec![2]);
        q.push_back(vec![3]);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_front(), Some(vec![1]));
        let rest: Vec<Vec<u8>> = std::mem::take(&mut q).into_iter().collect();
        assert_eq!(rest, vec![vec![2], vec![3]]);
        assert!(q.is_empty() && q.pop_front().is_none());
        q.push_back(vec![4]);
        q.clear();
        assert!(q.is_empty() && q.0.is_none());
    }

    /// A member that nothing but gossip told us of costs one `Peer`; keep
    /// rarely used state out of it.
    #[test]
    fn a_peer_stays_small() {
        assert_eq!(std::mem::size_of::<PacketQueue>(), 8);
        assert_eq!(std::mem::size_of::<super::super::lan::LanPeer>(), 8);
        let size = std::mem::size_of::<Peer>();
        assert!(size <= 544, "Peer grew to {size} bytes");
    }
}
