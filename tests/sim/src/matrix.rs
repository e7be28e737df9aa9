//! The NAT matrix: a public rendezvous node R, and two nodes B and C, each
//! behind its own kind of NAT (or public), both started with `--peer R`.
//!
//! B and C learn each other from R's gossip (R announces each one's endpoint
//! as R sees it: the NAT's reflexive address) and both initiate (the lower
//! node ID at once, the higher 500 ms later, then retransmissions every 5 s).
//! There is no relaying yet, so "connected" means a direct session.
//!
//! [`expected`] works out from the NAT semantics which cells can connect:
//!
//! * anything with UDP blocked: never (not even to R);
//! * a public or full-cone side: always (the other side's initiation, from
//!   whatever port its NAT picks, is let in, and the answer goes back out
//!   through the mapping that the initiation opened);
//! * two endpoint-independent mappings (cones, port-preserving symmetric
//!   while ports do not collide, carrier-grade NAT): yes, by simultaneous open,
//!   since each side sends to the very endpoint the other's NAT uses;
//! * symmetric × restricted cone: yes: the symmetric side's initiation comes
//!   from a new port, but from the IP address the restricted side already
//!   sent to;
//! * symmetric × port-restricted (or carrier-grade) and symmetric ×
//!   symmetric: not yet: the symmetric side's new port is unknown to the
//!   other side, whose NAT lets in only endpoints it sent to. This needs port
//!   prediction or a relay.

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
    /// B and C must connect directly.
    Connects,
    /// They cannot yet, for this reason.
    NotYet(&'static str),
}

/// The predicted outcome for B at `b` and C at `c` (see the module docs).
pub fn expected(b: Side, c: Side) -> Expect {
    if b.blocked() || c.blocked() {
        return Expect::NotYet("UDP is blocked");
    }
    if b.open() || c.open() {
        return Expect::Connects;
    }
    match (b.symmetric(), c.symmetric()) {
        (false, false) => Expect::Connects,
        (true, true) => Expect::NotYet("symmetric × symmetric needs a relay"),
        (true, false) if c.restricted() => Expect::Connects,
        (false, true) if b.restricted() => Expect::Connects,
        _ => Expect::NotYet("symmetric × port-restricted needs port prediction or a relay"),
    }
}

/// The outcome of one trial.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The seed of the trial's world.
    pub seed: u64,
    /// When B and C first both had a session with each other.
    pub connected_at: Option<Duration>,
    /// Whether an IPv6 packet got through B → C and C → B after that.
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
    let at = w.run_until_true(TRIAL_LIMIT, millis(10), |w| w.connected(hb, hc));
    let reached_rendezvous = (w.connected(hb, r), w.connected(hc, r));
    let pings = at.is_some() && w.ping(hb, hc) && w.ping(hc, hb);
    Trial {
        seed,
        connected_at: at.map(|t| t.since_start()),
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

impl Cell {
    /// Trials in which B and C connected and pinged both ways.
    pub fn successes(&self) -> usize {
        self.trials.iter().filter(|t| t.pings).count()
    }

    /// The median time to connect over the successful trials.
    pub fn median_connect(&self) -> Option<Duration> {
        let mut v: Vec<Duration> = self
            .trials
            .iter()
            .filter(|t| t.pings)
            .filter_map(|t| t.connected_at)
            .collect();
        v.sort();
        v.get(v.len() / 2).copied()
    }

    /// Trials whose outcome differs from the prediction.
    pub fn surprises(&self) -> Vec<&Trial> {
        let want = self.expected == Expect::Connects;
        self.trials
            .iter()
            .filter(|t| t.pings != want || t.connected_at.is_some() != want || t.violations > 0)
            .collect()
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

/// The matrix as a text table: per cell, connected trials / trials and the
/// median time to connect; `!` marks a cell that differs from the prediction,
/// `-` one that is not expected to connect yet.
pub fn table(cells: &[Cell]) -> String {
    let find = |b: Side, c: Side| {
        cells
            .iter()
            .find(|x| (x.b, x.c) == (b, c) || (x.b, x.c) == (c, b))
    };
    let mut s = format!("{:<9}", "B \\ C");
    for c in Side::ALL {
        s += &format!("{:>15}", c.short());
    }
    s.push('\n');
    for b in Side::ALL {
        s += &format!("{:<9}", b.short());
        for c in Side::ALL {
            let text = match find(b, c) {
                None => "".to_string(),
                Some(cell) => {
                    let mark = if !cell.surprises().is_empty() {
                        "!"
                    } else if cell.expected != Expect::Connects {
                        "-"
                    } else {
                        " "
                    };
                    let time = cell
                        .median_connect()
                        .map_or(String::new(), |d| format!("{:.1}s", d.as_secs_f64()));
                    format!(
                        "{}/{} {:>5}{}",
                        cell.successes(),
                        cell.trials.len(),
                        time,
                        mark
                    )
                }
            };
            s += &format!("{text:>15}");
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
        assert_eq!(expected(sym, restr), Expect::Connects);
        assert!(matches!(expected(sym, port), Expect::NotYet(_)));
        assert!(matches!(expected(sym, Side::Cgn), Expect::NotYet(_)));
        assert!(matches!(expected(sym, sym), Expect::NotYet(_)));
        assert_eq!(expected(sym, Side::Public), Expect::Connects);
        assert!(matches!(
            expected(Side::Public, Side::Nat(NatKind::UdpBlocked)),
            Expect::NotYet(_)
        ));
    }
}
