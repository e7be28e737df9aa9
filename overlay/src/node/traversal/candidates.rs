//! Which endpoints a node offers for hole punching, and which endpoints of
//! the other side it probes (including predicted ports).

use std::net::{IpAddr, SocketAddr};

use super::{OwnView, Traversal};
use crate::wire::signal::{candidate_kind, Candidate, Candidates, NatHint, MAX_CANDIDATES};

/// Ports probed beyond the last one a sequential NAT revealed.
pub(crate) const PREDICTED_PORTS: i32 = 12;
/// Ports probed below a sequential NAT's reading (see `reading.rs`).
const BELOW_READING: i32 = 8;

/// NAT mapping values of [`NatHint::mapping`].
pub(crate) mod mapping {
    /// The same external port toward every destination.
    pub(crate) const INDEPENDENT: u8 = 1;
    /// A new external port per destination.
    pub(crate) const DEPENDENT: u8 = 2;
}

/// Port allocation values of [`NatHint::allocation`].
pub(crate) mod allocation {
    /// The external port is the local port.
    pub(crate) const PRESERVED: u8 = 1;
    /// Each new mapping takes a port at random.
    pub(crate) const RANDOM: u8 = 3;
    /// Each new mapping takes the previous port plus a fixed step.
    pub(crate) const SEQUENTIAL: u8 = 2;
}

/// Whether a member may make this node probe `addr` as a candidate: never
/// the unspecified address, loopback, multicast or broadcast, link-local
/// addresses (those only make sense on one link, which LAN discovery
/// covers), port 0, or an overlay address (which would loop the overlay into
/// itself; `ipv4` is the overlay's IPv4 range). The rest of the limits on
/// what a signal can make a node send are in `punch.rs`.
pub(crate) fn probe_allowed(
    addr: &SocketAddr,
    prefix: &crate::identity::NetworkPrefix,
    ipv4: &crate::identity::address::Ipv4Range,
) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip().to_canonical() {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_link_local()
                || ipv4.contains(&v4))
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unicast_link_local()
                || prefix.contains(&v6))
        }
    }
}

impl Traversal {
    /// Our candidates, best first: interface addresses, the port our router
    /// maps for us, then what other members and STUN servers see of us.
    pub(crate) fn own_candidates(&self, own: &OwnView) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let mut push = |kind, addr: SocketAddr| {
            if out.len() < MAX_CANDIDATES && !out.iter().any(|c| c.addr == addr) {
                out.push(Candidate { kind, addr });
            }
        };
        for &a in &self.local_addrs {
            push(candidate_kind::LOCAL, a);
        }
        if let Some(a) = own.mapped {
            push(candidate_kind::MAPPED, a);
        }
        for o in &self.observed {
            push(candidate_kind::REFLEXIVE, o.addr);
        }
        for &a in &own.reflexive {
            push(candidate_kind::REFLEXIVE, a);
        }
        out
    }

    /// The message that tells the other side of a punch our candidates:
    /// `request`s it to join, names the punch, and says how many extra
    /// sockets we opened toward it.
    pub(crate) fn own_candidates_message(
        &self,
        own: &OwnView,
        request: bool,
        punch_id: u64,
        extra: u16,
    ) -> Candidates {
        Candidates {
            request,
            fresh: false,
            punch_id,
            nat: self.own_nat_hint(own),
            extra_sockets: extra,
            list: self.own_candidates(own),
        }
    }

    /// What we know of our NAT: the self-check's findings, completed by
    /// how members saw us since.
    pub(crate) fn own_nat_hint(&self, own: &OwnView) -> NatHint {
        let mut checked = self.check.hint.unwrap_or_default();
        // What STUN answers (members' and configured servers') add.
        let stun = &own.stun;
        if checked.mapping == 0 {
            checked.mapping = match stun.behaviour {
                crate::node::NatBehaviour::EndpointIndependent => mapping::INDEPENDENT,
                crate::node::NatBehaviour::Dependent => mapping::DEPENDENT,
                crate::node::NatBehaviour::Unknown => 0,
            };
        }
        if checked.allocation == 0 {
            use tessel_nat::netcheck::PortAllocation;
            match stun.allocation {
                PortAllocation::Preserved => checked.allocation = allocation::PRESERVED,
                PortAllocation::Sequential { step } => {
                    checked.allocation = allocation::SEQUENTIAL;
                    checked.step = i16::try_from(step).unwrap_or(0);
                }
                PortAllocation::Random => checked.allocation = allocation::RANDOM,
                PortAllocation::Unknown => {}
            }
        }
        let obs = &self.observed;
        let Some(latest) = obs.first() else {
            return checked;
        };
        if checked.mapping != 0 {
            return checked;
        }
        let mut hint = NatHint {
            last_port: if checked.allocation != 0 {
                checked.last_port
            } else {
                latest.addr.port()
            },
            ..checked
        };
        // Sightings from two members: the same port means one mapping for
        // every destination.
        if let Some(other) = obs
            .iter()
            .find(|o| o.by != latest.by && o.addr.ip() == latest.addr.ip())
        {
            hint.mapping = if other.addr.port() == latest.addr.port() {
                mapping::INDEPENDENT
            } else {
                mapping::DEPENDENT
            };
        }
        hint
    }
}

/// Ports below a reflexive port that an escalated punch probes.
const WINDOW_BELOW: i32 = 8;
/// Ports above a reflexive port that an escalated punch probes.
const WINDOW_ABOVE: i32 = 24;

/// The endpoints to probe for a member with these candidates and NAT (as it
/// first told it, and its reading, `fresh`, if it sent one: see
/// `reading.rs`). Toward a NAT that allocates in sequence and may map per
/// destination, the ports that follow the last one it told, and those that
/// follow its reading (its first probes toward us may have gone before it
/// read, or after). An
/// `escalated` punch (the plain candidates did not answer) toward a NAT that
/// may map per destination also probes a window of ports around each
/// reflexive candidate: a NAT that allocates in sequence will have given the
/// mapping toward us a port just above the last one seen. Ports beyond the
/// candidates go only to the addresses in `spray_ips` (see `aim.rs`).
pub(crate) fn probe_targets(
    remote: &[Candidate],
    nat: &NatHint,
    fresh: Option<&NatHint>,
    escalated: bool,
    spray_ips: &[IpAddr],
) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut push = |a: SocketAddr| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for c in remote {
        push(c.addr);
    }
    use super::crossing::sequential_per_destination;
    let fresh = fresh.filter(|f| sequential_per_destination(f));
    let sequential = sequential_per_destination(nat) || fresh.is_some();
    if sequential {
        for c in remote
            .iter()
            .filter(|c| c.kind == candidate_kind::REFLEXIVE && spray_ips.contains(&c.addr.ip()))
        {
            let told = Some(nat).filter(|n| sequential_per_destination(n));
            // After the port told and after the reading; and just below the
            // reading, where mappings the other side made toward us before
            // it read (a punch that began before its self-check) are.
            let after = told
                .into_iter()
                .chain(fresh)
                .map(|h| (h, 1..=PREDICTED_PORTS));
            let below = fresh.map(|h| (h, -BELOW_READING..=-1));
            for (h, ks) in after.chain(below) {
                for k in ks {
                    let port = i32::from(h.last_port) + i32::from(h.step) * k;
                    if let Ok(port) = u16::try_from(port) {
                        if port != 0 {
                            push(SocketAddr::new(c.addr.ip(), port));
                        }
                    }
                }
            }
        }
    } else if escalated && nat.mapping != mapping::INDEPENDENT {
        for c in remote
            .iter()
            .filter(|c| c.kind == candidate_kind::REFLEXIVE && spray_ips.contains(&c.addr.ip()))
        {
            let base = i32::from(c.addr.port());
            for d in (1..=WINDOW_ABOVE).chain((1..=WINDOW_BELOW).map(|d| -d)) {
                if let Ok(port) = u16::try_from(base + d) {
                    if port != 0 {
                        push(SocketAddr::new(c.addr.ip(), port));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_nats_get_predicted_ports() {
        let remote = [Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr: "203.0.113.5:40000".parse().unwrap(),
        }];
        let nat = NatHint {
            mapping: mapping::DEPENDENT,
            allocation: allocation::SEQUENTIAL,
            step: 2,
            last_port: 40_010,
        };
        let ips = [remote[0].addr.ip()];
        let t = probe_targets(&remote, &nat, None, false, &ips);
        assert_eq!(t[0], remote[0].addr);
        assert_eq!(t[1].port(), 40_012);
        assert_eq!(t.len(), 1 + PREDICTED_PORTS as usize);
        assert!(probe_targets(&remote, &NatHint::default(), None, false, &ips).len() == 1);
        // Toward an address not allowed to be sprayed: the candidate only.
        assert_eq!(
            probe_targets(&remote, &nat, None, true, &[]),
            vec![remote[0].addr]
        );
        let window = probe_targets(&remote, &NatHint::default(), None, true, &ips);
        assert_eq!(window.len(), 1 + (WINDOW_ABOVE + WINDOW_BELOW) as usize);
        assert!(window.contains(&"203.0.113.5:40001".parse().unwrap()));
    }

    #[test]
    fn a_reading_adds_the_ports_after_it_to_those_after_the_port_told() {
        let remote = [Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr: "203.0.113.5:40000".parse().unwrap(),
        }];
        // Mapping not known (one member saw it): still predicted.
        let told = NatHint {
            mapping: 0,
            allocation: allocation::SEQUENTIAL,
            step: 1,
            last_port: 40_010,
        };
        let read = NatHint {
            last_port: 40_100,
            ..told
        };
        let ips = [remote[0].addr.ip()];
        let t = probe_targets(&remote, &told, Some(&read), false, &ips);
        assert_eq!(t.len(), 1 + 2 * PREDICTED_PORTS as usize + 8);
        assert!(t.contains(&"203.0.113.5:40011".parse().unwrap()));
        assert!(t.contains(&"203.0.113.5:40101".parse().unwrap()));
        assert!(t.contains(&"203.0.113.5:40092".parse().unwrap()));
        // A reading alone (the port first told said nothing of the NAT).
        let t = probe_targets(&remote, &NatHint::default(), Some(&read), false, &ips);
        assert_eq!(t.len(), 1 + PREDICTED_PORTS as usize + 8);
        // A NAT known to keep one mapping for every destination: none.
        let cone = NatHint {
            mapping: mapping::INDEPENDENT,
            ..told
        };
        assert_eq!(probe_targets(&remote, &cone, None, false, &ips).len(), 1);
    }

    #[test]
    fn predictions_stay_in_the_port_range() {
        let remote = [Candidate {
            kind: candidate_kind::REFLEXIVE,
            addr: "203.0.113.5:65530".parse().unwrap(),
        }];
        let nat = NatHint {
            mapping: mapping::DEPENDENT,
            allocation: allocation::SEQUENTIAL,
            step: 3,
            last_port: 65_530,
        };
        let ips = [remote[0].addr.ip()];
        assert!(probe_targets(&remote, &nat, None, true, &ips).len() <= 3);
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    use crate::identity::{NetworkKey, NetworkPrefix};

    #[test]
    fn signals_cannot_aim_probes_at_local_special_or_overlay_addresses() {
        let prefix = NetworkPrefix::of(&NetworkKey::from_secret([1; 32]).id());
        let range = crate::identity::address::Ipv4Range::DEFAULT;
        let overlay_v6 = SocketAddr::new(prefix.record_addr(&[7; 32]).into(), 9740);
        for refused in [
            "0.0.0.0:9740",
            "127.0.0.1:9740",
            "224.0.0.1:9740",
            "255.255.255.255:9740",
            "169.254.1.1:9740",
            "100.64.0.1:9740",
            "198.51.100.1:0",
            "[::]:9740",
            "[::1]:9740",
            "[ff02::1]:9740",
            "[fe80::1]:9740",
            "[::ffff:127.0.0.1]:9740",
        ] {
            let addr: SocketAddr = refused.parse().unwrap();
            assert!(!probe_allowed(&addr, &prefix, &range), "{refused}");
        }
        assert!(!probe_allowed(&overlay_v6, &prefix, &range));
        // Another range: its addresses are the overlay's, 100.64/10 not.
        let other: crate::identity::address::Ipv4Range = "10.213.0.0/16".parse().unwrap();
        assert!(!probe_allowed(
            &"10.213.4.5:9740".parse().unwrap(),
            &prefix,
            &other
        ));
        assert!(probe_allowed(
            &"100.64.0.1:9740".parse().unwrap(),
            &prefix,
            &other
        ));
        for allowed in [
            "198.51.100.1:9740",
            "198.18.0.2:40000",
            "[2001:db8::1]:9740",
        ] {
            let addr: SocketAddr = allowed.parse().unwrap();
            assert!(probe_allowed(&addr, &prefix, &range), "{allowed}");
        }
    }
}
