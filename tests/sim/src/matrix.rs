//! The NAT matrix: a public rendezvous node R, and two nodes B and C, each
//! behind its own kind of NAT (or public), both started with `--peer R`.
//!
//! B and C learn each other from R's gossip (R announces each one's endpoint
//! as R sees it: the NAT's reflexive address) and both initiate; the one
//! that starts also signals its candidates to the other through R and both
//! probe (hole punching, see the node's `traversal` module). There is no
//! relaying yet, so "connected" means a direct session.
//!
//! [`expected`] works out from the NAT semantics which cells connect:
//!
//! * anything with UDP blocked: never (not even to R): it needs the relay's
//!   TCP transport;
//! * a public or full-cone side: always;
//! * two NATs that keep one mapping per socket (cones, port-preserving
//!   symmetric while ports do not collide, carrier-grade NAT): yes, both
//!   probe the endpoint the other's NAT uses;
//! * symmetric × restricted cone: yes: the restricted side lets in the new
//!   port because it already sent to that address;
//! * symmetric with sequential allocation × a NAT with one mapping per
//!   socket: yes, by port prediction (probing the ports above the last one
//!   seen);
//! * symmetric with random allocation × a NAT with one mapping per socket:
//!   almost always, by the birthday technique (256 sockets on the random
//!   side, 2,048 probes to random ports from the other: a miss has
//!   probability about 0.03 % when both start together);
//! * symmetric × symmetric, both sequential: sometimes (both predict; it
//!   works when no other mapping was allocated in between);
//! * other symmetric × symmetric pairs: only through R.

use std::fmt;
use std::time::Duration;

use crate::host::Place;
use crate::ids::HostId;
use crate::nat::NatKind;
use crate::time::millis;
use crate::world::World;

/// How long a trial waits for B and C to connect.
pub const TRIAL_LIMIT: Duration = Duration::from_secs(60);

/// Where B or C sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// A public IPv4 address.
    Public,
    /// Behind one NAT of this kind.
    Nat(NatKind),
    /// Behind a port-restricted home NAT that is itself behind a
    /// carrier-grade NAT.
    Cgn,
}

impl Side {
    /// Every side in the matrix, in table order.
    pub const ALL: [Self; 9] = [
        Self::Public,
        Self::Nat(NatKind::FullCone),
        Self::Nat(NatKind::RestrictedCone),
        Self::Nat(NatKind::PortRestrictedCone),
        Self::Nat(NatKind::SymmetricPreserving),
        Self::Nat(NatKind::SymmetricSequential),
        Self::Nat(NatKind::SymmetricRandom),
        Self::Nat(NatKind::UdpBlocked),
        Self::Cgn,
    ];

    /// The name used in test names, tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Nat(k) => k.name(),
            Self::Cgn => "cgn",
        }
    }

    /// A short column label.
    pub fn short(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Nat(NatKind::FullCone) => "full",
            Self::Nat(NatKind::RestrictedCone) => "restr",
            Self::Nat(NatKind::PortRestrictedCone) => "port-r",
            Self::Nat(NatKind::SymmetricPreserving) => "sym-pp",
            Self::Nat(NatKind::SymmetricSequential) => "sym-seq",
            Self::Nat(NatKind::SymmetricRandom) => "sym-rnd",
            Self::Nat(NatKind::UdpBlocked) => "blocked",
            Self::Nat(NatKind::Carrier) => "carrier",
            Self::Nat(NatKind::Linux) => "linux",
            Self::Cgn => "cgn",
        }
    }

    /// Puts a node here, bootstrapping from `peers`.
    pub fn place(self, w: &mut World, peers: &[HostId]) -> HostId {
        match self {
            Self::Public => w.public_node_with(peers),
            Self::Nat(kind) => {
                let nat = w.nat(kind);
                w.node_behind(nat, peers)
            }
            Self::Cgn => {
                let carrier = w.nat(NatKind::Carrier);
                let home = w.nat_behind(carrier, NatKind::PortRestrictedCone);
                w.node(Place::Behind(home), peers)
            }
        }
    }

    fn blocked(self) -> bool {
        self == Self::Nat(NatKind::UdpBlocked)
    }

    fn open(self) -> bool {
        matches!(self, Self::Public | Self::Nat(NatKind::FullCone))
    }

    fn symmetric(self) -> bool {
        matches!(
            self,
            Self::Nat(NatKind::SymmetricSequential | NatKind::SymmetricRandom)
        )
    }

    fn restricted(self) -> bool {
        self == Self::Nat(NatKind::RestrictedCone)
    }

    fn sequential(self) -> bool {
        self == Self::Nat(NatKind::SymmetricSequential)
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Side {
    type Err = crate::nat::UnknownNatKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| crate::nat::UnknownNatKind(s.to_string()))
    }
}

/// What the NAT semantics predict for a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// B and C end on a direct path.
    Direct,
    /// They end direct in nearly every trial (a random search), else relayed.
    Probably(&'static str),
    /// They end direct in some trials only, relayed in the others.
    Sometimes(&'static str),
    /// They talk through R, never directly, for this reason.
    Relayed(&'static str),
    /// They cannot talk yet, for this reason.
    NotYet(&'static str),
}

/// Fraction of trials that a [`Expect::Probably`] cell must end direct in.
pub const PROBABLY: f64 = 0.8;

/// The predicted outcome for B at `b` and C at `c` (see the module docs).
pub fn expected(b: Side, c: Side) -> Expect {
    if b.blocked() || c.blocked() {
        return Expect::NotYet(
            "UDP is blocked: the simulator carries UDP only (the lab connects these over TCP)",
        );
    }
    if b.open() || c.open() {
        return Expect::Direct;
    }
    let (sym, other) = match (b.symmetric(), c.symmetric()) {
        (false, false) => return Expect::Direct,
        (true, true) if b.sequential() && c.sequential() => {
            return Expect::Sometimes("both predict: works when no other mapping came between")
        }
        (true, true) => return Expect::Relayed("symmetric × symmetric: no direct path"),
        (true, false) => (b, c),
        (false, true) => (c, b),
    };
    if other.restricted() || sym.sequential() {
        Expect::Direct
    } else {
        Expect::Probably("birthday technique: a random search")
    }
}

/// The outcome of one trial.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The seed of the trial's world.
    pub seed: u64,
    /// When B and C first both had a session with each other (the first
    /// packet can flow), on whatever path.
    pub connected_at: Option<Duration>,
    /// When both first sent to each other directly.
    pub direct_at: Option<Duration>,
    /// Whether an IPv6 packet got through B → C and C → B at the end.
    pub pings: bool,
    /// Whether B and C each connected to R.
    pub reached_rendezvous: (bool, bool),
    /// Data-path violations found (must be none).
    pub violations: usize,
}

/// Runs one trial of cell (`b`, `c`) with `seed`.
pub fn trial(b: Side, c: Side, seed: u64) -> Trial {
    let mut w = World::new(seed);
    let r = w.public_node();
    let hb = b.place(&mut w, &[r]);
    let hc = c.place(&mut w, &[r]);
    let start = w.now();
    let at = w.run_until_true(TRIAL_LIMIT, millis(10), |w| w.connected(hb, hc));
    let left = TRIAL_LIMIT.saturating_sub(w.now().saturating_since(start));
    let direct = match at {
        Some(_) => w.run_until_true(left, millis(10), |w| w.direct(hb, hc)),
        None => None,
    };
    let reached_rendezvous = (w.connected(hb, r), w.connected(hc, r));
    let pings = at.is_some() && w.ping(hb, hc) && w.ping(hc, hb);
    Trial {
        seed,
        connected_at: at.map(|t| t.since_start()),
        direct_at: direct.map(|t| t.since_start()),
        pings,
        reached_rendezvous,
        violations: w.ledger().violations().len(),
    }
}

/// The trials of one cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// B's side.
    pub b: Side,
    /// C's side.
    pub c: Side,
    /// The prediction.
    pub expected: Expect,
    /// Every trial.
    pub trials: Vec<Trial>,
}

/// The median and 95th percentile of some durations.
fn median_p95(mut v: Vec<Duration>) -> Option<(Duration, Duration)> {
    v.sort();
    let median = *v.get(v.len() / 2)?;
    let p95 = v[(v.len() * 95).div_ceil(100) - 1];
    Some((median, p95))
}

impl Cell {
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

    /// Median and 95th percentile of the time to the first packet.
    pub fn first_packet(&self) -> Option<(Duration, Duration)> {
        median_p95(
            self.trials
                .iter()
                .filter(|t| t.pings)
                .filter_map(|t| t.connected_at)
                .collect(),
        )
    }

    /// Median and 95th percentile of the time to the direct path.
    pub fn to_direct(&self) -> Option<(Duration, Duration)> {
        median_p95(
            self.trials
                .iter()
                .filter(|t| t.pings)
                .filter_map(|t| t.direct_at)
                .collect(),
        )
    }

    /// Whether the outcome differs from the prediction: a violation or a
    /// session that does not carry packets; a cell that should talk and did
    /// not in some trial; too few direct trials for a `Direct` or `Probably`
    /// cell; a direct path where none can be; talk where none can be yet.
    pub fn surprising(&self) -> bool {
        let n = self.trials.len();
        let broken = self
            .trials
            .iter()
            .any(|t| t.violations > 0 || t.pings != t.connected_at.is_some());
        let all_talk = self.talked() == n;
        broken
            || match self.expected {
                Expect::Direct => self.direct() < n,
                Expect::Probably(_) => !all_talk || (self.direct() as f64) < PROBABLY * n as f64,
                Expect::Sometimes(_) => !all_talk,
                Expect::Relayed(_) => !all_talk || self.direct() > 0,
                Expect::NotYet(_) => self.trials.iter().any(|t| t.connected_at.is_some()),
            }
    }
}

/// Runs `trials` trials (seeds `base_seed`, `base_seed + 1`, …) of every
/// unordered pair of sides.
pub fn run(trials: u64, base_seed: u64) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (i, &b) in Side::ALL.iter().enumerate() {
        for &c in &Side::ALL[i..] {
            let trials = (0..trials).map(|k| trial(b, c, base_seed + k)).collect();
            cells.push(Cell {
                b,
                c,
                expected: expected(b, c),
                trials,
            });
        }
    }
    cells
}

/// Which times a table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Trials that talked, and the time to the first packet.
    FirstPacket,
    /// Trials that ended direct, and the time to the direct path.
    Direct,
}

/// The matrix as a text table: per cell, trials that talked (or ended
/// direct) / trials, and the median/95th-percentile time to the first
/// packet (or to the direct path). `!` marks a cell that differs from the
/// prediction, `~` one that ends direct only sometimes, `r` one that is
/// relayed by design, `-` one that cannot talk yet.
pub fn table(cells: &[Cell], which: Table) -> String {
    let find = |b: Side, c: Side| {
        cells
            .iter()
            .find(|x| (x.b, x.c) == (b, c) || (x.b, x.c) == (c, b))
    };
    let mut s = format!("{:<9}", "B \\ C");
    for c in Side::ALL {
        s += &format!("{:>18}", c.short());
    }
    s.push('\n');
    for b in Side::ALL {
        s += &format!("{:<9}", b.short());
        for c in Side::ALL {
            let text = match find(b, c) {
                None => "".to_string(),
                Some(cell) => {
                    let mark = if cell.surprising() {
                        "!"
                    } else {
                        match cell.expected {
                            Expect::Direct | Expect::Probably(_) => " ",
                            Expect::Sometimes(_) => "~",
                            Expect::Relayed(_) => "r",
                            Expect::NotYet(_) => "-",
                        }
                    };
                    let (count, times) = match which {
                        Table::FirstPacket => (cell.talked(), cell.first_packet()),
                        Table::Direct => (cell.direct(), cell.to_direct()),
                    };
                    let time = times.map_or(String::new(), |(m, p)| {
                        format!("{:.1}/{:.1}s", m.as_secs_f64(), p.as_secs_f64())
                    });
                    format!("{}/{} {:>9}{}", count, cell.trials.len(), time, mark)
                }
            };
            s += &format!("{text:>18}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_symmetric_and_match_the_semantics() {
        for b in Side::ALL {
            for c in Side::ALL {
                assert_eq!(expected(b, c), expected(c, b), "{b} {c}");
            }
        }
        let sym = Side::Nat(NatKind::SymmetricRandom);
        let port = Side::Nat(NatKind::PortRestrictedCone);
        let restr = Side::Nat(NatKind::RestrictedCone);
        let seq = Side::Nat(NatKind::SymmetricSequential);
        assert_eq!(expected(sym, restr), Expect::Direct);
        assert!(matches!(expected(sym, port), Expect::Probably(_)));
        assert!(matches!(expected(sym, Side::Cgn), Expect::Probably(_)));
        assert_eq!(expected(seq, port), Expect::Direct);
        assert!(matches!(expected(seq, seq), Expect::Sometimes(_)));
        assert!(matches!(expected(sym, seq), Expect::Relayed(_)));
        assert!(matches!(expected(sym, sym), Expect::Relayed(_)));
        assert_eq!(expected(sym, Side::Public), Expect::Direct);
        assert!(matches!(
            expected(Side::Public, Side::Nat(NatKind::UdpBlocked)),
            Expect::NotYet(_)
        ));
    }
}
