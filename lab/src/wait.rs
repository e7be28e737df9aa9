//! Deadline-bounded polling: the only way the lab waits for a condition.
//!
//! Generic over the caller's error type, so that a caller with its own
//! errors (anyhow in tests, [`crate::Error`] here) keeps them; a timeout
//! becomes that type through `From<TimedOut>`.

use std::time::{Duration, Instant};

use crate::error::TimedOut;

/// How often [`poll`] retries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Calls `attempt` every [`POLL_INTERVAL`] until it returns `Ok(Some(_))`,
/// and fails with [`TimedOut`] once `timeout` has passed.
///
/// `attempt` returns `Ok(None)` to keep polling and `Err` to give up at once.
/// `what` names the condition in the timeout error.
pub fn poll<T, E: From<TimedOut>>(
    what: &str,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(TimedOut {
                what: what.to_owned(),
                timeout,
            }
            .into());
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Calls `check` every [`POLL_INTERVAL`] for the whole of `window`, failing
/// as soon as it fails: asserts that something stays true for a while.
pub fn holds_for<E>(window: Duration, mut check: impl FnMut() -> Result<(), E>) -> Result<(), E> {
    let deadline = Instant::now() + window;
    loop {
        check()?;
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}
