//! The node's time base: the instant it started at and the wall-clock time
//! then, so that node instants and wall-clock milliseconds convert both
//! ways without reading a clock, and the strictly increasing timestamps
//! that handshakes and signed messages carry.

use std::time::{Duration, Instant};

/// The node's time origin and its last timestamp.
#[derive(Clone, Debug)]
pub(super) struct TimeBase {
    /// The `now` the node was created at.
    origin: Instant,
    /// Wall-clock time at `origin`, in ms since the Unix epoch.
    origin_unix_ms: u64,
    /// The last timestamp given out by [`TimeBase::timestamp_ms`].
    last_timestamp_ms: u64,
}

impl TimeBase {
    /// A time base whose origin `origin` is at wall-clock `unix_ms`.
    pub(super) fn new(origin: Instant, unix_ms: u64) -> Self {
        Self {
            origin,
            origin_unix_ms: unix_ms,
            last_timestamp_ms: 0,
        }
    }

    /// The instant the node was created at.
    pub(super) fn origin(&self) -> Instant {
        self.origin
    }

    /// `at`, or the first instant after it on the grid of `tick`s from the
    /// origin: timers that need not be exact land on shared instants, so
    /// that one wakeup serves many members.
    pub(super) fn on_grid(&self, at: Instant, tick: Duration) -> Instant {
        let since = at.saturating_duration_since(self.origin).as_nanos();
        let tick = tick.as_nanos().max(1);
        let rest = since % tick;
        if rest == 0 {
            return at;
        }
        // Below a tick: always fits a u64 of nanoseconds.
        at + Duration::from_nanos(u64::try_from(tick - rest).unwrap_or(u64::MAX))
    }

    /// Milliseconds since the Unix epoch at `now`, strictly increasing.
    pub(super) fn timestamp_ms(&mut self, now: Instant) -> u64 {
        let wall = self.unix_ms_at(now);
        self.last_timestamp_ms = wall.max(self.last_timestamp_ms + 1);
        self.last_timestamp_ms
    }

    /// Wall-clock milliseconds at node instant `t` (the origin's, for an
    /// instant before it).
    pub(super) fn unix_ms_at(&self, t: Instant) -> u64 {
        let offset = t.saturating_duration_since(self.origin).as_millis() as u64;
        self.origin_unix_ms + offset
    }

    /// The node instant at wall-clock time `unix_ms` (`None` where an
    /// instant that far from the origin is not representable; the origin
    /// for a time before it that is not either).
    pub(super) fn instant_at_unix_ms(&self, unix_ms: u64) -> Option<Instant> {
        match unix_ms.checked_sub(self.origin_unix_ms) {
            Some(after) => self.origin.checked_add(Duration::from_millis(after)),
            None => self
                .origin
                .checked_sub(Duration::from_millis(self.origin_unix_ms - unix_ms))
                .or(Some(self.origin)),
        }
    }

    /// The node instant at wall-clock time `unix_ms`, or the origin if that
    /// time is before it.
    pub(super) fn instant_at_or_after_origin(&self, unix_ms: u64) -> Instant {
        self.origin + Duration::from_millis(unix_ms.saturating_sub(self.origin_unix_ms))
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_the_wall_clock_and_always_increase() {
        let origin = Instant::now();
        let mut t = TimeBase::new(origin, 1_000_000);
        assert_eq!(t.timestamp_ms(origin), 1_000_000);
        // Same instant again: one more.
        assert_eq!(t.timestamp_ms(origin), 1_000_001);
        assert_eq!(t.timestamp_ms(origin + Duration::from_secs(5)), 1_005_000);
    }

    #[test]
    fn instants_round_up_to_the_grid_from_the_origin() {
        let origin = Instant::now();
        let t = TimeBase::new(origin, 0);
        let ms = Duration::from_millis;
        let tick = Duration::from_secs(1);
        assert_eq!(t.on_grid(origin, tick), origin);
        assert_eq!(t.on_grid(origin + ms(1), tick), origin + ms(1000));
        assert_eq!(t.on_grid(origin + ms(30_999), tick), origin + ms(31_000));
        assert_eq!(t.on_grid(origin + ms(31_000), tick), origin + ms(31_000));
        // Before the origin: left as it is.
        let before = origin.checked_sub(ms(500));
        if let Some(before) = before {
            assert_eq!(t.on_grid(before, tick), before);
        }
    }

    #[test]
    fn instants_and_wall_clock_times_convert_both_ways() {
        let origin = Instant::now() + Duration::from_secs(3600);
        let t = TimeBase::new(origin, 1_000_000);
        let later = origin + Duration::from_millis(2500);
        assert_eq!(t.unix_ms_at(later), 1_002_500);
        assert_eq!(t.instant_at_unix_ms(1_002_500), Some(later));
        assert_eq!(
            t.instant_at_unix_ms(999_000),
            Some(origin - Duration::from_secs(1))
        );
        assert_eq!(t.instant_at_or_after_origin(999_000), origin);
        assert_eq!(t.instant_at_or_after_origin(1_002_500), later);
        // Before the origin, the origin's time.
        assert_eq!(t.unix_ms_at(origin - Duration::from_secs(1)), 1_000_000);
    }
}
