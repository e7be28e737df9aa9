//! Virtual time: nanoseconds since the start of a simulated world.
//!
//! Nothing in the simulator reads a clock. A [`SimTime`] becomes the
//! [`std::time::Instant`] a node wants by adding it to one base instant that
//! the world picks at creation, so only differences between instants matter
//! and a run never depends on when it happens.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point in virtual time: nanoseconds since the world started.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

impl SimTime {
    /// The start of the world.
    pub const ZERO: Self = Self(0);

    /// The time `d` after the start.
    pub fn from_duration(d: Duration) -> Self {
        Self(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the start.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The time since the start, as a duration.
    pub fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Seconds since the start.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds since the start.
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for SimTime {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(Self::from_duration(d).0))
    }
}

impl AddAssign<Duration> for SimTime {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub for SimTime {
    type Output = Duration;
    /// The duration between two times.
    ///
    /// # Panics
    /// Panics if `rhs` is later than `self`.
    fn sub(self, rhs: Self) -> Duration {
        Duration::from_nanos(
            self.0
                .checked_sub(rhs.0)
                .expect("subtracting a later SimTime"),
        )
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

/// `n` seconds, for scenario code: `w.run_for(secs(10))`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` milliseconds.
pub fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let t = SimTime::ZERO + secs(2) + millis(5);
        assert_eq!(t.as_millis(), 2005);
        assert_eq!(t - SimTime::ZERO, millis(2005));
        assert_eq!(SimTime::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(format!("{t}"), "2.005s");
    }
}

/// The virtual time of the latest event any world ran, for log lines (a
/// replay runs one world, so its log reads in virtual time).
static LOG_CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sets the virtual time that log lines show.
pub fn set_log_clock(t: SimTime) {
    LOG_CLOCK.store(t.0, std::sync::atomic::Ordering::Relaxed);
}

/// Log lines stamped with the virtual time of the event being run.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogClock;

impl tracing_subscriber::fmt::time::FormatTime for LogClock {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> fmt::Result {
        let ns = LOG_CLOCK.load(std::sync::atomic::Ordering::Relaxed);
        write!(w, "{:>9.3}s", ns as f64 / 1e9)
    }
}
