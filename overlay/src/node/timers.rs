//! Timers: [`Node::poll_timeout`] and [`Node::handle_timeout`] over the
//! timer table, and the timers of the members themselves (handshake
//! retransmission and give-up, rekeying, keepalives, gossip, session
//! expiry), member expiry and bootstrap hellos. Each peer keeps its own
//! deadlines; the node wakes at the earliest deadline of any machine.

use std::time::{Duration, Instant};

use super::roster::Roster;
use super::timer_table::Timer;
use super::{Node, MAIN_SOCKET};
use crate::identity::NodeId;
use crate::limits::{
    GOSSIP_INTERVAL, GOSSIP_TICK, HELLO_INTERVAL, MAX_NEIGHBOURS, PERSISTENT_KEEPALIVE,
    REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT,
};
use crate::session::Session;
use crate::wire::hello;

/// Longest interval between hellos to an unanswered bootstrap address.
const MAX_HELLO_INTERVAL: Duration = Duration::from_secs(16);
/// Unanswered hellos (2+4+8+16 s = 30 s) before warning the user.
const UNANSWERED_WARNING: u32 = 5;
/// How long after giving up on a member news of it does not restart handshakes.
const RECONNECT_INTERVAL: Duration = Duration::from_secs(60);
/// How often members are expired and neighbour places refilled.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(5);

/// Whether IP packets went to or came from `peer` within a rekey period.
fn active(peer: &super::peer::Peer, now: Instant) -> bool {
    peer.last_data
        .is_some_and(|t| now.saturating_duration_since(t) < REKEY_AFTER_TIME)
}

/// How long after its creation a session is rekeyed. The responder waits a
/// little longer than the initiator, so that usually only one side starts.
pub(super) fn rekey_after(session: &Session) -> Duration {
    if session.initiator {
        REKEY_AFTER_TIME
    } else {
        REKEY_AFTER_TIME + 2 * REKEY_TIMEOUT
    }
}

/// A neighbour's persistent keepalive is replaced by its gossip when that is
/// due within this: the gap between the two intervals, plus the gossip
/// grid's step. So a neighbour that hears nothing else from us gets gossip
/// every [`crate::limits::PERSISTENT_KEEPALIVE`] and no bare keepalives.
const GOSSIP_IN_PLACE: Duration = Duration::from_secs(6);
const _: () = assert!(
    GOSSIP_IN_PLACE.as_secs()
        >= GOSSIP_INTERVAL.as_secs() - PERSISTENT_KEEPALIVE.as_secs() + GOSSIP_TICK.as_secs()
);

impl Node {
    /// When [`Node::handle_timeout`] should next be called: the earliest
    /// deadline of the timer table, each slot read afresh from the state of
    /// its machine (see [`super::timer_table`]). Cheap enough to call after
    /// every input: O(log n) per member changed since the last call.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        for timer in Timer::ALL {
            let at = self.deadline_of(timer);
            self.timers.set(timer, at);
        }
        self.timers.next_timeout()
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            self.run_timer(timer, now);
        }
    }

    /// The next deadline of `timer`'s machine, from its state.
    pub(super) fn deadline_of(&mut self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::Bootstrap => self.bootstrap.iter().map(|b| b.next_hello).min(),
            Timer::Peers => self.peers.next_deadline(),
            Timer::Maintenance => (!self.peers.is_empty()).then_some(self.next_maintenance),
            // Until its first run (at the node's start) the traversal
            // machine has no schedule of its own.
            Timer::Traversal => {
                let own = self.traversal.next_deadline();
                if self.traversal.started() {
                    own
                } else {
                    let origin = self.time.origin();
                    Some(own.map_or(origin, |at| at.min(origin)))
                }
            }
            Timer::Lookups => self.lookup_deadline(),
            Timer::Records => self.record_deadline(),
            Timer::Stun => self.stun_deadline(),
            Timer::Rotation => self.rotation_deadline(),
            Timer::Certificates => self.certificate_deadline(),
            Timer::RevocationParts => self.revocation_parts_deadline(),
            Timer::LanBeacon => self.lan_beacons.deadline(),
            Timer::Names => self.name_deadline(),
        }
    }

    /// Runs what is due at `now` of `timer`'s machine; the machine checks
    /// its own deadlines, so running it early does nothing.
    fn run_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Bootstrap => self.bootstrap_timers(now),
            // In node ID order: the node's behaviour must not depend on the map's.
            Timer::Peers => {
                for pid in self.peers.take_due(now) {
                    self.peer_timers(now, pid);
                }
            }
            Timer::Maintenance => self.maintain_members(now),
            Timer::Traversal => self.traversal_timers(now),
            Timer::Lookups => self.lookup_timers(now),
            Timer::Records => self.record_timers(now),
            Timer::Stun => self.stun_timers(now),
            Timer::Rotation => self.rotation_timers(now),
            Timer::Certificates => self.expire_certificates(now),
            Timer::RevocationParts => self.revocation_parts_timers(now),
            Timer::LanBeacon => self.lan_beacon_timer(now),
            Timer::Names => self.name_timers(now),
        }
    }

    fn bootstrap_timers(&mut self, now: Instant) {
        for i in 0..self.bootstrap.len() {
            if self.bootstrap[i].next_hello > now {
                continue;
            }
            let addr = self.bootstrap[i].addr;
            let there = |p: &super::peer::Peer| p.endpoint == Some(addr) && p.connected(now);
            // The member found there last time, else a scan of all.
            let member = match self.bootstrap[i].member.and_then(|m| self.peers.get(&m)) {
                Some(p) if there(p) => Some(p.id),
                _ => self.peers.values().find(|p| there(p)).map(|p| p.id),
            };
            let b = &mut self.bootstrap[i];
            b.member = member;
            if member.is_some() {
                // Check again later: the member there may go away.
                b.unanswered = 0;
                b.interval = HELLO_INTERVAL;
                b.next_hello = now + MAX_HELLO_INTERVAL;
                continue;
            }
            b.next_hello = now + b.interval;
            b.interval = (b.interval * 2).min(MAX_HELLO_INTERVAL);
            b.unanswered += 1;
            if b.unanswered == UNANSWERED_WARNING {
                tracing::warn!(
                    peer = %addr,
                    "no member answers at this address: check that tessel runs there, that the UDP port is \
                     reachable, and that both sides use the same network key"
                );
            }
            let stamp = hello::stamp_of(self.unix_ms_at(now));
            let mut msg = Vec::with_capacity(hello::LEN);
            hello::emit(false, self.id.as_bytes(), stamp, &mut msg);
            self.keys.mac_to_any().seal(&mut msg);
            self.queue_datagram(MAIN_SOCKET, addr, msg.to_vec());
            // During a grace period, one under the old key too, for a
            // member there that has not got the new one.
            if let Some(old) = self.retiring_hello_mac(now) {
                old.seal(&mut msg);
                self.queue_datagram(MAIN_SOCKET, addr, msg.to_vec());
            }
        }
    }

    fn peer_timers(&mut self, now: Instant, pid: NodeId) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let Some(peer) = self.peers.get_mut(&pid) else {
            return;
        };
        let t = peer.timers.clone();

        if due(t.retransmit) {
            peer.timers.retransmit = None;
            let since = peer.handshake.as_ref().map_or(now, |h| h.attempts_since);
            if now.saturating_duration_since(since) >= REKEY_ATTEMPT_TIME {
                tracing::debug!(peer = %pid.short(), "handshake attempts timed out");
                if let Some(h) = peer.handshake.take() {
                    self.by_index.remove(&h.state.local_index);
                }
                peer.queue.clear();
                // Unreachable for now: let another member be a neighbour, and
                // before RECONNECT_INTERVAL try again only if traffic asks.
                peer.neighbour = false;
                peer.retry_at = Some(now + RECONNECT_INTERVAL);
            } else {
                self.send_initiation(now, pid, since);
            }
        }
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if due(t.connect) {
            peer.timers.connect = None;
            if !peer.connected(now) {
                self.initiate(now, pid);
            }
        }
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if due(t.new_handshake) {
            // We sent data and heard nothing back: the session may be dead.
            peer.timers.new_handshake = None;
            self.initiate(now, pid);
        }
        if due(t.session_check) {
            self.check_sessions(now, pid);
        }
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if due(t.keepalive) {
            peer.timers.keepalive = None;
            self.send_keepalive(now, pid);
        }
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if due(t.persistent_keepalive) {
            peer.timers.persistent_keepalive = None;
            if peer.connected(now) && peer.neighbour {
                if peer
                    .timers
                    .gossip
                    .is_some_and(|g| g <= now + GOSSIP_IN_PLACE)
                {
                    // Gossip due soon goes now instead (below): it holds
                    // the path open as well, and the neighbour gets one
                    // message rather than two a few seconds apart.
                    peer.timers.gossip = Some(now);
                } else {
                    self.send_keepalive(now, pid);
                }
            }
        }
        let next_gossip = self.time.on_grid(now + GOSSIP_INTERVAL, GOSSIP_TICK);
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if due(peer.timers.gossip) {
            peer.timers.gossip = None;
            // Our neighbours, and members whose neighbour we are, hear our
            // news; sessions kept only for traffic carry none, and lapse
            // when the traffic stops.
            if peer.connected(now) {
                peer.timers.gossip = Some(next_gossip);
                if peer.gossip_partner(now) {
                    self.send_gossip(now, pid);
                }
            }
        }
    }

    /// Rekeys an ageing session and discards expired ones.
    fn check_sessions(&mut self, now: Instant, pid: NodeId) {
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        peer.timers.session_check = None;
        let mut freed = Vec::new();
        for slot in [&mut peer.current, &mut peer.previous, &mut peer.next] {
            if slot
                .as_ref()
                .is_some_and(|s| s.age(now) >= REJECT_AFTER_TIME)
            {
                freed.extend(slot.take().map(|s| s.local_index));
            }
        }
        let mut rekey = false;
        // Sessions with neighbours and with members we talk to are kept fresh;
        // others lapse.
        let wanted = peer.neighbour || active(peer, now);
        match &peer.current {
            Some(s) if s.age(now) >= rekey_after(s) => {
                rekey = wanted;
                peer.timers.session_check = Some(s.created + REJECT_AFTER_TIME);
            }
            Some(s) => peer.timers.session_check = Some(s.created + rekey_after(s)),
            None if !freed.is_empty() && peer.neighbour => {
                // Expired without a new handshake: reconnect.
                peer.timers.connect = Some(now);
            }
            None => {}
        }
        for idx in freed {
            self.by_index.remove(&idx);
        }
        if rekey {
            self.initiate(now, pid);
        }
    }

    /// Forgets members of which there has been no news for [`crate::limits::PEER_EXPIRY`],
    /// and fills free neighbour places with the members of freshest news.
    fn maintain_members(&mut self, now: Instant) {
        if self.next_maintenance > now {
            return;
        }
        self.next_maintenance = now + MAINTENANCE_INTERVAL;
        // The table's expiry index gives the members whose news is stale,
        // in node ID order, without a pass over the others; those that
        // still have a session are kept (and looked at again later).
        let stale: Vec<NodeId> = self
            .peers
            .take_expired(now)
            .into_iter()
            .filter(|id| self.peers.get(id).is_some_and(|p| !p.connected(now)))
            .collect();
        for id in stale {
            tracing::info!(peer = %id.short(), "forgetting silent member");
            self.remove_peer(&id);
        }
        let free = MAX_NEIGHBOURS.saturating_sub(self.neighbour_count());
        if free > 0 {
            for id in freshest_candidates(self.peers.roster(), now, free) {
                self.make_neighbour(now, id, Duration::ZERO);
            }
        }
        self.fill_buckets(now);
    }
}

/// The `n` members with the freshest news that could become neighbours
/// (not one, an endpoint known, no handshake in flight, no retry pending),
/// freshest first; ties (never two equal node IDs) go to the higher ID.
/// One pass that keeps only the best `n` so far: the roster may hold
/// thousands.
fn freshest_candidates(roster: &Roster, now: Instant, n: usize) -> Vec<NodeId> {
    let key = |i: usize| (roster.freshness[i], roster.ids[i]);
    let mut best: Vec<usize> = Vec::with_capacity(n + 1);
    for i in 0..roster.len() {
        if roster.neighbour(i)
            || !roster.has_endpoint(i)
            || roster.handshake(i)
            || roster.retry_at[i].is_some_and(|t| t > now)
        {
            continue;
        }
        if best.len() == n && best.last().is_none_or(|&w| key(i) <= key(w)) {
            continue;
        }
        let k = key(i);
        let at = best.partition_point(|&j| key(j) > k);
        best.insert(at, i);
        best.truncate(n);
    }
    best.into_iter().map(|i| roster.ids[i]).collect()
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use crate::node::roster::Summary;
    use rand_chacha::ChaCha20Rng;
    use rand_core::{RngCore, SeedableRng};

    fn seed(a: u8, b: u8) -> [u8; 32] {
        let mut s = [0u8; 32];
        (s[0], s[1]) = (a, b);
        s
    }

    /// The one-pass choice equals sorting all candidates.
    #[test]
    fn freshest_candidates_equal_a_full_sort() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(100);
        for round in 0..40 {
            let mut roster = Roster::default();
            let members = 1 + rng.next_u32() as usize % 60;
            for m in 0..members {
                let bit = |rng: &mut ChaCha20Rng| rng.next_u32().is_multiple_of(4);
                roster.insert(Summary {
                    id: NodeKey::from_seed(seed(m as u8, round)).id(),
                    key: u128::from(rng.next_u64()),
                    // Few distinct times, so that ties are common.
                    freshness: t0 + Duration::from_secs(u64::from(rng.next_u32() % 5)),
                    retry_at: bit(&mut rng)
                        .then(|| t0 + Duration::from_secs(u64::from(rng.next_u32() % 200))),
                    has_endpoint: !bit(&mut rng),
                    neighbour: bit(&mut rng),
                    handshake: bit(&mut rng),
                });
            }
            for n in [1, 3, 8, 100] {
                let mut all: Vec<(Instant, NodeId)> = (0..roster.len())
                    .map(|i| roster.get(i))
                    .filter(|s| !s.neighbour && s.has_endpoint && !s.handshake)
                    .filter(|s| s.retry_at.is_none_or(|t| t <= now))
                    .map(|s| (s.freshness, s.id))
                    .collect();
                all.sort_unstable_by(|a, b| b.cmp(a));
                let expected: Vec<NodeId> = all.into_iter().take(n).map(|(_, id)| id).collect();
                assert_eq!(
                    freshest_candidates(&roster, now, n),
                    expected,
                    "round {round}, n {n}"
                );
            }
        }
    }
}
