//! The clock window: how far the timestamp inside a MAC'd message (a LAN
//! beacon, a hello) may be from the receiver's clock, and a warning, now
//! and then, about messages refused because a clock is out of it.
//!
//! A member whose clock is more than [`CLOCK_WINDOW`] off the receiver's
//! gets its beacons and hellos refused: a sniffed copy cannot be replayed
//! later. Such a member still connects through bootstrap, gossip and
//! handshakes (whose own timestamps only need to increase); the receiver
//! counts each refusal and logs a warning at most every [`WARN_EVERY`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How far a beacon's or hello's timestamp may be from the receiver's
/// clock, either way.
pub(crate) const CLOCK_WINDOW: Duration = Duration::from_secs(120);

/// Shortest time between two warnings of one kind.
const WARN_EVERY: Duration = Duration::from_secs(600);

/// How far `theirs_ms` is ahead of `ours_ms` (negative: behind), if that is
/// outside [`CLOCK_WINDOW`]; `None` if it is inside.
pub(crate) fn outside(theirs_ms: u64, ours_ms: u64) -> Option<i64> {
    let window = CLOCK_WINDOW.as_millis() as u64;
    if theirs_ms.abs_diff(ours_ms) <= window {
        return None;
    }
    let skew = i64::try_from(theirs_ms.abs_diff(ours_ms)).unwrap_or(i64::MAX);
    Some(if theirs_ms > ours_ms { skew } else { -skew })
}

/// The node's warnings about messages refused for their sender's clock,
/// one of each kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct SkewWarnings {
    /// LAN beacons refused.
    pub(crate) beacon: SkewWarning,
    /// Hellos refused.
    pub(crate) hello: SkewWarning,
}

/// A rate-limited warning about messages refused for their clock.
#[derive(Clone, Debug, Default)]
pub(crate) struct SkewWarning {
    last: Option<Instant>,
}

impl SkewWarning {
    /// Logs, unless it did within [`WARN_EVERY`], that a `what` from
    /// `from` was refused because its clock is `skew_ms` off ours; says
    /// whether it logged.
    pub(crate) fn warn(
        &mut self,
        now: Instant,
        what: &str,
        from: SocketAddr,
        skew_ms: i64,
    ) -> bool {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < WARN_EVERY)
        {
            return false;
        }
        self.last = Some(now);
        let (dir, secs) = if skew_ms > 0 {
            ("ahead of", skew_ms / 1000)
        } else {
            ("behind", -skew_ms / 1000)
        };
        tracing::warn!(
            %from,
            skew_s = skew_ms / 1000,
            "refusing a {what}: its sender's clock is {secs} s {dir} ours, more than the \
             {} s allowed; set the clocks right (NTP) for LAN discovery and hellos to work \
             (further refusals are counted, and warned about every {} min)",
            CLOCK_WINDOW.as_secs(),
            WARN_EVERY.as_secs() / 60,
        );
        true
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_either_way_and_no_further() {
        let ours = 1_800_000_000_000;
        let w = CLOCK_WINDOW.as_millis() as u64;
        assert_eq!(outside(ours, ours), None);
        assert_eq!(outside(ours + w, ours), None);
        assert_eq!(outside(ours - w, ours), None);
        assert_eq!(outside(ours + w + 1, ours), Some(w as i64 + 1));
        assert_eq!(outside(ours - w - 1, ours), Some(-(w as i64) - 1));
        assert_eq!(outside(0, ours), Some(-(ours as i64)));
        assert_eq!(outside(u64::MAX, 0), Some(i64::MAX));
    }

    #[test]
    fn warnings_come_at_most_every_ten_minutes() {
        let now = Instant::now();
        let from: SocketAddr = "198.18.1.3:9741".parse().unwrap();
        let mut w = SkewWarning::default();
        assert!(w.warn(now, "beacon", from, -300_000));
        assert!(!w.warn(now + Duration::from_secs(599), "beacon", from, 300_000));
        assert!(w.warn(now + WARN_EVERY, "beacon", from, 300_000));
    }
}
