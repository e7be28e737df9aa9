//! Seeded randomness. Every random choice in a run comes from one seed: each
//! component draws from its own ChaCha20 stream of that seed, so adding draws
//! in one component (say, a new NAT) never shifts another's.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// The independent random streams of a world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Link fates: loss, jitter, duplication, reordering.
    Links,
    /// Node key seeds and per-incarnation node seeds.
    Nodes,
    /// NAT `i`'s port allocation.
    Nat(u32),
    /// App traffic: sizes and contents.
    Traffic,
    /// The chaos agents' choices.
    Chaos,
    /// Anything a scenario or the matrix wants.
    Scenario,
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Self::Links => 1,
            Self::Nodes => 2,
            Self::Traffic => 3,
            Self::Chaos => 4,
            Self::Scenario => 5,
            Self::Nat(i) => (1 << 32) | u64::from(i),
        }
    }
}

/// The random stream `stream` of the run seeded with `seed`.
pub fn stream(seed: u64, stream: Stream) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(stream.id());
    rng
}

/// A uniform float in [0, 1).
pub fn unit(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// True with probability `p`.
pub fn chance(rng: &mut impl RngCore, p: f64) -> bool {
    p > 0.0 && unit(rng) < p
}

/// A uniform integer in `0..n` (`n` > 0).
pub fn below(rng: &mut impl RngCore, n: u64) -> u64 {
    debug_assert!(n > 0);
    // Lemire's multiply-shift; the bias for the n used here is negligible.
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// An exponentially distributed value with the given mean.
pub fn exponential(rng: &mut impl RngCore, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a1 = stream(7, Stream::Links).next_u64();
        let a2 = stream(7, Stream::Links).next_u64();
        let b = stream(7, Stream::Nat(0)).next_u64();
        let c = stream(8, Stream::Links).next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = stream(1, Stream::Scenario);
        for _ in 0..1000 {
            assert!(below(&mut r, 10) < 10);
            let u = unit(&mut r);
            assert!((0.0..1.0).contains(&u));
            assert!(exponential(&mut r, 2.0) >= 0.0);
        }
        assert!(!chance(&mut r, 0.0));
    }
}
