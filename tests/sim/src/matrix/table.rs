//! The matrix as text: one row per cell, the cells of one [`Group`] under
//! one heading.

use std::fmt::Write;
use std::time::Duration;

use super::cell::{percentile, Cell};
use super::scenario::Group;
use super::Expect;

/// A column's time: the percentiles `ps` of `times`, in seconds.
fn times(times: &[Duration], ps: &[usize]) -> String {
    if times.is_empty() {
        return "-".to_string();
    }
    let v: Vec<String> = ps
        .iter()
        .filter_map(|&p| percentile(times, p))
        .map(|d| format!("{:.1}", d.as_secs_f64()))
        .collect();
    v.join("/")
}

/// The prediction, in a word.
fn predicted(e: Expect) -> &'static str {
    match e {
        Expect::Direct => "direct",
        Expect::Probably(_) => "likely",
        Expect::Relayed(_) => "relay",
        Expect::NotYet(_) => "not yet",
    }
}

/// The heading of a group's rows.
fn heading(g: Group) -> &'static str {
    match g {
        Group::Grid => "The grid: every pair of sides, clean links (times from C's start)",
        Group::Kinds => "More NAT kinds, clean links (times from C's start)",
        Group::Impaired => "Impaired: B's access link loses 2 % and delays 50 ms each way (times from C's start)",
        Group::Faults => "Faults: B's NAT, 5 s after B and C went direct (times from the fault; after = direct again within 10 s)",
    }
}

/// One table per group present in `cells`: per cell, the prediction, trials
/// that talked / trials, the 50th/95th/99th percentile seconds to the first
/// packet, trials that ended direct, the 50th/95th percentile seconds to
/// the direct path, trials whose after-check held (idle and fault cells),
/// and `!` where the outcome differs from the prediction.
pub fn table(cells: &[Cell]) -> String {
    let mut s = String::new();
    let mut groups: Vec<Group> = cells.iter().map(|c| c.scenario.group).collect();
    groups.sort();
    groups.dedup();
    for g in groups {
        let _ = writeln!(s, "{}:\n", heading(g));
        let _ = writeln!(
            s,
            "{:<42} {:<8} {:>7} {:>16} {:>7} {:>12} {:>7}",
            "cell", "expect", "talked", "p50/p95/p99 s", "direct", "p50/p95 s", "after"
        );
        for cell in cells.iter().filter(|c| c.scenario.group == g) {
            let n = cell.trials.len();
            let after = if cell.trials.iter().any(|t| t.kept.is_some()) {
                format!("{}/{n}", n - cell.not_kept())
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "{:<42} {:<8} {:>7} {:>16} {:>7} {:>12} {:>7} {}",
                cell.scenario.name,
                predicted(cell.expected()),
                format!("{}/{n}", cell.talked()),
                times(&cell.first_packet(), &[50, 95, 99]),
                format!("{}/{n}", cell.direct()),
                times(&cell.to_direct(), &[50, 95]),
                after,
                if cell.surprising() { "!" } else { "" }
            );
        }
        s.push('\n');
    }
    s
}
