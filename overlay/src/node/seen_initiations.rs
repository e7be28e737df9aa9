//! Initiations seen lately, so that a replayed one is dropped before any
//! Diffie-Hellman: a captured initiation sent again (at any rate, from
//! anywhere) costs a hash lookup, not two scalar multiplications.
//!
//! An initiation is named by its MAC, which covers every byte before it and
//! which only a member can compute: a replay carries the same MAC, and a
//! changed byte needs a new MAC. Every initiation whose MAC verifies is
//! remembered, answered or not, so even one that fails later costs its
//! Diffie-Hellman once. A node's own retransmissions are new initiations
//! (new ephemeral key, new timestamp), never taken for replays.
//!
//! The set is bounded ([`CAPACITY`]) and forgets the oldest first, and after
//! [`KEPT_FOR`]; a replay older than that is still refused by its timestamp
//! (not newer than the last one accepted from its peer), after the
//! Diffie-Hellman that reads it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::wire::mac::MAC_LEN;

/// Initiations remembered at most.
pub(crate) const CAPACITY: usize = 8192;
/// How long an initiation is remembered.
pub(crate) const KEPT_FOR: Duration = Duration::from_secs(180);

/// The MACs of recent initiations, oldest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeenInitiations {
    set: ahash::HashSet<[u8; MAC_LEN]>,
    order: VecDeque<([u8; MAC_LEN], Instant)>,
}

impl SeenInitiations {
    /// Remembers `mac`; false if it was seen already (a replay).
    pub(crate) fn first_time(&mut self, now: Instant, mac: [u8; MAC_LEN]) -> bool {
        while let Some(&(old, at)) = self.order.front() {
            if self.order.len() < CAPACITY && now.saturating_duration_since(at) < KEPT_FOR {
                break;
            }
            self.order.pop_front();
            self.set.remove(&old);
        }
        if !self.set.insert(mac) {
            return false;
        }
        self.order.push_back((mac, now));
        true
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_is_new_once_until_forgotten() {
        let mut seen = SeenInitiations::default();
        let t0 = Instant::now();
        assert!(seen.first_time(t0, [1; MAC_LEN]));
        assert!(!seen.first_time(t0, [1; MAC_LEN]));
        assert!(seen.first_time(t0, [2; MAC_LEN]));
        assert!(!seen.first_time(t0 + KEPT_FOR / 2, [1; MAC_LEN]));
        // Forgotten after KEPT_FOR.
        assert!(seen.first_time(t0 + KEPT_FOR, [1; MAC_LEN]));
    }

    #[test]
    fn the_set_is_bounded_and_forgets_the_oldest() {
        let mut seen = SeenInitiations::default();
        let t0 = Instant::now();
        for i in 0..CAPACITY as u32 + 10 {
            let mut mac = [0u8; MAC_LEN];
            mac[..4].copy_from_slice(&i.to_le_bytes());
            assert!(seen.first_time(t0, mac));
        }
        assert!(seen.set.len() <= CAPACITY && seen.order.len() <= CAPACITY);
        // The newest are still known, the oldest forgotten.
        let newest = (CAPACITY as u32 + 9).to_le_bytes();
        let mut mac = [0u8; MAC_LEN];
        mac[..4].copy_from_slice(&newest);
        assert!(!seen.first_time(t0, mac));
        assert!(seen.first_time(t0, [0; MAC_LEN]));
    }
}
