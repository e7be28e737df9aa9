//! Relaying: every member passes on end-to-end datagrams for the others of
//! its network, and uses other members when it has no direct path.
//!
//! A relayed datagram is the same handshake or data message that would have
//! gone directly, wrapped in a relay frame ([`crate::wire::relay`]) and
//! carried inside the hop-by-hop sessions of the members on the way. Each
//! relay reads only the recipient's node ID and the hop limit; the
//! end-to-end AEAD makes any change a counted drop at the recipient, and the
//! Noise handshake inside proves who the ends are. Frames only ever travel
//! in sessions of this network, so a relay never forwards for another one.
//!
//! A member with no direct path to a peer sends its handshake both
//! directly (if it knows an endpoint) and through the next hop toward the
//! peer ([`Node::next_hop`]); the peer answers the way the first copy came,
//! so the first packet goes at once. Hole punching then runs; when it finds
//! a direct path the session moves there, and when the direct path dies
//! (the session's new-handshake timer fires) the handshake again goes both
//! ways, so traffic falls back to a relay.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::relay_pairs::Refusal;
use super::rx_context::RxContext;
use super::{Action, DropReason, Node};
use crate::identity::NodeId;
use crate::wire::relay::{self, Frame};

/// Bytes a member relays per second for others, and the burst.
const RELAY_BYTES_PER_SEC: u64 = 32 << 20;
/// A member heard from directly this recently needs no relayed copy of a
/// handshake.
const DIRECT_PROVEN: Duration = Duration::from_secs(5);
/// Where a relayed datagram "came from" for the receive path (it has no
/// UDP source: the path is the relay).
pub(crate) const RELAYED_FROM: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// Relaying state: whether we relay for others, the budget, counters.
#[derive(Clone, Debug)]
pub(crate) struct Relaying {
    enabled: bool,
    /// Misbehave: flip a byte of every frame passed on (test builds only).
    #[cfg(any(test, feature = "test-hooks"))]
    tamper: bool,
    tokens: u64,
    last: Option<Instant>,
    /// The pairs of members we relay for (bounded).
    pub(crate) pairs: super::relay_pairs::RelayPairs,
    pub(crate) stats: RelayStats,
}

impl Default for Relaying {
    fn default() -> Self {
        Self {
            enabled: true,
            #[cfg(any(test, feature = "test-hooks"))]
            tamper: false,
            tokens: RELAY_BYTES_PER_SEC,
            last: None,
            pairs: Default::default(),
            stats: RelayStats::default(),
        }
    }
}

impl Relaying {
    /// Takes `n` bytes from the budget; false when spent.
    fn take(&mut self, n: usize, now: Instant) -> bool {
        if let Some(last) = self.last {
            let earned = (now.saturating_duration_since(last).as_secs_f64()
                * RELAY_BYTES_PER_SEC as f64) as u64;
            if earned > 0 {
                self.tokens = (self.tokens + earned).min(RELAY_BYTES_PER_SEC);
                self.last = Some(now);
            }
        } else {
            self.last = Some(now);
        }
        let n = n as u64;
        if self.tokens < n {
            return false;
        }
        self.tokens -= n;
        true
    }

    /// A frame as it goes on: flipped in its last byte if tampering
    /// (test builds only).
    #[cfg(any(test, feature = "test-hooks"))]
    fn spoil(&self, mut frame: Vec<u8>) -> Vec<u8> {
        if self.tamper {
            *frame.last_mut().expect("frames are never empty") ^= 0x01;
        }
        frame
    }

    /// A frame as it goes on: as it came (normal builds cannot tamper).
    #[cfg(not(any(test, feature = "test-hooks")))]
    fn spoil(&self, frame: Vec<u8>) -> Vec<u8> {
        frame
    }
}

/// Relaying counters, for `tessel status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayStats {
    /// Whether this member relays for others.
    pub enabled: bool,
    /// Frames passed on for other members.
    pub forwarded: u64,
    /// Bytes passed on for other members.
    pub forwarded_bytes: u64,
    /// Frames refused: relaying off, over budget, no way on, out of hops,
    /// or too many pairs.
    pub refused: u64,
    /// Pairs of members we relay for at the moment (at most the limit,
    /// 8,192 unless `Node::set_relay_pair_limit` changed it).
    #[serde(default)]
    pub pairs: u64,
    /// Frames refused because as many pairs as allowed hold a place and
    /// the frame's pair is not one of them.
    #[serde(default)]
    pub refused_pairs: u64,
    /// Frames refused because the member that handed them over already
    /// opened its share of the pairs (an eighth of the limit).
    #[serde(default)]
    pub refused_hop_share: u64,
    /// Route claims not taken because the neighbour that made them is
    /// already the next hop of its share of the members (see `routing.rs`).
    #[serde(default)]
    pub route_claims_capped: u64,
    /// Datagrams of our own sent through a relay.
    pub sent_relayed: u64,
    /// Datagrams for us that came through a relay.
    pub received_relayed: u64,
}

/// How traffic to a connected member goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Straight to this endpoint.
    Direct(SocketAddr),
    /// Through this member.
    Relayed(NodeId),
}

impl Node {
    /// How traffic to `peer` goes, if we have a usable session with it.
    pub fn path_to(&self, peer: &NodeId, now: Instant) -> Option<Path> {
        let p = self.peers.get(peer).filter(|p| p.connected(now))?;
        match p.relay_hop {
            Some(r) => Some(Path::Relayed(r)),
            None => p.endpoint.map(Path::Direct),
        }
    }

    /// Turns relaying for other members on (the default) or off.
    pub fn set_relaying(&mut self, enabled: bool) {
        self.relay.enabled = enabled;
    }

    /// Makes this member a misbehaving relay that flips a byte of every
    /// datagram it passes on, for tests that relayed traffic stays intact
    /// end to end (the recipient must drop what arrives). Only in test
    /// builds (the `test-hooks` feature).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_relay_tampering(&mut self, tamper: bool) {
        self.relay.tamper = tamper;
    }

    /// Relaying counters.
    pub fn relay_stats(&self) -> RelayStats {
        RelayStats {
            enabled: self.relay.enabled,
            pairs: self.relay.pairs.len() as u64,
            ..self.relay.stats
        }
    }

    /// Sends an end-to-end `datagram` to `dst` through the next hop toward
    /// it (`first_hop` if given and usable); returns whether it left.
    pub(crate) fn send_relayed(
        &mut self,
        now: Instant,
        dst: NodeId,
        first_hop: Option<NodeId>,
        datagram: &[u8],
    ) -> bool {
        let hop = first_hop
            .filter(|h| {
                *h != dst
                    && self
                        .peers
                        .get(h)
                        .is_some_and(|p| p.relay_hop.is_none() && p.reachable(now))
            })
            .or_else(|| self.next_hop(now, dst, None).filter(|h| *h != dst));
        let Some(hop) = hop else {
            tracing::debug!(dst = %dst.short(), "no relay toward a member");
            return false;
        };
        let mut frame = Vec::new();
        relay::emit(dst.as_bytes(), self.id.as_bytes(), datagram, &mut frame);
        let sent = self.send_encrypted(now, hop, &frame);
        if sent {
            self.relay.stats.sent_relayed += 1;
        }
        sent
    }

    /// The member through which to try `dst` besides any direct endpoint:
    /// none if a direct datagram came from it lately.
    pub(crate) fn relay_candidate(&self, now: Instant, dst: NodeId) -> Option<NodeId> {
        let peer = self.peers.get(&dst)?;
        if peer
            .last_direct_rx
            .is_some_and(|t| now.saturating_duration_since(t) < DIRECT_PROVEN)
        {
            return None;
        }
        peer.relay_hop
            .or_else(|| self.next_hop(now, dst, None))
            .filter(|h| *h != dst)
    }

    /// Handles a relay frame that arrived (as `rx` says) on our session
    /// with `hop`: pass it on, or take in the datagram it carries if it is
    /// for us.
    pub(crate) fn consume_relay(
        &mut self,
        now: Instant,
        rx: RxContext,
        hop: NodeId,
        msg: &[u8],
        out: &mut [u8],
    ) -> Action {
        let Ok(frame) = Frame::new_checked(msg) else {
            return self.drop_packet(DropReason::BadInner);
        };
        let known = |n: &Node, b: &[u8; 32]| {
            NodeId::known(b, |id| n.peers.contains_key(id) || *id == n.id)
                .or_else(|| NodeId::from_bytes(*b).ok())
        };
        let Some(dst) = known(self, &frame.dst()) else {
            return self.drop_packet(DropReason::RelayRefused);
        };
        if dst != self.id {
            return self.forward_relay(now, hop, dst, msg);
        }
        // For us: the datagram is handled as if it had arrived directly,
        // except that its path is the relay.
        let datagram = frame.datagram().to_vec();
        self.relay.stats.received_relayed += 1;
        let rx = rx.unwrapped(hop, frame.src());
        let action = self.receive(now, rx, RELAYED_FROM, &datagram, out);
        match action {
            // Answers go back the way the datagram came: see send paths.
            Action::Send { .. } | Action::SendExtra { .. } => Action::None,
            other => other,
        }
    }

    fn forward_relay(&mut self, now: Instant, from: NodeId, dst: NodeId, msg: &[u8]) -> Action {
        let hops = msg[1];
        if !self.relay.enabled || hops <= 1 {
            self.relay.stats.refused += 1;
            return self.drop_packet(DropReason::RelayRefused);
        }
        let Some(next) = self.next_hop(now, dst, Some(from)) else {
            if let Some(p) = self.peers.get(&dst) {
                tracing::debug!(
                    dst = %dst.short(),
                    connected = p.connected(now),
                    reachable = p.reachable(now),
                    relayed = p.relay_hop.is_some(),
                    since_rx = ?p.last_received.map(|t| now.saturating_duration_since(t)),
                    since_tx = ?p.last_sent.map(|t| now.saturating_duration_since(t)),
                    ping = ?p.link.ping.map(|(_, t)| now.saturating_duration_since(t)),
                    "no way on for a relayed frame"
                );
            }
            self.relay.stats.refused += 1;
            return self.drop_packet(DropReason::RelayRefused);
        };
        if let Err(why) = self.relay.pairs.admit(from, dst, now) {
            self.relay.stats.refused += 1;
            match why {
                Refusal::Full => self.relay.stats.refused_pairs += 1,
                Refusal::HopShare => self.relay.stats.refused_hop_share += 1,
            }
            return self.drop_packet(DropReason::RelayRefused);
        }
        // Only frames that will go on spend the budget.
        if !self.relay.take(msg.len(), now) {
            self.relay.stats.refused += 1;
            return self.drop_packet(DropReason::RelayRefused);
        }
        let mut fwd = Frame::new_checked(msg.to_vec()).expect("checked by the caller");
        fwd.set_hop_limit(hops - 1);
        let bytes = self.relay.spoil(fwd.as_bytes().to_vec());
        if self.send_encrypted(now, next, &bytes) {
            self.relay.stats.forwarded += 1;
            self.relay.stats.forwarded_bytes += msg.len() as u64;
        }
        Action::None
    }
}
