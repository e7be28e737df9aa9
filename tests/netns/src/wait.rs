//! Deadline-bounded polling: the only way tests wait for a condition.
//! [`tessel_lab::wait`] with the tests' error type, so that closures need
//! no annotations.

use std::time::Duration;

use anyhow::Result;

pub use tessel_lab::wait::POLL_INTERVAL;

/// Calls `attempt` every [`POLL_INTERVAL`] until it returns `Ok(Some(_))`,
/// and fails once `timeout` has passed.
///
/// `attempt` returns `Ok(None)` to keep polling and `Err` to give up at once.
/// `what` names the condition in the timeout error.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    tessel_lab::wait::poll(what, timeout, attempt)
}

/// Calls `check` every [`POLL_INTERVAL`] for the whole of `window`, failing
/// as soon as it fails: asserts that something stays true for a while.
pub fn holds_for(window: Duration, check: impl FnMut() -> Result<()>) -> Result<()> {
    tessel_lab::wait::holds_for(window, check)
}
