//! Crossing lines: a punch between two members whose NATs both map per
//! destination and allocate ports in sequence.
//!
//! Each probe toward a new destination takes the next port of its sender's
//! NAT, so a probe gets in only where the other side's NAT already holds a
//! mapping from exactly the port the probe is aimed at to exactly the port
//! the probe comes from. Each side reads its NAT's port counter just before
//! it aims ([`super::reading`]) and tells the reading; each then probes a
//! line of the other's next ports. If the two readings were exact, the
//! k-th probe of each side would meet the k-th of the other. But mappings
//! made between a reading and the first probe of the line (other traffic,
//! other hosts behind the NAT) shift a side's line by its *drift*, and two
//! lines of consecutive ports meet only if both drifts are zero.
//!
//! So the two sides probe differently. The *dense* side probes the other's
//! next `LINE` ports in order; the *sparse* side every second port, its
//! k-th probe aimed `2k − 1` ports past the other's reading. The sparse
//! side's k-th probe meets the dense side's (k + its own drift)-th probe
//! exactly when k = 1 + the sum of both drifts, so one pair of lines of
//! `LINE` probes each covers every sum of drifts up to `LINE − 1` (less the
//! sparse side's own drift). Which side is sparse follows the punch ID, so
//! a retry (a new ID) may try the other arrangement.
//!
//! The k-th probe must take the k-th port, so a line first goes out paced,
//! [`SPACING`] apart, as openers (the other side's line is still on its
//! way, and its probes must not reach our NAT before ours left); the
//! scheduled rounds then probe it in earnest, through the mappings the
//! first pass made.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::candidates::{allocation, mapping};
use super::{Members, OwnView, Traversal, OPENER_TTL};
use crate::identity::NodeId;
use crate::wire::signal::NatHint;

/// Probes in each side's line.
pub(crate) const LINE: i32 = 24;
/// Time between the probes of a line's first pass: enough that links that
/// reorder by a few milliseconds still bring them to the NAT in order.
const SPACING: Duration = Duration::from_millis(3);
/// How long a line that found nothing keeps probing before its punch gives
/// up (and, with traffic waiting, starts afresh at once: new readings).
const PATIENCE: Duration = Duration::from_secs(3);

/// Our crossing line in one punch.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    targets: Vec<SocketAddr>,
    /// When its first probe went out.
    at: Instant,
    /// Probes of the first pass sent so far, and when the next one goes.
    sent: usize,
    next: Instant,
    /// The tx of the first pass.
    tx: u64,
}

impl Line {
    /// The targets its first pass has reached so far (a round must not
    /// probe the rest out of order).
    pub(crate) fn probed(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.targets[..self.sent].iter().copied()
    }

    /// When the punch must next look at it.
    pub(crate) fn deadline(&self) -> Instant {
        if self.sent < self.targets.len() {
            self.next
        } else {
            self.give_up_at()
        }
    }

    /// When a punch that found nothing through it gives up.
    pub(crate) fn give_up_at(&self) -> Instant {
        self.at + PATIENCE
    }
}

/// Whether a NAT with this hint may map per destination and allocates in
/// sequence: its members' punches need readings and crossing lines.
pub(crate) fn sequential_per_destination(hint: &NatHint) -> bool {
    hint.allocation == allocation::SEQUENTIAL
        && hint.mapping != mapping::INDEPENDENT
        && hint.step != 0
}

/// Whether the side that asked for punch `punch_id` probes the sparse line
/// (the other side then probes the dense one).
pub(crate) fn asker_is_sparse(punch_id: u64) -> bool {
    punch_id & 1 == 0
}

/// The line that one side probes toward `ips` (the other side's public
/// addresses), given the other side's reading `theirs` (its last port and
/// its NAT's step).
pub(crate) fn line_targets(theirs: &NatHint, sparse: bool, ips: &[IpAddr]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for &ip in ips {
        for k in 1..=LINE {
            let t = if sparse { 2 * k - 1 } else { k };
            let port = i32::from(theirs.last_port) + i32::from(theirs.step) * t;
            match u16::try_from(port) {
                Ok(p) if p != 0 => out.push(SocketAddr::new(ip, p)),
                _ => {}
            }
        }
    }
    out
}

impl Traversal {
    /// Starts our crossing line toward `pid` once both readings are in and
    /// the other side's address may be sprayed.
    pub(crate) fn send_line(
        &mut self,
        now: Instant,
        members: &impl Members,
        own: &OwnView,
        pid: NodeId,
    ) {
        let Some(punch) = self.punches.get(&pid) else {
            return;
        };
        let (Some(_), Some(theirs)) = (punch.reading.port(), punch.theirs) else {
            return;
        };
        if punch.line.is_some() || punch.found.is_some() || !punch.crossing(now) {
            return;
        }
        let ips = self.sprayable_ips(now, members, pid);
        if ips.is_empty() {
            return;
        }
        // Both sides agree which of them is sparse from the punch ID and
        // who asked; two punches that crossed, from the node IDs.
        let sparse = if punch.crossed.is_some() {
            own.id < pid
        } else {
            punch.asker == asker_is_sparse(punch.id)
        };
        let targets = line_targets(&theirs, sparse, &ips);
        tracing::debug!(peer = %pid.short(), sparse, probes = targets.len(), "hole punching: crossing lines");
        let punch = self.punches.get_mut(&pid).expect("checked");
        let Some(tx) = punch.next_tx(now) else {
            return;
        };
        punch.line = Some(Line {
            targets,
            at: now,
            sent: 0,
            next: now,
            tx,
        });
        self.line_step(now, members, pid);
    }

    /// Sends the next probe of the line's first pass, if due.
    pub(crate) fn line_step(&mut self, now: Instant, members: &impl Members, pid: NodeId) {
        let Some(punch) = self.punches.get_mut(&pid) else {
            return;
        };
        let found = punch.found.is_some();
        let Some(line) = punch.line.as_mut().filter(|_| !found) else {
            return;
        };
        if line.sent >= line.targets.len() || line.next > now {
            return;
        }
        let (to, tx) = (line.targets[line.sent], line.tx);
        line.sent += 1;
        line.next = now + SPACING;
        self.send_punch_probe(now, members, 0, pid, to, tx, Some(OPENER_TTL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(last_port: u16, step: i16) -> NatHint {
        NatHint {
            mapping: mapping::DEPENDENT,
            allocation: allocation::SEQUENTIAL,
            step,
            last_port,
        }
    }

    /// The NAT ports the `n` probes of a line leave from, after `drift`
    /// other new mappings since the reading `last`.
    fn sources(last: u16, step: i16, drift: i32, n: usize) -> Vec<u16> {
        (1..=n as i32)
            .map(|k| (i32::from(last) + i32::from(step) * (drift + k)) as u16)
            .collect()
    }

    /// Whether some probe of one side is aimed where a probe of the other
    /// came from, and comes from where that one was aimed.
    fn meet(a_last: u16, a_drift: i32, b_last: u16, b_drift: i32, a_sparse: bool) -> bool {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a_to = line_targets(&hint(b_last, 1), a_sparse, &[ip]);
        let b_to = line_targets(&hint(a_last, 1), !a_sparse, &[ip]);
        let a_from = sources(a_last, 1, a_drift, a_to.len());
        let b_from = sources(b_last, 1, b_drift, b_to.len());
        a_from.iter().zip(&a_to).any(|(af, at)| {
            b_from
                .iter()
                .zip(&b_to)
                .any(|(bf, bt)| at.port() == *bf && bt.port() == *af)
        })
    }

    #[test]
    fn the_lines_meet_for_every_drift_they_cover() {
        for a_drift in 0..8 {
            for b_drift in 0..8 {
                for a_sparse in [true, false] {
                    assert!(
                        meet(20_000, a_drift, 31_000, b_drift, a_sparse),
                        "drifts {a_drift}, {b_drift}, A sparse {a_sparse}"
                    );
                }
            }
        }
        // The sum of drifts the pair covers has its bound.
        assert!(!meet(20_000, 0, 31_000, LINE, true));
    }

    #[test]
    fn two_dense_lines_meet_only_without_drift() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a_to = line_targets(&hint(31_000, 1), false, &[ip]);
        let b_to = line_targets(&hint(20_000, 1), false, &[ip]);
        let met = |a_drift, b_drift| {
            let a_from = sources(20_000, 1, a_drift, a_to.len());
            let b_from = sources(31_000, 1, b_drift, b_to.len());
            a_from.iter().zip(&a_to).any(|(af, at)| {
                b_from
                    .iter()
                    .zip(&b_to)
                    .any(|(bf, bt)| at.port() == *bf && bt.port() == *af)
            })
        };
        assert!(met(0, 0));
        assert!(!met(1, 0) && !met(0, 2));
    }

    #[test]
    fn lines_follow_the_step_and_stay_in_the_port_range() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t = line_targets(&hint(40_000, 2), true, &[ip]);
        assert_eq!(t[0].port(), 40_002);
        assert_eq!(t[1].port(), 40_006);
        assert_eq!(t.len(), LINE as usize);
        assert!(line_targets(&hint(65_530, 1), false, &[ip]).len() == 5);
        assert!(sequential_per_destination(&hint(1, 1)));
        assert!(!sequential_per_destination(&NatHint {
            mapping: mapping::INDEPENDENT,
            ..hint(1, 1)
        }));
    }
}
