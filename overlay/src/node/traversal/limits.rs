//! How much a signal can make this node send, and where.
//!
//! A member that asks this node to join a punch names the addresses to
//! probe. A hostile member could name a victim's address instead of its
//! own, so every punch this node joins, and every probe of a punch toward an
//! address it has not heard from, is counted here over a sliding
//! [`WINDOW`]:
//!
//! * joins per asking member ([`JOINS_PER_SENDER`]), per member that passed
//!   the signal on ([`JOINS_PER_FORWARDER`]) and in total ([`JOINS_TOTAL`]);
//! * probes per target IP address that has not proven to be the member's
//!   ([`TARGET_PROBES`], or [`VOUCHED_TARGET_PROBES`] when a member other
//!   than the asker reported the member at that address);
//! * ports beyond the named candidates (predicted ports, port windows, the
//!   birthday spray) only toward addresses that proved to be the member's or
//!   that another member vouched for (see `aim.rs`).
//!
//! Every table here is bounded; a full table refuses what is new rather
//! than forgetting what it counts.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::identity::NodeId;

/// The window over which joins and probes are counted.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Punches one member may make this node join per window. A member with
/// traffic waiting punches toward us at most `1 + FAST_RETRIES` times in a
/// row (`PUNCH_TIME`, 8 s, each), then once per `PUNCH_COOLDOWN` (20 s) at
/// most: six in a window, with one to spare for a restart.
pub(crate) const JOINS_PER_SENDER: usize = 7;
/// Punches joined per window on signals that one member passed on.
pub(crate) const JOINS_PER_FORWARDER: usize = 32;
/// Punches joined per window in all.
pub(crate) const JOINS_TOTAL: usize = 128;
/// Probes per window toward one IP address that no punch heard from and no
/// other member vouched for: the candidates themselves, a few rounds.
pub(crate) const TARGET_PROBES: u32 = 256;
/// Probes per window toward one IP address that a member other than the
/// asker reported as the asker's: enough for one birthday spray (2,048
/// probes) with the rounds around it.
pub(crate) const VOUCHED_TARGET_PROBES: u32 = 4096;
/// IP addresses whose probes are counted at once.
const MAX_TARGETS: usize = 4096;
/// Reports of members' addresses kept for vouching.
const MAX_VOUCHES: usize = 4096;
/// How long a report of a member's address vouches for it.
const VOUCH_LIFETIME: Duration = Duration::from_secs(600);

/// One punch joined.
#[derive(Debug, Clone, Copy)]
struct Join {
    at: Instant,
    sender: NodeId,
    forwarder: NodeId,
}

/// Probes toward one address in the current window.
#[derive(Debug, Clone, Copy)]
struct Budget {
    since: Instant,
    sent: u32,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinRefused {
    /// The asking member used its joins of the window.
    Sender,
    /// The member that passed the signal on used its joins of the window.
    Forwarder,
    /// The node joined [`JOINS_TOTAL`] punches this window.
    Total,
}

/// The counts behind the caps.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    /// Joins of the last window, oldest first.
    joins: VecDeque<Join>,
    /// Probes per target IP address.
    targets: BTreeMap<IpAddr, Budget>,
    /// Members' addresses as other members reported them (gossip).
    vouches: BTreeMap<(NodeId, IpAddr), Instant>,
}

impl Limits {
    /// Admits a punch that `sender` asked for through `forwarder` (the
    /// member whose session the signal came on), and counts it.
    pub(crate) fn admit_join(
        &mut self,
        now: Instant,
        sender: NodeId,
        forwarder: NodeId,
    ) -> Result<(), JoinRefused> {
        while self
            .joins
            .front()
            .is_some_and(|j| now.saturating_duration_since(j.at) >= WINDOW)
        {
            self.joins.pop_front();
        }
        if self.joins.len() >= JOINS_TOTAL {
            return Err(JoinRefused::Total);
        }
        if self.joins.iter().filter(|j| j.sender == sender).count() >= JOINS_PER_SENDER {
            return Err(JoinRefused::Sender);
        }
        if self
            .joins
            .iter()
            .filter(|j| j.forwarder == forwarder)
            .count()
            >= JOINS_PER_FORWARDER
        {
            return Err(JoinRefused::Forwarder);
        }
        self.joins.push_back(Join {
            at: now,
            sender,
            forwarder,
        });
        Ok(())
    }

    /// Counts one probe toward `ip`, which has not proven to be the
    /// member's; returns whether it may go. `vouched`: another member
    /// reported the member at `ip`.
    pub(crate) fn spend_probe(&mut self, now: Instant, ip: IpAddr, vouched: bool) -> bool {
        let cap = if vouched {
            VOUCHED_TARGET_PROBES
        } else {
            TARGET_PROBES
        };
        if !self.targets.contains_key(&ip) && self.targets.len() >= MAX_TARGETS {
            self.targets
                .retain(|_, b| now.saturating_duration_since(b.since) < WINDOW);
            if self.targets.len() >= MAX_TARGETS {
                return false;
            }
        }
        let b = self.targets.entry(ip).or_insert(Budget {
            since: now,
            sent: 0,
        });
        if now.saturating_duration_since(b.since) >= WINDOW {
            *b = Budget {
                since: now,
                sent: 0,
            };
        }
        if b.sent >= cap {
            return false;
        }
        b.sent += 1;
        true
    }

    /// Remembers that `by` reported `member` at `ip` (gossip; `by` is never
    /// `member` itself).
    pub(crate) fn vouch(&mut self, now: Instant, member: NodeId, ip: IpAddr) {
        let key = (member, ip.to_canonical());
        if !self.vouches.contains_key(&key) && self.vouches.len() >= MAX_VOUCHES {
            self.vouches
                .retain(|_, at| now.saturating_duration_since(*at) < VOUCH_LIFETIME);
            if self.vouches.len() >= MAX_VOUCHES {
                return;
            }
        }
        self.vouches.insert(key, now);
    }

    /// Whether a member other than `member` lately reported it at `ip`.
    pub(crate) fn vouched(&self, now: Instant, member: NodeId, ip: IpAddr) -> bool {
        self.vouches
            .get(&(member, ip.to_canonical()))
            .is_some_and(|at| now.saturating_duration_since(*at) < VOUCH_LIFETIME)
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;

    fn id(i: u8) -> NodeId {
        NodeKey::from_seed([i; 32]).id()
    }

    #[test]
    fn joins_are_capped_per_sender_forwarder_and_in_all() {
        let t0 = Instant::now();
        let mut l = Limits::default();
        for _ in 0..JOINS_PER_SENDER {
            assert_eq!(l.admit_join(t0, id(1), id(2)), Ok(()));
        }
        assert_eq!(l.admit_join(t0, id(1), id(3)), Err(JoinRefused::Sender));
        // Other senders through the same forwarder, up to its cap.
        let mut admitted = JOINS_PER_SENDER;
        let mut seed = 10u8;
        while admitted < JOINS_PER_FORWARDER {
            assert_eq!(l.admit_join(t0, id(seed), id(2)), Ok(()));
            admitted += 1;
            seed += 1;
        }
        assert_eq!(
            l.admit_join(t0, id(seed), id(2)),
            Err(JoinRefused::Forwarder)
        );
        // Other forwarders, up to the total.
        let mut fwd = 100u8;
        while admitted < JOINS_TOTAL {
            seed = seed.wrapping_add(1);
            if l.admit_join(t0, id(seed), id(fwd)).is_ok() {
                admitted += 1;
            } else {
                fwd += 1;
            }
        }
        assert_eq!(l.admit_join(t0, id(250), id(251)), Err(JoinRefused::Total));
        // A window later, all is forgotten.
        assert_eq!(l.admit_join(t0 + WINDOW, id(1), id(2)), Ok(()));
    }

    #[test]
    fn probes_to_an_address_are_capped_per_window() {
        let t0 = Instant::now();
        let mut l = Limits::default();
        let victim: IpAddr = "192.0.2.7".parse().unwrap();
        let sent = (0..10_000)
            .filter(|_| l.spend_probe(t0, victim, false))
            .count();
        assert_eq!(sent, TARGET_PROBES as usize);
        let vouched = (0..10_000)
            .filter(|_| l.spend_probe(t0, victim, true))
            .count();
        assert_eq!(vouched, (VOUCHED_TARGET_PROBES - TARGET_PROBES) as usize);
        let later = t0 + WINDOW;
        assert!(l.spend_probe(later, victim, false));
        assert!(l.spend_probe(later, "192.0.2.8".parse().unwrap(), false));
    }

    #[test]
    fn a_full_target_table_refuses_new_addresses_until_the_window_passes() {
        let t0 = Instant::now();
        let mut l = Limits::default();
        for i in 0..MAX_TARGETS as u32 {
            assert!(l.spend_probe(t0, IpAddr::from((0xc000_0200u32 + i).to_be_bytes()), false));
        }
        let new: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(!l.spend_probe(t0, new, false));
        assert!(l.spend_probe(t0 + WINDOW, new, false));
    }

    #[test]
    fn vouches_expire_and_name_one_member() {
        let t0 = Instant::now();
        let mut l = Limits::default();
        let ip: IpAddr = "198.51.100.9".parse().unwrap();
        l.vouch(t0, id(1), ip);
        assert!(l.vouched(t0, id(1), ip));
        assert!(!l.vouched(t0, id(2), ip));
        assert!(!l.vouched(t0 + VOUCH_LIFETIME, id(1), ip));
    }
}
