//! When this node sends its LAN beacons: a small machine the node owns, so
//! that the schedule runs in virtual time like every other timer.
//!
//! Off until the driver says that it listens on the discovery port
//! ([`super::Node::start_lan_beacons`]). From then on it is due at once,
//! and every [`LAN_BEACON_INTERVAL`] after each round: the node then puts
//! out [`super::Event::LanBeaconDue`], and the driver sends one beacon per
//! discovery group and interface, each from [`super::Node::lan_beacon`].
//! It never reads a clock: `now` is an argument.

use std::time::Instant;

use crate::limits::LAN_BEACON_INTERVAL;

/// The beacon schedule. See the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct BeaconSchedule {
    /// When the next round is due (`None`: LAN discovery is off).
    next: Option<Instant>,
}

impl BeaconSchedule {
    /// Turns the schedule on, the first round due at `now`; no change if
    /// it is on already.
    pub(crate) fn start(&mut self, now: Instant) {
        self.next.get_or_insert(now);
    }

    /// Turns the schedule off.
    pub(crate) fn stop(&mut self) {
        self.next = None;
    }

    /// When the next round is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.next
    }

    /// Whether a round is due at `now`; if so, the next one is scheduled.
    pub(crate) fn take_due(&mut self, now: Instant) -> bool {
        match self.next {
            Some(at) if at <= now => {
                self.next = Some(now + LAN_BEACON_INTERVAL);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn off_until_started_then_every_interval() {
        let t0 = Instant::now();
        let mut s = BeaconSchedule::default();
        assert_eq!(s.deadline(), None);
        assert!(!s.take_due(t0));
        s.start(t0);
        assert_eq!(s.deadline(), Some(t0));
        assert!(s.take_due(t0));
        assert!(!s.take_due(t0));
        assert_eq!(s.deadline(), Some(t0 + LAN_BEACON_INTERVAL));
        // Starting again changes nothing; a late round counts from when it ran.
        s.start(t0 + Duration::from_secs(1));
        assert_eq!(s.deadline(), Some(t0 + LAN_BEACON_INTERVAL));
        let late = t0 + LAN_BEACON_INTERVAL + Duration::from_secs(3);
        assert!(s.take_due(late));
        assert_eq!(s.deadline(), Some(late + LAN_BEACON_INTERVAL));
        s.stop();
        assert_eq!(s.deadline(), None);
        assert!(!s.take_due(late + Duration::from_secs(3600)));
    }
}
