//! The only place that reads clocks and the OS random source.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic now.
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// 32 bytes from the OS random source.
pub(crate) fn random_seed() -> std::io::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(std::io::Error::other)?;
    Ok(seed)
}
