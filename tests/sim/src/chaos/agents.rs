//! What the agents do: the topology they live in, joining, and the random
//! actions (crash, leave, roam, take a link down, cut a path, partition,
//! send traffic), each with its scheduled undoing.

use std::time::Duration;

use rand_chacha::ChaCha20Rng;

use super::{Action, Chaos, ChaosConfig, Spot};
use crate::host::Place;
use crate::ids::{HostId, NatId};
use crate::nat::NatKind;
use crate::rng::{below, chance, exponential, unit};
use crate::time::SimTime;
use crate::world::World;

/// Plans where each node sits and creates the NATs: anchors first (public),
/// then public nodes and nodes behind cone NATs, some of them home routers
/// behind one carrier-grade NAT.
pub(super) fn plan_topology(
    cfg: &ChaosConfig,
    world: &mut World,
    rng: &mut ChaCha20Rng,
) -> Result<(Vec<Spot>, Vec<NatId>), crate::SimError> {
    let others = cfg.nodes.saturating_sub(cfg.anchors);
    let natted = others - (others as f64 * cfg.public_fraction).round() as usize;
    let nat_count = if natted == 0 {
        0
    } else {
        ((natted as f64 / cfg.nodes_per_nat).ceil() as usize).max(1)
    };
    let homes = (nat_count as f64 * cfg.carrier_fraction).round() as usize;
    let cones = [
        NatKind::FullCone,
        NatKind::RestrictedCone,
        NatKind::PortRestrictedCone,
    ];
    let mut nats = Vec::new();
    let carrier = if homes > 0 {
        Some(world.try_nat(Place::Public, NatKind::Carrier.config())?)
    } else {
        None
    };
    for i in 0..nat_count {
        let nat = match carrier {
            Some(c) if i < homes => {
                world.try_nat(Place::Behind(c), NatKind::PortRestrictedCone.config())?
            }
            _ => {
                let kind = cones[below(rng, cones.len() as u64) as usize];
                world.try_nat(Place::Public, kind.config())?
            }
        };
        nats.push(nat);
    }
    let mut spots = vec![Spot::Public; cfg.anchors];
    let mut rest: Vec<Spot> = (0..others)
        .map(|i| {
            if i < natted {
                Spot::Behind(nats[below(rng, nats.len() as u64) as usize])
            } else {
                Spot::Public
            }
        })
        .collect();
    // Shuffle so that join order does not follow the kind of place.
    for i in (1..rest.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        rest.swap(i, j);
    }
    spots.extend(rest);
    Ok((spots, nats))
}

/// Time to the next agent action.
pub(super) fn agent_gap(cfg: &ChaosConfig, rng: &mut ChaCha20Rng) -> Duration {
    gap(cfg.actions_per_node_minute * cfg.nodes as f64, rng)
}

/// Time to the next app packet.
pub(super) fn traffic_gap(cfg: &ChaosConfig, rng: &mut ChaCha20Rng) -> Duration {
    gap(cfg.packets_per_node_minute * cfg.nodes as f64, rng)
}

/// Time to the next partition.
pub(super) fn partition_gap(cfg: &ChaosConfig, rng: &mut ChaCha20Rng) -> Duration {
    gap(cfg.partitions_per_minute, rng)
}

/// An exponential gap for `per_minute` events a minute (never, if 0).
fn gap(per_minute: f64, rng: &mut ChaCha20Rng) -> Duration {
    if per_minute <= 0.0 {
        return Duration::from_secs(u64::from(u32::MAX));
    }
    Duration::from_secs_f64(exponential(rng, 60.0 / per_minute))
}

/// A uniform duration in `[lo, hi]` seconds.
fn between(rng: &mut ChaCha20Rng, lo: f64, hi: f64) -> Duration {
    Duration::from_secs_f64(lo + (hi - lo) * unit(rng))
}

/// Planned node `i` joins. Anchors (created first, in order) bootstrap
/// from the anchors before them; every other node from two random anchors.
pub(super) fn join(c: &mut Chaos, i: usize) {
    let place = match c.spots[i] {
        Spot::Public => Place::Public,
        Spot::Behind(n) => Place::Behind(n),
    };
    let bootstrap: Vec<_> = if i < c.cfg.anchors || c.anchors.is_empty() {
        c.anchors.iter().map(|&a| c.world.addr(a)).collect()
    } else {
        let n = c.anchors.len() as u64;
        let a = below(&mut c.rng, n) as usize;
        let b = (a + 1 + below(&mut c.rng, n.saturating_sub(1).max(1)) as usize) % c.anchors.len();
        let mut v = vec![c.world.addr(c.anchors[a])];
        if b != a {
            v.push(c.world.addr(c.anchors[b]));
        }
        v
    };
    match c.world.try_node_with_bootstrap(place, bootstrap) {
        Ok(h) => {
            if i < c.cfg.anchors {
                c.anchors.push(h);
            }
            c.counts.joins += 1;
        }
        Err(_) => c.counts.skipped += 1,
    }
}

/// A random agent does something, and the next action is scheduled.
pub(super) fn agent(c: &mut Chaos, now: SimTime) {
    let next = now + agent_gap(&c.cfg, &mut c.rng);
    c.agenda.push(next, Action::Agent);
    let hosts = c.world.host_count();
    if hosts == 0 {
        return;
    }
    let h = HostId(below(&mut c.rng, hosts as u64) as u32);
    if !c.world.is_up(h) {
        return;
    }
    let anchor = c.anchors.contains(&h);
    // Weights: crash 3, leave 1, roam 2, link down 1, cut 2 (anchors
    // neither leave nor roam).
    let roll = below(&mut c.rng, 9);
    match roll {
        0..=2 => {
            tracing::debug!(t_ms = now.as_millis(), host = %h, "agent: crash");
            let inc = c.world.incarnations(h);
            c.world.crash(h);
            c.counts.crashes += 1;
            let back = if anchor {
                between(&mut c.rng, 5.0, 30.0)
            } else {
                between(&mut c.rng, 5.0, 90.0)
            };
            c.agenda.push(now + back, Action::Restart(h, inc));
        }
        3 if !anchor => {
            tracing::debug!(t_ms = now.as_millis(), host = %h, "agent: leave");
            let inc = c.world.incarnations(h);
            c.world.leave(h);
            c.counts.leaves += 1;
            if chance(&mut c.rng, 0.7) {
                let back = between(&mut c.rng, 30.0, 180.0);
                c.agenda.push(now + back, Action::Rejoin(h, inc));
            }
        }
        4 | 5 if !anchor && c.cfg.roaming => roam(c, h),
        6 => {
            tracing::debug!(t_ms = now.as_millis(), host = %h, "agent: link down");
            c.world.set_link_up(h, false);
            c.counts.links_down += 1;
            let n = c.faults.next();
            c.faults.links.insert(h, n);
            let back = between(&mut c.rng, 5.0, 60.0);
            c.agenda.push(now + back, Action::LinkUp(h, n));
        }
        7 | 8 => {
            let other = HostId(below(&mut c.rng, hosts as u64) as u32);
            if other != h {
                tracing::debug!(t_ms = now.as_millis(), host = %h, %other, "agent: cut");
                c.world.cut(h, other);
                c.counts.cuts += 1;
                let n = c.faults.next();
                c.faults.cuts.insert((h, other), n);
                let back = between(&mut c.rng, 10.0, 90.0);
                c.agenda.push(now + back, Action::Uncut(h, other, n));
            }
        }
        _ => {}
    }
}

/// `h` changes its address: its NAT is renumbered, it moves behind another
/// NAT, or it moves to (or on) the public Internet.
fn roam(c: &mut Chaos, h: HostId) {
    let roll = unit(&mut c.rng);
    let result = match c.world.nat_of(h) {
        Some(n) if roll < 0.3 => {
            c.counts.nat_renumbers += 1;
            c.world.renumber_nat(n)
        }
        _ if roll < 0.8 && !c.nats.is_empty() => {
            let n = c.nats[below(&mut c.rng, c.nats.len() as u64) as usize];
            c.counts.roams += 1;
            c.world.move_to(h, Place::Behind(n))
        }
        _ => {
            c.counts.roams += 1;
            c.world.move_to(h, Place::Public)
        }
    };
    match result {
        Ok(()) => tracing::debug!(
            t_ms = c.world.now().as_millis(),
            host = %h,
            addr = %c.world.addr(h),
            nat = ?c.world.nat_of(h).map(|n| c.world.nat_ref(n).external()),
            "agent: roam"
        ),
        Err(_) => c.counts.skipped += 1,
    }
}

/// A random live node sends an app packet to another random live node.
pub(super) fn traffic(c: &mut Chaos, now: SimTime) {
    let next = now + traffic_gap(&c.cfg, &mut c.rng);
    c.agenda.push(next, Action::Traffic);
    let hosts = c.world.host_count() as u64;
    if hosts < 2 {
        return;
    }
    let a = HostId(below(&mut c.rng, hosts) as u32);
    let b = HostId(below(&mut c.rng, hosts) as u32);
    let len = 68 + below(&mut c.rng, 1420 - 68 + 1) as usize;
    if a != b && c.world.is_up(a) && c.world.is_up(b) {
        c.world.send_app(a, b, len);
        c.counts.app_packets += 1;
    }
}

/// The network splits into two random halves for a while.
pub(super) fn partition(c: &mut Chaos, now: SimTime) {
    let next = now + partition_gap(&c.cfg, &mut c.rng);
    c.agenda.push(next, Action::Partition);
    let side: Vec<HostId> = c
        .world
        .hosts()
        .filter(|_| chance(&mut c.rng, 0.5))
        .collect();
    tracing::debug!(
        t_ms = now.as_millis(),
        side = side.len(),
        "agent: partition"
    );
    c.world.partition(&[&side]);
    c.counts.partitions += 1;
    let n = c.faults.next();
    c.faults.partition = n;
    let back = between(&mut c.rng, 15.0, 60.0);
    c.agenda.push(now + back, Action::Heal(n));
}
