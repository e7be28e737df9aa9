//! Sums up the runs of one cell: how many connected and went direct, and
//! percentiles of the times.

use std::time::Duration;

use super::run::RunOutcome;

/// The `p`-th percentile (0–100) of `values` by nearest rank, or `None`
/// if there are none.
pub fn percentile(values: &[Duration], p: u32) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // Nearest rank: the smallest value with at least p% at or below it.
    let rank = (u64::from(p.min(100)) * n as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

/// The summary of a cell's runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Runs that completed (a lab that could not be built is not a run).
    pub runs: usize,
    /// Runs in which a ping reply came back within the timeout.
    pub connected: usize,
    /// Times to the first packet, p50, p95 and p99.
    pub first: [Option<Duration>; 3],
    /// Runs in which both reported a direct path within the timeout.
    pub direct: usize,
    /// Times to the direct path, p50 and p95.
    pub to_direct: [Option<Duration>; 2],
}

impl Summary {
    /// Sums up `outcomes`.
    pub fn of(outcomes: &[RunOutcome]) -> Self {
        let first: Vec<Duration> = outcomes.iter().filter_map(|o| o.first_packet()).collect();
        let direct: Vec<Duration> = outcomes.iter().filter_map(|o| o.direct).collect();
        Self {
            runs: outcomes.len(),
            connected: first.len(),
            first: [50, 95, 99].map(|p| percentile(&first, p)),
            direct: direct.len(),
            to_direct: [50, 95].map(|p| percentile(&direct, p)),
        }
    }
}

/// Seconds with one decimal, or `-` for none.
pub fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{:.1}", d.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = ms(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&v, 50), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&v, 95), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&[], 50), None);
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(
            percentile(&ms(&twenty), 95),
            Some(Duration::from_millis(19))
        );
    }

    #[test]
    fn a_summary_counts_misses() {
        let run = |b: Option<u64>, c: Option<u64>, d: Option<u64>| RunOutcome {
            offset: Duration::ZERO,
            b_to_c: b.map(Duration::from_millis),
            c_to_b: c.map(Duration::from_millis),
            direct: d.map(Duration::from_millis),
        };
        let s = Summary::of(&[
            run(Some(100), Some(300), Some(500)),
            run(None, Some(200), None),
            run(None, None, None),
        ]);
        assert_eq!((s.runs, s.connected, s.direct), (3, 2, 1));
        assert_eq!(s.first[0], Some(Duration::from_millis(100)));
        assert_eq!(s.first[2], Some(Duration::from_millis(200)));
        assert_eq!(s.to_direct[0], Some(Duration::from_millis(500)));
        assert_eq!(secs(s.first[1]), "0.2");
        assert_eq!(secs(None), "-");
    }
}
