//! What a matrix cell is: where B and C sit ([`Spot`]), how their access
//! links behave, what happens after they connect ([`Then`]) and what the
//! NAT semantics predict. The grid cells are pairs of [`Side`]s;
//! [`scenarios`] lists the named ones.

use std::time::Duration;

use super::{expected, Expect, Side};
use crate::host::{Net, Place};
use crate::ids::{HostId, NatId};
use crate::link::Link;
use crate::nat::{NatConfig, NatKind};
use crate::world::World;

/// Where a member sits.
#[derive(Debug, Clone, PartialEq)]
pub enum Spot {
    /// At a side of the grid.
    Side(Side),
    /// Behind its own NAT with this behaviour.
    Nat(NatConfig),
    /// NAT444: behind a port-restricted home NAT that sits behind its own
    /// carrier-grade NAT, whose hairpinning is on or off.
    Nat444 {
        /// Whether the carrier NAT hairpins.
        carrier_hairpin: bool,
    },
    /// On B's LAN, behind B's NAT (for C only).
    BesideB,
    /// In another port-restricted home behind B's carrier NAT (for C only,
    /// with B at [`Spot::Nat444`]).
    NextHomeToB,
}

/// What a scenario does once B and C connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing more.
    Nothing,
    /// Nobody sends app traffic for this long; then B and C must still be
    /// direct and ping both ways without a new punch.
    Idle(Duration),
    /// B's NAT suffers this fault; the trial's times then count from it.
    Fault(NatFault),
}

/// Something that happens to a NAT box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatFault {
    /// It restarts and forgets every mapping, keeping its address.
    Reboot,
    /// Its ISP gives it a new external address; every mapping is lost.
    Renumber,
}

impl NatFault {
    /// Applies the fault to `nat` now.
    ///
    /// # Panics
    /// Panics if the address plan has no room for a new address.
    pub fn apply(self, w: &mut World, nat: NatId) {
        match self {
            Self::Reboot => w.reboot_nat(nat),
            Self::Renumber => w.renumber_nat(nat).expect("a new external address"),
        }
    }
}

/// Which part of the report a cell belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// The grid of sides, on clean links.
    Grid,
    /// More NAT kinds, on clean links.
    Kinds,
    /// Lossy, slow access links.
    Impaired,
    /// A NAT fault after B and C connected.
    Faults,
}

/// One cell of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name in tables, tests and on the command line.
    pub name: String,
    /// Its part of the report.
    pub group: Group,
    /// Where B sits.
    pub b: Spot,
    /// Where C sits.
    pub c: Spot,
    /// B's access link, if not the default.
    pub b_link: Option<Link>,
    /// C's access link, if not the default.
    pub c_link: Option<Link>,
    /// What happens after B and C connected.
    pub then: Then,
    /// The prediction.
    pub expected: Expect,
}

/// 2 % loss and 50 ms of delay each way, as on a poor mobile link.
pub fn lossy_link() -> Link {
    Link {
        latency: Duration::from_millis(50),
        loss: 0.02,
        ..Link::default()
    }
}

impl Scenario {
    /// The grid cell of B at `b` and C at `c`.
    pub fn cell(b: Side, c: Side) -> Self {
        Self {
            name: format!("{} × {}", b.short(), c.short()),
            group: Group::Grid,
            b: Spot::Side(b),
            c: Spot::Side(c),
            b_link: None,
            c_link: None,
            then: Then::Nothing,
            expected: expected(b, c),
        }
    }

    /// A named cell of B at `b` and C at `c` on clean links.
    fn named(name: &str, group: Group, b: Spot, c: Spot, expected: Expect) -> Self {
        Self {
            name: name.to_string(),
            group,
            b,
            c,
            b_link: None,
            c_link: None,
            then: Then::Nothing,
            expected,
        }
    }

    /// The named scenario `name`.
    pub fn by_name(name: &str) -> Option<Self> {
        scenarios().into_iter().find(|s| s.name == name)
    }
}

/// The named scenarios, in report order.
pub fn scenarios() -> Vec<Scenario> {
    use Group::*;
    let port = || Spot::Side(Side::Nat(NatKind::PortRestrictedCone));
    let with = |f: fn(&mut NatConfig)| {
        let mut c = NatKind::PortRestrictedCone.config();
        f(&mut c);
        Spot::Nat(c)
    };
    let linux = || Spot::Side(Side::Nat(NatKind::Linux));
    let short_timeout = |c: &mut NatConfig| c.timeout = Duration::from_secs(30);
    let mut all = vec![
        Scenario::named(
            "same_nat_hairpin",
            Kinds,
            with(|_| {}),
            Spot::BesideB,
            Expect::Direct,
        ),
        Scenario::named(
            "same_nat_no_hairpin",
            Kinds,
            with(|c| c.hairpin = false),
            Spot::BesideB,
            Expect::Direct,
        ),
        Scenario::named(
            "nat444_no_hairpin_x_port_restricted",
            Kinds,
            Spot::Nat444 {
                carrier_hairpin: false,
            },
            port(),
            Expect::Direct,
        ),
        Scenario::named(
            "same_carrier_hairpin",
            Kinds,
            Spot::Nat444 {
                carrier_hairpin: true,
            },
            Spot::NextHomeToB,
            Expect::Direct,
        ),
        Scenario::named(
            "same_carrier_no_hairpin",
            Kinds,
            Spot::Nat444 {
                carrier_hairpin: false,
            },
            Spot::NextHomeToB,
            Expect::Relayed(
                "the carrier NAT does not hairpin and neither home's address on its LAN is a candidate",
            ),
        ),
        Scenario {
            then: Then::Idle(Duration::from_secs(60)),
            ..Scenario::named(
                "timeout_30s_idle_60s",
                Kinds,
                with(short_timeout),
                with(short_timeout),
                Expect::Direct,
            )
        },
        Scenario::named(
            "linux_x_public",
            Kinds,
            linux(),
            Spot::Side(Side::Public),
            Expect::Direct,
        ),
        Scenario::named(
            "linux_x_port_restricted",
            Kinds,
            linux(),
            port(),
            Expect::Direct,
        ),
        Scenario::named("linux_x_linux", Kinds, linux(), linux(), Expect::Direct),
        Scenario::named(
            "linux_x_symmetric_random",
            Kinds,
            linux(),
            Spot::Side(Side::Nat(NatKind::SymmetricRandom)),
            Expect::Probably("birthday technique: a random search"),
        ),
        Scenario::named(
            "linux_x_symmetric_sequential",
            Kinds,
            linux(),
            Spot::Side(Side::Nat(NatKind::SymmetricSequential)),
            Expect::Direct,
        ),
        Scenario {
            b_link: Some(lossy_link()),
            ..Scenario::named(
                "lossy_port_restricted_x_port_restricted",
                Impaired,
                port(),
                port(),
                Expect::Direct,
            )
        },
        Scenario {
            b_link: Some(lossy_link()),
            ..Scenario::named(
                "lossy_port_restricted_x_symmetric_random",
                Impaired,
                port(),
                Spot::Side(Side::Nat(NatKind::SymmetricRandom)),
                Expect::Probably("birthday technique: a random search"),
            )
        },
    ];
    let faults = [
        ("reboot_port_restricted", port(), NatFault::Reboot),
        ("renumber_port_restricted", port(), NatFault::Renumber),
        (
            "reboot_carrier",
            Spot::Side(Side::Nat(NatKind::Carrier)),
            NatFault::Reboot,
        ),
        ("reboot_linux", linux(), NatFault::Reboot),
    ];
    for (name, b, fault) in faults {
        all.push(Scenario {
            then: Then::Fault(fault),
            ..Scenario::named(name, Faults, b, port(), Expect::Direct)
        });
    }
    all
}

impl Spot {
    /// Puts a member here, bootstrapping from `r`, with `link` as its
    /// access link if given; `b` is B when placing C.
    ///
    /// # Panics
    /// Panics if the address plan has no room, or if a spot relative to B
    /// is used without B (or next to a B that is not behind a carrier).
    pub fn place(
        &self,
        w: &mut World,
        r: HostId,
        b: Option<HostId>,
        link: Option<&Link>,
    ) -> HostId {
        let nat = match self {
            Self::Side(Side::Public) => return node(w, Place::Public, r, link),
            Self::Side(Side::Cgn) => {
                let carrier = w.nat(NatKind::Carrier);
                w.nat_behind(carrier, NatKind::PortRestrictedCone)
            }
            Self::Side(Side::Nat(kind)) => w.nat(*kind),
            Self::Nat(config) => w.nat_with(config.clone()),
            Self::Nat444 { carrier_hairpin } => {
                let carrier = w.nat_with(NatConfig {
                    hairpin: *carrier_hairpin,
                    ..NatKind::Carrier.config()
                });
                w.nat_behind(carrier, NatKind::PortRestrictedCone)
            }
            Self::BesideB => {
                let b = b.expect("B is placed first");
                w.nat_of(b).expect("B is behind a NAT")
            }
            Self::NextHomeToB => {
                let home = w
                    .nat_of(b.expect("B is placed first"))
                    .expect("B has a home");
                let Net::Lan(carrier) = w.nat_parent(home) else {
                    panic!("B's home is not behind a carrier NAT");
                };
                w.nat_behind(carrier, NatKind::PortRestrictedCone)
            }
        };
        node(w, Place::Behind(nat), r, link)
    }
}

/// A node at `place` bootstrapping from `r`, with `link` as its access link.
fn node(w: &mut World, place: Place, r: HostId, link: Option<&Link>) -> HostId {
    let default = w.default_link().clone();
    if let Some(link) = link {
        w.set_default_link(link.clone());
    }
    let h = w.node(place, &[r]);
    w.set_default_link(default);
    h
}
