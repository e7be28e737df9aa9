//! Routes: a distance-vector protocol carried by gossip, which picks for
//! each member we have no direct path to the next hop that signals and
//! relayed frames for it go to.
//!
//! Each member measures its direct sessions (round-trip time and loss, from
//! handshakes, path probes and a ping to each neighbour with every gossip
//! message) and turns them into a **link cost**. Gossip announces, with each
//! member, the sender's route cost to it. A node takes, for each member it
//! has no direct path to, the route through the neighbour with the least
//! total cost, under two rules:
//!
//! - **Feasibility** (as in Babel, RFC 8966 §2.4): a route through a new
//!   neighbour is taken only if that neighbour's own cost is below the least
//!   cost we have had for that member since we last had no route. Such a
//!   neighbour cannot be routing through us, so no loop forms.
//! - **Hysteresis**: a new neighbour must be at least 10 % cheaper than the
//!   current one, so routes do not flap between near-equal paths.
//!
//! - **A cap on route claims per neighbour**: a neighbour is *over its
//!   share* while it is the next hop of at least [`ROUTE_CLAIM_ALLOWANCE`]
//!   members more than all other neighbours together. Over its share, it
//!   takes no route away from another neighbour, however cheap its claim;
//!   and a route through it goes, whatever the costs, to another neighbour
//!   under its share that announces the member (the route starts afresh,
//!   since the feasibility bound the claims set would keep it). Routes are
//!   not signed, so any neighbour can claim any cost: one that claims cheap
//!   routes to everyone is the next hop of every member nobody else
//!   announces, and of at most half of the others plus the allowance.
//!   Claimed costs below [`MIN_CLAIMED_COST`] (no path costs less) are
//!   raised to it.
//!
//! Updates from the current next hop are always taken (its cost may rise).
//! The best other feasible neighbour is kept as a backup. When the next hop
//! stops answering, the backup takes over at once if it answers; otherwise
//! the route is dropped, and the feasibility bound with it. Relay frames also carry a hop limit, which ends any loop
//! that a dropped bound lets form for a moment.

use std::time::{Duration, Instant};

use super::peer::Peer;
use super::Node;
use crate::identity::NodeId;
use crate::wire::gossip::UNREACHABLE;

/// Cost of a link we have no round-trip sample for (ms).
const UNMEASURED_COST: u32 = 100;
/// Weight of the newest round-trip sample in the smoothed RTT.
const RTT_GAIN: f64 = 0.125;
/// Weight of the newest sample in the loss estimate.
const LOSS_GAIN: f32 = 0.25;
/// How many members one neighbour may be the next hop of beyond those that
/// all other neighbours together are the next hop of.
pub(crate) const ROUTE_CLAIM_ALLOWANCE: usize = 64;
/// The least route cost a neighbour can claim: a link costs at least 1.
const MIN_CLAIMED_COST: u16 = 1;

/// Our route to one member.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// The neighbour we hand its signals and relayed frames to, if we
    /// have a route.
    pub(crate) next_hop: Option<NodeId>,
    /// Our cost to it through `next_hop`.
    pub(crate) metric: u16,
    /// The least cost we had for it since we last had no route.
    pub(crate) feasible: u16,
    /// The best other feasible neighbour and its cost: taken at once when
    /// the next hop stops answering, without waiting for gossip.
    pub(crate) backup: Option<(NodeId, u16)>,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            next_hop: None,
            metric: UNREACHABLE,
            feasible: UNREACHABLE,
            backup: None,
        }
    }
}

/// Link quality of a direct session.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LinkQuality {
    /// Smoothed round-trip time.
    pub(crate) srtt: Option<Duration>,
    /// Estimated loss, 0 to 1.
    pub(crate) loss: f32,
    /// The neighbour ping in flight: its nonce and when it left.
    pub(crate) ping: Option<(u64, Instant)>,
}

impl LinkQuality {
    /// Adds a round-trip sample.
    pub(crate) fn rtt_sample(&mut self, rtt: Duration) {
        self.srtt = Some(match self.srtt {
            None => rtt,
            Some(s) => s.mul_f64(1.0 - RTT_GAIN) + rtt.mul_f64(RTT_GAIN),
        });
    }

    /// Adds a loss sample (a ping answered or not).
    pub(crate) fn loss_sample(&mut self, lost: bool) {
        self.loss = self.loss * (1.0 - LOSS_GAIN) + if lost { LOSS_GAIN } else { 0.0 };
    }

    /// The link's cost: milliseconds of round trip, tripled at full loss
    /// (an expected-transmissions weighting), at least 1.
    pub(crate) fn cost(&self) -> u32 {
        let ms = self
            .srtt
            .map_or(UNMEASURED_COST, |r| (r.as_micros() / 1000) as u32)
            .max(1);
        (ms as f32 * (1.0 + 3.0 * self.loss)).round() as u32
    }
}

impl Node {
    /// Our route cost to `p` as we announce it: the link cost if it answers
    /// on a direct session, else the cost through its next hop, else
    /// [`UNREACHABLE`].
    pub(crate) fn announced_metric(&self, p: &Peer, now: Instant) -> u16 {
        if p.relay_hop.is_none() && p.reachable(now) {
            return p.link.cost().min(u32::from(UNREACHABLE - 1)) as u16;
        }
        match p.route.next_hop {
            Some(v) if self.peers.get(&v).is_some_and(|h| h.reachable(now)) => p.route.metric,
            _ => UNREACHABLE,
        }
    }

    /// Takes gossip's news that `from` reaches `id` at cost `metric`.
    pub(crate) fn route_update(&mut self, now: Instant, from: NodeId, id: NodeId, metric: u16) {
        if let Some(cost) = self.hop_cost(now, &from) {
            self.route_update_through(now, from, cost, id, metric);
        }
    }

    /// The link cost to `hop`, if it takes routed traffic (it answers).
    pub(crate) fn hop_cost(&self, now: Instant, hop: &NodeId) -> Option<u32> {
        self.peers
            .get(hop)
            .filter(|h| h.reachable(now))
            .map(|h| h.link.cost())
    }

    /// [`Self::route_update`] for a `from` known to answer, at link cost
    /// `hop_cost` (one message of gossip brings news of many members).
    pub(crate) fn route_update_through(
        &mut self,
        now: Instant,
        from: NodeId,
        hop_cost: u32,
        id: NodeId,
        metric: u16,
    ) {
        let metric = metric.max(MIN_CLAIMED_COST);
        let total = u32::from(metric)
            .saturating_add(hop_cost)
            .min(u32::from(UNREACHABLE - 1)) as u16;
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let (next_hop, backup) = (p.route.next_hop, p.route.backup);
        // The cap on route claims: a neighbour that carries more than its
        // share takes no route from another, and gives routes up to one
        // that carries less.
        let mut over = |hop: NodeId| {
            let (through, routed) = self.peers.routes_through(&hop);
            through >= ROUTE_CLAIM_ALLOWANCE + (routed - through)
        };
        let contested = next_hop.filter(|v| *v != from && metric != UNREACHABLE);
        let (capped, rebalance) = match contested {
            Some(_) if over(from) => (true, false),
            Some(v) => (false, over(v)),
            None => (false, false),
        };
        let answers = |v: NodeId| v == from || self.peers.get(&v).is_some_and(|h| h.reachable(now));
        let current_alive = next_hop.is_some_and(answers);
        let backup = backup.filter(|(b, _)| answers(*b));
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if rebalance && current_alive {
            // Its next hop carries more than its share: the route starts
            // afresh through `from` (the feasibility bound that the
            // over-share claims set would keep it).
            peer.route = Route::default();
        }
        if !current_alive {
            match backup {
                // The next hop is gone: the backup takes over.
                Some((b, m)) => {
                    peer.route.next_hop = Some(b);
                    peer.route.metric = m;
                    peer.route.backup = None;
                }
                // Nothing left: start afresh.
                None => {
                    peer.route = Route::default();
                }
            }
        }
        if metric == UNREACHABLE {
            if peer.route.next_hop == Some(from) {
                peer.route.next_hop = None;
                peer.route.metric = UNREACHABLE;
            }
            if peer.route.backup.is_some_and(|(b, _)| b == from) {
                peer.route.backup = None;
            }
            return;
        }
        let take = if peer.route.next_hop == Some(from) {
            true
        } else {
            let feasible = metric < peer.route.feasible;
            let better = peer.route.next_hop.is_none()
                || u32::from(total) * 10 < u32::from(peer.route.metric) * 9;
            if feasible && better && capped {
                self.relay.stats.route_claims_capped += 1;
            }
            feasible && better && !capped
        };
        if take {
            if let Some(old) = peer.route.next_hop.filter(|v| *v != from) {
                // The route we leave is still a way there.
                peer.route.backup = Some((old, peer.route.metric));
            }
            peer.route.next_hop = Some(from);
            peer.route.metric = total;
            peer.route.feasible = peer.route.feasible.min(total);
            if peer.route.backup.is_some_and(|(b, _)| b == from) {
                peer.route.backup = None;
            }
        } else if metric < peer.route.feasible
            && !capped
            && peer
                .route
                .backup
                .is_none_or(|(b, m)| b == from || total < m)
        {
            peer.route.backup = Some((from, total));
        }
    }

    /// Pings neighbour `to` to measure the link, counting the last ping a
    /// loss if it went unanswered.
    pub(crate) fn link_ping(&mut self, now: Instant, to: NodeId) {
        let nonce = rand_core::RngCore::next_u64(&mut self.rng);
        let Some(p) = self.peers.get_mut(&to) else {
            return;
        };
        if p.link.ping.take().is_some() {
            p.link.loss_sample(true);
        }
        p.link.ping = Some((nonce, now));
        let mut msg = Vec::with_capacity(crate::wire::ping::LEN);
        crate::wire::ping::emit(crate::wire::ping::Echo { pong: false, nonce }, &mut msg);
        self.send_encrypted(now, to, &msg);
    }

    /// A pong from `from`: returns whether it answered a link ping.
    pub(crate) fn link_pong(&mut self, now: Instant, from: NodeId, nonce: u64) -> bool {
        let Some(p) = self.peers.get_mut(&from) else {
            return false;
        };
        match p.link.ping {
            Some((n, sent)) if n == nonce => {
                p.link.ping = None;
                if p.relay_hop.is_none() {
                    p.link.rtt_sample(now.saturating_duration_since(sent));
                }
                p.link.loss_sample(false);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_grows_with_rtt_and_loss() {
        let mut q = LinkQuality::default();
        assert_eq!(q.cost(), UNMEASURED_COST);
        q.rtt_sample(Duration::from_millis(20));
        assert_eq!(q.cost(), 20);
        q.loss_sample(true);
        assert!(q.cost() > 20);
        for _ in 0..40 {
            q.loss_sample(false);
        }
        assert_eq!(q.cost(), 20);
    }
}
