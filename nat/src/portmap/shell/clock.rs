//! The port-mapping shell's clock and random source: the one place where
//! the shell reads them (the client machine itself takes `now` as an
//! argument and never reads either).

// This module is the shell's only reader of the clock and the OS random
// source (see the workspace's clippy.toml).
#![allow(clippy::disallowed_methods)]

/// Monotonic now, for the client machine.
pub(super) fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// Monotonic now on tokio's clock, for the shell's own waits.
pub(super) fn tokio_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// Random bytes for nonces and seeds; a fixed pattern if the OS has none
/// (the mapping still works; only its nonce is predictable).
pub(super) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() {
        b.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
    }
    b
}
