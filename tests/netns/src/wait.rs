//! Deadline-bounded polling: the only way tests wait for a condition.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// How often [`poll`] retries.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Calls `attempt` every [`POLL_INTERVAL`] until it returns `Ok(Some(_))`,
/// and fails once `timeout` has passed.
///
/// `attempt` returns `Ok(None)` to keep polling and `Err` to give up at once.
/// `what` names the condition in the timeout error.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        let now = Instant::now();
        if now >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Calls `check` every [`POLL_INTERVAL`] for the whole of `window`, failing
/// as soon as it fails: asserts that something stays true for a while.
pub fn holds_for(window: Duration, mut check: impl FnMut() -> Result<()>) -> Result<()> {
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
