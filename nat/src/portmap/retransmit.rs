//! Request retransmission schedules: NAT-PMP's fixed doubling from 250 ms
//! (RFC 6886 section 3.1) and PCP's randomised doubling from 3 s up to
//! 1024 s (RFC 6887 section 8.1.1), each bounded in attempts.

use std::time::Duration;

/// A retransmission schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Wait after the first transmission.
    pub initial: Duration,
    /// Longest wait between transmissions.
    pub max: Duration,
    /// Transmissions before giving up.
    pub attempts: u32,
    /// Whether waits get ±10 % jitter.
    pub jitter: bool,
}

/// NAT-PMP: 250 ms, doubling, nine transmissions (about 2 minutes).
pub const NATPMP: Schedule = Schedule {
    initial: Duration::from_millis(250),
    max: Duration::from_secs(64),
    attempts: 9,
    jitter: false,
};

/// PCP: 3 s, doubling with ±10 % jitter, up to 1024 s between
/// transmissions; bounded here to six transmissions (about 3 minutes).
pub const PCP: Schedule = Schedule {
    initial: Duration::from_secs(3),
    max: Duration::from_secs(1024),
    attempts: 6,
    jitter: true,
};

/// A small deterministic generator for jitter (xorshift64*).
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A factor in [0.9, 1.1).
    fn factor(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        0.9 + 0.2 * (r as f64 / (1u64 << 53) as f64)
    }
}

impl Schedule {
    /// The wait after transmission number `attempt` (1-based), or `None`
    /// once the last transmission has had its wait.
    pub fn wait_after(&self, attempt: u32, jitter: &mut Jitter) -> Option<Duration> {
        if attempt == 0 || attempt > self.attempts {
            return None;
        }
        let doubled = self
            .initial
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.max);
        Some(if self.jitter {
            doubled.mul_f64(jitter.factor())
        } else {
            doubled
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natpmp_doubles_from_250ms_nine_times() {
        let mut j = Jitter::new(1);
        let waits: Vec<u64> = (1..=10)
            .filter_map(|a| NATPMP.wait_after(a, &mut j))
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            vec![250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000]
        );
    }

    #[test]
    fn pcp_jitters_within_ten_percent() {
        let mut j = Jitter::new(42);
        for a in 1..=PCP.attempts {
            let w = PCP.wait_after(a, &mut j).unwrap().as_secs_f64();
            let base = (3.0 * f64::from(1u32 << (a - 1))).min(1024.0);
            assert!(w >= base * 0.9 && w < base * 1.1, "attempt {a}: {w}");
        }
        assert_eq!(PCP.wait_after(PCP.attempts + 1, &mut j), None);
    }
}
