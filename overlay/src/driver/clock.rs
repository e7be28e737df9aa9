//! The only place in the daemon and the `tessel` binary that reads the
//! clocks and the OS random source. Everything else takes `now` as an
//! argument or calls these, so that the protocol core stays deterministic
//! and the simulator can run it in virtual time.

// This module is the driver's only reader of the clocks and the OS random
// source (see the workspace's clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic now.
pub fn now() -> Instant {
    Instant::now()
}

/// Monotonic now on tokio's clock (the same clock, as tokio's type).
pub fn tokio_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// Wall-clock now.
pub fn system_now() -> SystemTime {
    SystemTime::now()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    system_now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Fills `buf` from the OS random source.
///
/// # Errors
/// If the OS has no random source to read.
pub fn fill_random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::fill(buf)
}

/// 32 bytes from the OS random source.
///
/// # Errors
/// If the OS has no random source to read.
pub fn random_seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    fill_random(&mut seed).map_err(std::io::Error::other)?;
    Ok(seed)
}
