//! One trial of a cell: a world with a public rendezvous node R and the
//! members B and C placed as the cell's [`Scenario`] says, both started
//! with `--peer R`; then the times until they talk and until they talk
//! directly, and whatever the scenario checks afterwards.

use std::time::Duration;

use super::recovery::{recover, Recovery};
use super::scenario::{Scenario, Then};
use super::{Side, TRIAL_LIMIT};
use crate::ids::HostId;
use crate::rng::{below, stream, Stream};
use crate::time::millis;
use crate::world::World;

/// The largest offset between B's and C's starts.
pub const MAX_OFFSET: Duration = Duration::from_secs(5);

/// How soon after a NAT fault B and C must be direct again.
pub const RECOVERY_GOAL: Duration = Duration::from_secs(10);
/// Pings each way at the end of a trial, one after the other, of which one
/// must arrive (a lossy link may lose one or two).
const PING_TRIES: u32 = 3;

/// How long a fault scenario lets B and C talk before the fault.
const BEFORE_FAULT: Duration = Duration::from_secs(5);

/// How B and C start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the same instant.
    Together,
    /// C this long after B.
    Offset(Duration),
}

impl Start {
    /// The start of trial `k` (seeded `seed`) of a cell: even trials start
    /// together, odd ones start C at an offset in 0–5 s drawn from the seed.
    pub fn of_trial(k: u64, seed: u64) -> Self {
        if k.is_multiple_of(2) {
            return Self::Together;
        }
        let mut rng = stream(seed, Stream::Scenario);
        let ms = below(&mut rng, MAX_OFFSET.as_millis() as u64 + 1);
        Self::Offset(millis(ms))
    }

    /// The offset of C's start after B's.
    pub fn offset(self) -> Duration {
        match self {
            Self::Together => Duration::ZERO,
            Self::Offset(d) => d,
        }
    }
}

/// The outcome of one trial.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The seed of the trial's world.
    pub seed: u64,
    /// How long after B C started.
    pub offset: Duration,
    /// When B and C first both had a session with each other (the first
    /// packet can flow), on whatever path, counted from C's start; for a
    /// fault scenario, when packets flowed both ways again, counted from
    /// the fault.
    pub connected_at: Option<Duration>,
    /// When both first sent to each other directly (for a fault scenario,
    /// when direct packets flowed both ways again, from the fault).
    pub direct_at: Option<Duration>,
    /// Whether an IPv6 packet got through B → C and C → B at the end.
    pub pings: bool,
    /// Whether B and C each connected to R.
    pub reached_rendezvous: (bool, bool),
    /// Data-path violations found (must be none).
    pub violations: usize,
    /// What the scenario checks afterwards, if anything: after an idle
    /// spell, whether B and C were still direct and pinged without a new
    /// punch; after a fault, whether they were direct again within
    /// [`RECOVERY_GOAL`].
    pub kept: Option<bool>,
}

/// Runs one trial of grid cell (`b`, `c`) with `seed`, B and C started
/// together.
pub fn trial(b: Side, c: Side, seed: u64) -> Trial {
    Scenario::cell(b, c).trial(seed, Start::Together)
}

/// Hole-punching attempts `h` started or joined.
fn punches(w: &World, h: HostId) -> u64 {
    w.node_ref(h).map_or(0, |n| {
        let t = n.status(w.instant(w.now())).traversal;
        t.punches_started + t.punches_joined
    })
}

impl Scenario {
    /// Runs one trial of this scenario with `seed`.
    pub fn trial(&self, seed: u64, start: Start) -> Trial {
        let mut w = World::new(seed);
        let r = w.public_node();
        let b = self.b.place(&mut w, r, None, self.b_link.as_ref());
        if start.offset() > Duration::ZERO {
            w.run_for(start.offset());
        }
        let c = self.c.place(&mut w, r, Some(b), self.c_link.as_ref());
        let t0 = w.now();
        let at = w.run_until_true(TRIAL_LIMIT, millis(10), |w| w.connected(b, c));
        let left = TRIAL_LIMIT.saturating_sub(w.now().saturating_since(t0));
        let direct = match at {
            Some(_) => w.run_until_true(left, millis(10), |w| w.direct(b, c)),
            None => None,
        };
        let mut talked = at.is_some();
        let mut connected_at = at.map(|t| t.saturating_since(t0));
        let mut direct_at = direct.map(|t| t.saturating_since(t0));
        let mut kept = None;
        match self.then {
            Then::Nothing => {}
            Then::Idle(idle) => {
                let before = punches(&w, b) + punches(&w, c);
                let was_direct = w.direct(b, c);
                w.run_for(idle);
                let still = was_direct && w.direct(b, c);
                let pinged = w.ping_tries(b, c, PING_TRIES) && w.ping_tries(c, b, PING_TRIES);
                let after = punches(&w, b) + punches(&w, c);
                kept = Some(still && pinged && after == before);
            }
            Then::Fault(fault) => {
                w.run_for(BEFORE_FAULT);
                let nat = w.nat_of(b).expect("a fault scenario puts B behind a NAT");
                fault.apply(&mut w, nat);
                let Recovery { talk, direct: d } = recover(&mut w, b, c, TRIAL_LIMIT);
                kept = Some(d.is_some_and(|t| t <= RECOVERY_GOAL));
                talked = talk.is_some();
                connected_at = talk;
                direct_at = d;
            }
        }
        let reached_rendezvous = (w.connected(b, r), w.connected(c, r));
        let pings = talked && w.ping_tries(b, c, PING_TRIES) && w.ping_tries(c, b, PING_TRIES);
        Trial {
            seed,
            offset: start.offset(),
            connected_at,
            direct_at,
            pings,
            reached_rendezvous,
            violations: w.ledger().violations().len(),
            kept,
        }
    }
}
