//! A cell's trials and their statistics: how many talked and ended direct,
//! and percentiles of the times.

use std::time::Duration;

use super::scenario::{scenarios, Scenario};
use super::trial::{Start, Trial};
use super::{Expect, Side, PROBABLY};

/// The trials of one cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// What the cell is.
    pub scenario: Scenario,
    /// Every trial.
    pub trials: Vec<Trial>,
}

/// The `p`th percentile (nearest rank) of some durations, if there are any.
pub fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn sorted(v: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut v: Vec<Duration> = v.collect();
    v.sort();
    v
}

impl Cell {
    /// The prediction.
    pub fn expected(&self) -> Expect {
        self.scenario.expected
    }

    /// Trials in which B and C talked (and pinged both ways).
    pub fn talked(&self) -> usize {
        self.trials.iter().filter(|t| t.pings).count()
    }

    /// Trials that ended on a direct path (and pinged both ways).
    pub fn direct(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.pings && t.direct_at.is_some())
            .count()
    }

    /// Trials whose after-check failed (see [`Trial::kept`]).
    pub fn not_kept(&self) -> usize {
        self.trials.iter().filter(|t| t.kept == Some(false)).count()
    }

    /// Times to the first packet of the trials that talked, sorted.
    pub fn first_packet(&self) -> Vec<Duration> {
        sorted(
            self.trials
                .iter()
                .filter(|t| t.pings)
                .filter_map(|t| t.connected_at),
        )
    }

    /// Times to the direct path of the trials that ended direct, sorted.
    pub fn to_direct(&self) -> Vec<Duration> {
        sorted(
            self.trials
                .iter()
                .filter(|t| t.pings)
                .filter_map(|t| t.direct_at),
        )
    }

    /// Whether the outcome differs from the prediction: a violation or a
    /// session that does not carry packets; a failed after-check; a cell
    /// that should talk and did not in some trial; too few direct trials
    /// for a `Direct` or `Probably` cell; a direct path where none can be;
    /// talk where none can be yet.
    pub fn surprising(&self) -> bool {
        let n = self.trials.len();
        let broken = self
            .trials
            .iter()
            .any(|t| t.violations > 0 || t.pings != t.connected_at.is_some());
        let all_talk = self.talked() == n;
        broken
            || self.not_kept() > 0
            || match self.expected() {
                Expect::Direct => self.direct() < n,
                Expect::Probably(_) => !all_talk || (self.direct() as f64) < PROBABLY * n as f64,
                Expect::Relayed(_) => !all_talk || self.direct() > 0,
                Expect::NotYet(_) => self.trials.iter().any(|t| t.connected_at.is_some()),
            }
    }
}

/// Runs `trials` trials of `scenario` (seeds `base_seed`, `base_seed + 1`,
/// …; see [`Start::of_trial`] for their starts).
pub fn run_cell(scenario: Scenario, trials: u64, base_seed: u64) -> Cell {
    let trials = (0..trials)
        .map(|k| {
            let seed = base_seed + k;
            scenario.trial(seed, Start::of_trial(k, seed))
        })
        .collect();
    Cell { scenario, trials }
}

/// Runs `trials` trials of every unordered pair of sides, then of every
/// named scenario.
pub fn run(trials: u64, base_seed: u64) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (i, &b) in Side::ALL.iter().enumerate() {
        for &c in &Side::ALL[i..] {
            cells.push(run_cell(Scenario::cell(b, c), trials, base_seed));
        }
    }
    for s in scenarios() {
        cells.push(run_cell(s, trials, base_seed));
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<Duration> = (1..=20).map(Duration::from_secs).collect();
        assert_eq!(percentile(&v, 50), Some(Duration::from_secs(10)));
        assert_eq!(percentile(&v, 95), Some(Duration::from_secs(19)));
        assert_eq!(percentile(&v, 99), Some(Duration::from_secs(20)));
        assert_eq!(percentile(&v[..1], 50), Some(Duration::from_secs(1)));
        assert_eq!(percentile(&[], 50), None);
    }
}
