//! Where the nodes of a mesh run sit: public or behind which NAT, with the
//! NATs grouped to fit the address plan; and which pairs talk.

use std::collections::HashSet;

use rand_chacha::ChaCha20Rng;

use super::{MeshConfig, NAT_SIDES};
use crate::host::Place;
use crate::ids::NatId;
use crate::matrix::Side;
use crate::nat::NatKind;
use crate::rng::below;
use crate::world::World;
use crate::SimError;

/// Public IPv4 addresses in the address plan (see [`crate::addr`]).
const PUBLIC_V4: usize = 762;
/// LANs in the address plan.
const LANS: usize = 2048;
/// Hosts (or home routers) that fit on one LAN.
const LAN_HOSTS: usize = 61;

/// Where node `i` of the plan sits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spot {
    /// Public, or the kind of NAT.
    pub(super) side: Side,
    /// The NAT directly in front of it (the home router, for [`Side::Cgn`]).
    pub(super) nat: Option<NatId>,
}

/// The NATs a plan needs, before any exists: groups of node indices per
/// NAT, with their side.
struct Grouping {
    groups: Vec<(Side, Vec<usize>)>,
    /// Carrier-grade NATs for the home routers.
    carriers: usize,
    /// Smallest and largest group size drawn from.
    sizes: (usize, usize),
}

impl Grouping {
    /// Public IPv4 addresses that the NATs and `public` public nodes need.
    fn public_addresses(&self, public: usize) -> usize {
        let outside = self.groups.iter().filter(|(s, _)| *s != Side::Cgn).count();
        public + outside + self.carriers
    }

    /// LANs the NATs need.
    fn lans(&self) -> usize {
        self.groups.len() + self.carriers
    }
}

/// Splits the nodes of each NAT side into groups of sizes uniform in
/// `m - d ..= m + d` (mean `m`; `d` keeps them within 1 and a LAN).
fn group(sides: &[Side], m: usize, rng: &mut ChaCha20Rng) -> Grouping {
    let d = (m - 1).min(LAN_HOSTS - m);
    let (lo, hi) = (m - d, m + d);
    let mut groups = Vec::new();
    for side in NAT_SIDES {
        let members: Vec<usize> = (0..sides.len()).filter(|&i| sides[i] == side).collect();
        let mut rest = &members[..];
        while !rest.is_empty() {
            let size = (lo + below(rng, (hi - lo + 1) as u64) as usize).min(rest.len());
            groups.push((side, rest[..size].to_vec()));
            rest = &rest[size..];
        }
    }
    let homes = groups.iter().filter(|(s, _)| *s == Side::Cgn).count();
    Grouping {
        groups,
        carriers: homes.div_ceil(LAN_HOSTS),
        sizes: (lo, hi),
    }
}

/// The places of a run's nodes, in join order (node `i` becomes host `i`).
pub(super) struct Plan {
    /// Every node's place.
    pub(super) spots: Vec<Spot>,
    /// The first this many nodes are the public anchors.
    pub(super) anchors: usize,
    /// Smallest and largest number of nodes a NAT was planned for.
    pub(super) sizes: (usize, usize),
}

/// Draws every node's place and creates the NATs in `world`: 5 % public
/// (the anchors first), the rest spread uniformly over [`NAT_SIDES`], in
/// the smallest groups per NAT that fit the address plan.
///
/// # Errors
/// When the NATs do not fit even in the largest groups.
pub(super) fn plan(
    cfg: &MeshConfig,
    world: &mut World,
    rng: &mut ChaCha20Rng,
) -> Result<Plan, SimError> {
    let n = cfg.nodes;
    let public = ((n as f64 * cfg.public_fraction).round() as usize)
        .max(cfg.anchors)
        .min(n);
    let anchors = cfg.anchors.min(public);
    // Sides in join order: the anchors first, the rest shuffled.
    let mut sides: Vec<Side> = (0..n)
        .map(|i| {
            if i < public {
                Side::Public
            } else {
                NAT_SIDES[below(rng, NAT_SIDES.len() as u64) as usize]
            }
        })
        .collect();
    for i in (anchors + 1..n).rev() {
        let j = anchors + below(rng, (i - anchors + 1) as u64) as usize;
        sides.swap(i, j);
    }
    // The smallest groups that fit the address plan.
    let mut m = 2;
    let grouping = loop {
        let mut attempt = rng.clone();
        let g = group(&sides, m, &mut attempt);
        if g.public_addresses(public) <= PUBLIC_V4 && g.lans() <= LANS {
            *rng = attempt;
            break g;
        }
        if m >= LAN_HOSTS {
            return Err(if g.lans() > LANS {
                SimError::LansExhausted
            } else {
                SimError::PublicV4Exhausted
            });
        }
        m += 1;
    };
    let mut spots: Vec<Spot> = sides.iter().map(|&side| Spot { side, nat: None }).collect();
    let carriers = (0..grouping.carriers)
        .map(|_| world.try_nat(Place::Public, NatKind::Carrier.config()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut homes = 0;
    for (side, members) in &grouping.groups {
        let nat = match side {
            Side::Nat(kind) => world.try_nat(Place::Public, kind.config())?,
            _ => {
                let carrier = carriers[homes % carriers.len()];
                homes += 1;
                world.try_nat(Place::Behind(carrier), NatKind::PortRestrictedCone.config())?
            }
        };
        for &i in members {
            spots[i].nat = Some(nat);
        }
    }
    Ok(Plan {
        spots,
        anchors,
        sizes: grouping.sizes,
    })
}

/// `count` distinct unordered pairs of `0..n` drawn uniformly, or every
/// pair if there are no more than `count`.
pub(super) fn sample_pairs(n: usize, count: usize, rng: &mut ChaCha20Rng) -> Vec<(usize, usize)> {
    let all = n * n.saturating_sub(1) / 2;
    if all <= count {
        return (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .collect();
    }
    let mut seen = HashSet::new();
    let mut pairs = Vec::with_capacity(count);
    while pairs.len() < count {
        let i = below(rng, n as u64) as usize;
        let j = below(rng, n as u64) as usize;
        if i != j && seen.insert((i.min(j), i.max(j))) {
            pairs.push((i.min(j), i.max(j)));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    fn plan_of(nodes: usize) -> (Plan, World) {
        let cfg = MeshConfig::new(nodes, 0, 1);
        let mut world = World::new(1);
        let mut rng = stream(1, Stream::Scenario);
        let plan = plan(&cfg, &mut world, &mut rng).expect("the plan fits");
        (plan, world)
    }

    #[test]
    fn small_networks_share_nats_between_one_to_three_nodes() {
        let (p, w) = plan_of(1000);
        assert_eq!(p.sizes, (1, 3));
        assert_eq!(p.anchors, 3);
        let public = p.spots.iter().filter(|s| s.side == Side::Public).count();
        assert_eq!(public, 50);
        assert!(p.spots[..3].iter().all(|s| s.nat.is_none()));
        assert!(p
            .spots
            .iter()
            .all(|s| (s.side == Side::Public) == s.nat.is_none()));
        // About two nodes per NAT, plus the carrier-grade NATs.
        assert!((400..600).contains(&w.nat_count()), "{}", w.nat_count());
    }

    #[test]
    fn ten_thousand_nodes_fit_the_address_plan_in_larger_groups() {
        let (p, w) = plan_of(10_000);
        assert!(p.sizes.1 > 3 && p.sizes.1 <= LAN_HOSTS, "{:?}", p.sizes);
        assert!(w.nat_count() <= LANS);
        for side in NAT_SIDES {
            assert!(p.spots.iter().any(|s| s.side == side), "no {side}");
        }
    }

    #[test]
    fn pairs_are_distinct_and_all_of_them_when_few() {
        let mut rng = stream(1, Stream::Scenario);
        assert_eq!(sample_pairs(4, 100, &mut rng).len(), 6);
        let pairs = sample_pairs(100, 1000, &mut rng);
        let distinct: HashSet<_> = pairs.iter().collect();
        assert_eq!(distinct.len(), 1000);
        assert!(pairs.iter().all(|&(a, b)| a < b && b < 100));
    }
}
