//! The gateway's epoch: seconds since its mapping state was last reset,
//! carried in every NAT-PMP and PCP response. When it goes backwards, or
//! advances much slower or faster than the client's own clock, the gateway
//! has restarted and lost its mappings (RFC 6887 section 8.5, RFC 6886
//! section 3.6), and the client must map again at once.

use std::time::Instant;

/// The last epoch seen and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochClock {
    server: u32,
    client: Instant,
}

impl EpochClock {
    /// The first sample.
    pub fn new(server: u32, now: Instant) -> Self {
        Self {
            server,
            client: now,
        }
    }

    /// Checks a new sample against the last one and keeps it; returns
    /// `false` if the gateway lost its state in between.
    pub fn observe(&mut self, server: u32, now: Instant) -> bool {
        let valid = self.is_consistent(server, now);
        self.server = server;
        self.client = now;
        valid
    }

    fn is_consistent(&self, server: u32, now: Instant) -> bool {
        // Backwards by more than a second: obviously a new epoch.
        if u64::from(server) + 1 < u64::from(self.server) {
            return false;
        }
        let server_delta = u64::from(server.saturating_sub(self.server));
        let client_delta = now.saturating_duration_since(self.client).as_secs();
        // Either clock may drift by 1/16 plus two seconds of slack.
        !(client_delta + 2 < server_delta - server_delta / 16
            || server_delta + 2 < client_delta - client_delta / 16)
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn steady_clock_is_consistent() {
        let t0 = Instant::now();
        let mut e = EpochClock::new(100, t0);
        assert!(e.observe(100, t0));
        assert!(e.observe(160, t0 + Duration::from_secs(60)));
        assert!(e.observe(3760, t0 + Duration::from_secs(3661)));
    }

    #[test]
    fn backwards_is_a_restart() {
        let t0 = Instant::now();
        let mut e = EpochClock::new(5000, t0);
        assert!(!e.observe(12, t0 + Duration::from_secs(60)));
        // The new epoch is then the reference.
        assert!(e.observe(72, t0 + Duration::from_secs(120)));
        // One second backwards is tolerated (rounding).
        assert!(e.observe(71, t0 + Duration::from_secs(120)));
    }

    #[test]
    fn slow_server_clock_is_a_restart() {
        // The gateway restarted 3500 s ago, and our last sample was an hour
        // ago at epoch 3600: the epoch advanced by less than 7/8 of our time.
        let t0 = Instant::now();
        let mut e = EpochClock::new(3600, t0);
        assert!(!e.observe(3700, t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn fast_server_clock_is_a_restart_too() {
        let t0 = Instant::now();
        let mut e = EpochClock::new(10, t0);
        assert!(!e.observe(1000, t0 + Duration::from_secs(100)));
    }
}
