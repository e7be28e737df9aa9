//! The node's timers in one table: one slot per machine the node runs on a
//! schedule, each holding that machine's next deadline.
//!
//! **A deadline is derived, never armed by hand.** No code sets a slot to
//! wake the node: [`super::Node::poll_timeout`] fills every slot afresh from
//! the state of the machine it belongs to (a member's handshake timers, a
//! punch's rounds, a lookup's retry, …), then answers the earliest. A
//! machine that stores a deadline is therefore woken for it, whatever path
//! stored it; nothing has to remember to lower a cached wakeup.
//!
//! The members' own timers (handshake retransmission, keepalives, gossip,
//! rekeying, delayed connects) fill one slot, [`Timer::Peers`], from the
//! peer table's deadline index ([`super::peer_table`]), so that reading it
//! costs O(log n) per member changed since the last read, never a pass over
//! every member. The other slots read machines that hold at most a few
//! dozen deadlines each.
//!
//! [`super::Node::handle_timeout`] runs the machines in the table's order
//! ([`Timer::ALL`]); each runs what is due at `now` and leaves the rest.

use std::time::Instant;

/// A slot of the table: a machine of the node with deadlines of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Timer {
    /// Hellos to `--peer` addresses where no member answered yet.
    Bootstrap,
    /// The earliest timer of any member (see the module documentation).
    Peers,
    /// Forgetting silent members and refilling neighbour places.
    Maintenance,
    /// Hole punching: punch rounds, the NAT self-check, the periodic retry
    /// of relayed sessions.
    Traversal,
    /// Retries and give-ups of lookups for unknown overlay addresses.
    Lookups,
    /// Record fetches' retries and stored records' expiry.
    Records,
    /// STUN requests' retransmissions and rounds.
    Stun,
    /// The end of the retiring network key's grace.
    Rotation,
    /// Member certificates running out (managed mode).
    Certificates,
    /// Asking again for the missing parts of a long revocation list
    /// (managed mode).
    RevocationParts,
    /// The next LAN beacon, while LAN discovery is on.
    LanBeacon,
    /// Renewing this node's name claim, and forgetting fetched claims
    /// and pending name lookups that ran out.
    Names,
}

impl Timer {
    /// How many slots the table has.
    pub(crate) const COUNT: usize = 12;

    /// Every slot, in the order [`super::Node::handle_timeout`] runs them.
    pub(crate) const ALL: [Timer; Self::COUNT] = [
        Timer::Bootstrap,
        Timer::Peers,
        Timer::Maintenance,
        Timer::Traversal,
        Timer::Lookups,
        Timer::Records,
        Timer::Stun,
        Timer::Rotation,
        Timer::Certificates,
        Timer::RevocationParts,
        Timer::LanBeacon,
        Timer::Names,
    ];

    /// The slot's place in the table.
    const fn index(self) -> usize {
        self as usize
    }
}

/// One deadline per [`Timer`]; `None` means nothing is scheduled there.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct TimerTable {
    data: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    /// Files `at` as `timer`'s deadline (`None`: nothing scheduled).
    pub(crate) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.data[timer.index()] = at;
    }

    /// `timer`'s deadline as last filed.
    #[cfg(test)]
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer.index()]
    }

    /// The earliest deadline in the table.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }

    /// The slots due at `now`, in table order.
    #[cfg(test)]
    pub(crate) fn due(&self, now: Instant) -> impl Iterator<Item = Timer> + '_ {
        Timer::ALL
            .into_iter()
            .filter(move |t| self.get(*t).is_some_and(|at| at <= now))
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_slot_has_its_own_place_in_run_order() {
        for (i, t) in Timer::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i, "{t:?}");
        }
    }

    #[test]
    fn the_earliest_slot_is_the_next_timeout() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::Stun, Some(t0 + Duration::from_secs(3)));
        table.set(Timer::Peers, Some(t0 + Duration::from_secs(1)));
        table.set(Timer::LanBeacon, Some(t0 + Duration::from_secs(2)));
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_secs(1)));
        table.set(Timer::Peers, None);
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_secs(2)));
        let due: Vec<Timer> = table.due(t0 + Duration::from_secs(3)).collect();
        assert_eq!(due, vec![Timer::Stun, Timer::LanBeacon]);
    }
}
