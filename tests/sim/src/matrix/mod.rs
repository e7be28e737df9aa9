//! The NAT matrix: a public rendezvous node R, and two nodes B and C, each
//! behind its own kind of NAT (or public), both started with `--peer R`.
//!
//! B and C learn each other from R's gossip (R announces each one's endpoint
//! as R sees it: the NAT's reflexive address) and both initiate; the one
//! that starts also signals its candidates to the other through R and both
//! probe (hole punching, see the node's `traversal` module). Until they
//! find a direct path, R relays for them.
//!
//! Each cell runs several trials ([`run`]): even ones start B and C
//! together, odd ones start C at a random offset after B ([`Start`]); times
//! count from C's start. Besides the grid of [`Side`]s, named
//! [`Scenario`]s cover more NAT kinds (two members behind one NAT, NAT444,
//! short mapping timeouts, Linux's port clash), impaired paths and NAT
//! reboots and renumbering; [`table`] prints one row per cell with its
//! percentiles.
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
//! * symmetric × symmetric, both sequential: yes, by crossing lines (each
//!   side reads its NAT's port counter at the start of the punch, and the
//!   two probe lines of the other's next ports, one every port, one every
//!   second port, which meet whatever few mappings came in between);
//! * other symmetric × symmetric pairs: only through R.
//!
//! The named scenarios ([`scenarios`]) predict the goal where the NATs
//! allow a direct path: two members behind one NAT meet on their LAN,
//! hairpin or not; two homes behind one carrier NAT go direct only through
//! its hairpin (otherwise neither has a candidate the other can reach);
//! keepalives hold a direct path through 30 s mappings; a Linux router's
//! flows keep their ports unless a clash moves one, and the moved port is
//! the peer's to learn, so those cells are predicted direct; a lossy link
//! only slows things down; after a NAT reboot or renumbering the pair talks
//! again and is direct within [`RECOVERY_GOAL`].

mod cell;
mod recovery;
mod scenario;
mod table;
mod trial;

use std::fmt;
use std::time::Duration;

use crate::host::Place;
use crate::ids::HostId;
use crate::nat::NatKind;
use crate::world::World;

pub use cell::{percentile, run, run_cell, Cell};
pub use scenario::{lossy_link, scenarios, Group, NatFault, Scenario, Spot, Then};
pub use table::table;
pub use trial::{trial, Start, Trial, MAX_OFFSET, RECOVERY_GOAL};

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
        (true, true) if b.sequential() && c.sequential() => return Expect::Direct,
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
        assert_eq!(expected(seq, seq), Expect::Direct);
        assert!(matches!(expected(sym, seq), Expect::Relayed(_)));
        assert!(matches!(expected(sym, sym), Expect::Relayed(_)));
        assert_eq!(expected(sym, Side::Public), Expect::Direct);
        assert!(matches!(
            expected(Side::Public, Side::Nat(NatKind::UdpBlocked)),
            Expect::NotYet(_)
        ));
    }
}
