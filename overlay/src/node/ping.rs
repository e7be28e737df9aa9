//! Overlay pings (`tessel ping`): an echo through the end-to-end session,
//! reported with the path it took and its round-trip time.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::{Event, Node, Path};
use crate::identity::NodeId;
use crate::wire::ping::{self, Echo};

/// Pings awaiting their pong, at most.
const MAX_PENDING: usize = 64;
/// How long a ping waits for its pong: the node ignores a later one, and
/// the daemon answers `tessel ping` with a timeout then.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Pings in flight.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pings {
    pending: VecDeque<(u64, NodeId, Instant)>,
}

/// What to ping: a member's node ID or one of its overlay addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingTarget {
    /// A node ID.
    Node(NodeId),
    /// An overlay IPv6 or IPv4 address.
    Addr(IpAddr),
}

/// Why a ping could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    /// No member has that node ID or address.
    #[error("no member of this network has that node ID or address")]
    Unknown,
    /// That is this node.
    #[error("that is this node")]
    Ourselves,
}

/// A pong: who answered, how, and how fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// The ping it answers.
    pub nonce: u64,
    /// The member that answered.
    pub peer: NodeId,
    /// The path our session with it uses.
    pub path: Option<Path>,
    /// Round-trip time.
    pub rtt: Duration,
}

impl Node {
    /// Sends an overlay ping to `target` (starting a session if needed);
    /// its pong comes out as [`Event::Pong`] with the same nonce.
    ///
    /// # Errors
    /// Fails for an unknown member or this node itself.
    pub fn ping(&mut self, target: PingTarget, now: Instant) -> Result<u64, PingError> {
        let peer = match target {
            PingTarget::Node(id) => {
                Some(id).filter(|id| self.peers.contains_key(id) || *id == self.id)
            }
            PingTarget::Addr(ip) => self.owner_of(ip),
        }
        .ok_or(PingError::Unknown)?;
        if peer == self.id {
            return Err(PingError::Ourselves);
        }
        let nonce = self.rng.next_u64();
        if self.pings.pending.len() >= MAX_PENDING {
            self.pings.pending.pop_front();
        }
        self.pings.pending.push_back((nonce, peer, now));
        let mut msg = Vec::with_capacity(ping::LEN);
        ping::emit(Echo { pong: false, nonce }, &mut msg);
        if !self.send_encrypted(now, peer, &msg) {
            // No session yet: start one; the caller pings again.
            self.initiate(now, peer);
        }
        Ok(nonce)
    }

    /// Handles a ping or pong from `from`.
    pub(crate) fn consume_echo(&mut self, now: Instant, from: NodeId, e: Echo) {
        if !e.pong {
            let mut msg = Vec::with_capacity(ping::LEN);
            let pong = Echo {
                pong: true,
                nonce: e.nonce,
            };
            ping::emit(pong, &mut msg);
            self.send_encrypted(now, from, &msg);
            return;
        }
        if self.link_pong(now, from, e.nonce) {
            return;
        }
        self.pings
            .pending
            .retain(|(_, _, at)| now.saturating_duration_since(*at) < PING_TIMEOUT);
        let Some(i) = self
            .pings
            .pending
            .iter()
            .position(|(n, p, _)| *n == e.nonce && *p == from)
        else {
            return;
        };
        let (nonce, peer, sent) = self.pings.pending.remove(i).expect("found");
        self.events.push_back(Event::Pong(Pong {
            nonce,
            peer,
            path: self.path_to(&peer, now),
            rtt: now.saturating_duration_since(sent),
        }));
    }
}
