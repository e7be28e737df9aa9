//! The stack's clock: tokio time, and its translation to smoltcp's.
//!
//! The run loop is the only reader of the clock, through [`now`]; smoltcp
//! and the socket tables get the time as an argument.

use tokio::time::Instant;

/// The current tokio time: the stack's one reading of the clock.
// The stack's clock module, its only reader of the clock (see the
// workspace's clippy.toml).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Tokio time since the stack started, as smoltcp wants it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose smoltcp time starts at zero now.
    pub(crate) fn start() -> Self {
        Self { epoch: now() }
    }

    /// The current time.
    pub(crate) fn now(&self) -> Instant {
        now()
    }

    /// `at` on smoltcp's clock.
    pub(crate) fn to_smoltcp(self, at: Instant) -> smoltcp::time::Instant {
        let micros = at.saturating_duration_since(self.epoch).as_micros();
        smoltcp::time::Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}
