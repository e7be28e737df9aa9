//! The NAT machine, behaviour by behaviour.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::rng::{stream, Stream};
use crate::time::{secs, SimTime};

const EXT: &str = "203.0.113.9";

fn nat(config: NatConfig) -> Nat {
    Nat::new(config, EXT.parse().unwrap(), stream(3, Stream::Nat(0)))
}

fn kind(k: NatKind) -> Nat {
    nat(k.config())
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn t(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

const IN1: &str = "198.18.0.2:9740";
const IN2: &str = "198.18.0.3:9740";
const D1: &str = "192.0.2.1:9740";
const D1_OTHER_PORT: &str = "192.0.2.1:4000";
const D2: &str = "198.51.100.7:5000";
const THIRD: &str = "192.0.2.66:9740";

fn out(n: &mut Nat, now: SimTime, src: &str, dst: &str) -> SocketAddr {
    match n.outbound(now, a(src), a(dst)) {
        Outbound::Forward { src } => src,
        other => panic!("expected a forward, got {other:?}"),
    }
}

#[test]
fn endpoint_independent_mapping_reuses_the_port_toward_two_destinations() {
    for k in [
        NatKind::FullCone,
        NatKind::RestrictedCone,
        NatKind::PortRestrictedCone,
    ] {
        let mut n = kind(k);
        let e1 = out(&mut n, t(0), IN1, D1);
        let e2 = out(&mut n, t(0), IN1, D2);
        assert_eq!(e1, e2, "{k}");
        assert_eq!(e1.ip(), EXT.parse::<std::net::IpAddr>().unwrap());
        assert_eq!(e1.port(), 9740, "{k}: ports are preserved");
        assert_eq!(n.stats().mappings_created, 1);
    }
}

#[test]
fn a_nat_out_of_ports_drops_new_mappings_until_one_lapses() {
    for k in [NatKind::SymmetricSequential, NatKind::SymmetricRandom] {
        let mut n = kind(k);
        let span = u32::from(u16::MAX - FIRST_PORT) + 1;
        let dst = |i: u32| {
            SocketAddr::new(
                std::net::Ipv4Addr::from(0xcb00_7100 + (i >> 16)).into(),
                (i & 0xffff) as u16,
            )
        };
        let mut ports = std::collections::HashSet::new();
        for i in 0..span {
            match n.outbound(t(0), a(IN1), dst(i)) {
                Outbound::Forward { src } => assert!(ports.insert(src.port()), "{k}: port reused"),
                other => panic!("{k}: mapping {i}: {other:?}"),
            }
        }
        assert_eq!(
            n.outbound(t(1), a(IN1), dst(span)),
            Outbound::Drop(NatDrop::PortsExhausted),
            "{k}"
        );
        // Once the mappings lapse, ports are free again.
        let later = t(0) + n.config.timeout + secs(1);
        assert!(matches!(
            n.outbound(later, a(IN1), dst(span)),
            Outbound::Forward { .. }
        ));
    }
}

#[test]
fn symmetric_mapping_takes_a_new_port_per_destination() {
    for k in [NatKind::SymmetricSequential, NatKind::SymmetricRandom] {
        let mut n = kind(k);
        let e1 = out(&mut n, t(0), IN1, D1);
        let e1_again = out(&mut n, t(1), IN1, D1);
        let e1b = out(&mut n, t(1), IN1, D1_OTHER_PORT);
        let e2 = out(&mut n, t(1), IN1, D2);
        assert_eq!(e1, e1_again, "{k}: same destination, same mapping");
        assert_ne!(
            e1, e1b,
            "{k}: another port of the same host is a new mapping"
        );
        assert_ne!(e1, e2, "{k}");
        assert_ne!(e1b, e2, "{k}");
        assert_eq!(n.stats().mappings_created, 3);
    }
}

#[test]
fn address_dependent_mapping_shares_a_port_per_destination_address() {
    let mut n = nat(NatConfig {
        mapping: Mapping::AddressDependent,
        allocation: Allocation::Random,
        ..NatKind::PortRestrictedCone.config()
    });
    let e1 = out(&mut n, t(0), IN1, D1);
    assert_eq!(e1, out(&mut n, t(0), IN1, D1_OTHER_PORT));
    assert_ne!(e1, out(&mut n, t(0), IN1, D2));
}

#[test]
fn sequential_allocation_advances_by_its_step() {
    let mut n = nat(NatConfig {
        allocation: Allocation::Sequential { step: 7 },
        ..NatKind::SymmetricSequential.config()
    });
    let ports: Vec<u16> = [D1, D2, THIRD, D1_OTHER_PORT]
        .iter()
        .map(|d| out(&mut n, t(0), IN1, d).port())
        .collect();
    let span = u32::from(u16::MAX - 1024) + 1;
    for w in ports.windows(2) {
        let (p0, p1) = (u32::from(w[0] - 1024), u32::from(w[1] - 1024));
        assert_eq!((p1 + span - p0) % span, 7, "{ports:?}");
    }
}

#[test]
fn random_allocation_is_seeded() {
    let ports = |seed| {
        let mut n = Nat::new(
            NatKind::SymmetricRandom.config(),
            EXT.parse().unwrap(),
            stream(seed, Stream::Nat(0)),
        );
        [D1, D2, THIRD]
            .iter()
            .map(|d| out(&mut n, t(0), IN1, d).port())
            .collect::<Vec<_>>()
    };
    assert_eq!(ports(5), ports(5));
    assert_ne!(ports(5), ports(6));
}

#[test]
fn port_preservation_falls_back_when_the_port_is_taken() {
    let mut n = kind(NatKind::PortRestrictedCone);
    let e1 = out(&mut n, t(0), IN1, D1);
    let e2 = out(&mut n, t(0), IN2, D1);
    assert_eq!(e1.port(), 9740);
    assert_ne!(e2.port(), 9740, "two hosts on port 9740 cannot share it");
    assert_eq!(n.inbound(t(1), a(D1), e1.port()), Ok(a(IN1)));
    assert_eq!(n.inbound(t(1), a(D1), e2.port()), Ok(a(IN2)));
}

#[test]
fn unsolicited_inbound_from_a_third_endpoint() {
    // (kind, from the same IP on another port, from a third IP)
    let cases = [
        (NatKind::FullCone, true, true),
        (NatKind::RestrictedCone, true, false),
        (NatKind::PortRestrictedCone, false, false),
        (NatKind::SymmetricSequential, false, false),
        (NatKind::SymmetricRandom, false, false),
        (NatKind::Carrier, false, false),
    ];
    for (k, same_ip, third) in cases {
        let mut n = kind(k);
        let e = out(&mut n, t(0), IN1, D1);
        assert_eq!(
            n.inbound(t(1), a(D1), e.port()),
            Ok(a(IN1)),
            "{k}: the reply"
        );
        let r = n.inbound(t(1), a(D1_OTHER_PORT), e.port());
        assert_eq!(r.is_ok(), same_ip, "{k}: same IP, other port: {r:?}");
        let r = n.inbound(t(1), a(THIRD), e.port());
        assert_eq!(r.is_ok(), third, "{k}: third endpoint: {r:?}");
        if !third {
            assert_eq!(r, Err(NatDrop::Filtered));
        }
        // Nothing at all arrives at a port without a mapping.
        let unused = e.port().wrapping_add(1).max(1024);
        assert_eq!(
            n.inbound(t(1), a(D1), unused),
            Err(NatDrop::NoMapping),
            "{k}"
        );
    }
}

#[test]
fn inbound_opens_once_the_inside_sent_there() {
    let mut n = kind(NatKind::PortRestrictedCone);
    let e = out(&mut n, t(0), IN1, D1);
    assert_eq!(n.inbound(t(1), a(D2), e.port()), Err(NatDrop::Filtered));
    out(&mut n, t(2), IN1, D2);
    assert_eq!(n.inbound(t(3), a(D2), e.port()), Ok(a(IN1)));
}

#[test]
fn mappings_time_out_unless_outbound_traffic_refreshes_them() {
    let timeout = Duration::from_secs(30);
    let mut n = nat(NatConfig {
        timeout,
        ..NatKind::PortRestrictedCone.config()
    });
    let e = out(&mut n, t(0), IN1, D1);
    // Inbound traffic does not refresh.
    assert!(n.inbound(t(20), a(D1), e.port()).is_ok());
    assert_eq!(n.inbound(t(30), a(D1), e.port()), Err(NatDrop::NoMapping));
    assert_eq!(n.live_mappings(t(30)), 0);
    // Outbound traffic does.
    let e = out(&mut n, t(40), IN1, D1);
    out(&mut n, t(60), IN1, D1);
    assert!(n.inbound(t(85), a(D1), e.port()).is_ok());
    assert_eq!(n.live_mappings(t(85)), 1);
    assert_eq!(n.inbound(t(90), a(D1), e.port()), Err(NatDrop::NoMapping));
}

#[test]
fn each_destination_permission_lapses_on_its_own() {
    let mut n = nat(NatConfig {
        timeout: Duration::from_secs(30),
        ..NatKind::PortRestrictedCone.config()
    });
    let e = out(&mut n, t(0), IN1, D1);
    out(&mut n, t(0), IN1, D2);
    // Only D1 is refreshed; the mapping lives on, D2's permission lapses.
    out(&mut n, t(20), IN1, D1);
    assert!(n.inbound(t(40), a(D1), e.port()).is_ok());
    assert_eq!(n.inbound(t(40), a(D2), e.port()), Err(NatDrop::Filtered));
}

#[test]
fn expired_symmetric_mapping_gets_a_new_port() {
    let mut n = nat(NatConfig {
        timeout: Duration::from_secs(30),
        ..NatKind::SymmetricSequential.config()
    });
    let e1 = out(&mut n, t(0), IN1, D1);
    let e2 = out(&mut n, t(31), IN1, D1);
    assert_ne!(e1, e2);
    assert_eq!(n.inbound(t(32), a(D1), e1.port()), Err(NatDrop::NoMapping));
    assert_eq!(n.inbound(t(32), a(D1), e2.port()), Ok(a(IN1)));
}

#[test]
fn hairpinning_loops_back_with_the_external_source() {
    let mut n = kind(NatKind::FullCone);
    let e2 = out(&mut n, t(0), IN2, D1);
    match n.outbound(t(1), a(IN1), e2) {
        Outbound::Hairpin { src, dst } => {
            assert_eq!(dst, a(IN2));
            assert_eq!(src.ip(), e2.ip(), "the source is IN1's external address");
            assert_ne!(src.port(), e2.port());
        }
        other => panic!("{other:?}"),
    }
    let mut off = nat(NatConfig {
        hairpin: false,
        ..NatKind::FullCone.config()
    });
    let e2 = out(&mut off, t(0), IN2, D1);
    assert_eq!(
        off.outbound(t(1), a(IN1), e2),
        Outbound::Drop(NatDrop::HairpinOff)
    );
    assert_eq!(off.stats().drops.get(&NatDrop::HairpinOff), Some(&1));
}

#[test]
fn hairpinning_still_filters() {
    // Port-restricted: IN1 reaches IN2's external endpoint only after IN2
    // sent to IN1's external endpoint.
    let mut n = kind(NatKind::PortRestrictedCone);
    let e1 = out(&mut n, t(0), IN1, D1);
    let e2 = out(&mut n, t(0), IN2, D1);
    assert_eq!(
        n.outbound(t(1), a(IN1), e2),
        Outbound::Drop(NatDrop::Filtered)
    );
    match n.outbound(t(2), a(IN2), e1) {
        Outbound::Hairpin { src, dst } => assert_eq!((src, dst), (e2, a(IN1))),
        other => panic!("{other:?}"),
    }
    match n.outbound(t(3), a(IN1), e2) {
        Outbound::Hairpin { src, dst } => assert_eq!((src, dst), (e1, a(IN2))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocked_udp_passes_neither_way() {
    let mut n = kind(NatKind::UdpBlocked);
    assert_eq!(
        n.outbound(t(0), a(IN1), a(D1)),
        Outbound::Drop(NatDrop::Blocked)
    );
    assert_eq!(n.inbound(t(0), a(D1), 9740), Err(NatDrop::Blocked));
}

#[test]
fn renumbering_loses_every_mapping() {
    let mut n = kind(NatKind::FullCone);
    let e = out(&mut n, t(0), IN1, D1);
    n.renumber("192.0.2.200".parse().unwrap());
    assert_eq!(n.inbound(t(1), a(D1), e.port()), Err(NatDrop::NoMapping));
    let e2 = out(&mut n, t(1), IN1, D1);
    assert_eq!(e2, a("192.0.2.200:9740"));
}

#[test]
fn kinds_round_trip_through_their_names() {
    for k in NatKind::ALL {
        assert_eq!(k.name().parse::<NatKind>(), Ok(k));
    }
    assert!("cone".parse::<NatKind>().is_err());
}

#[test]
fn linux_keeps_the_port_toward_every_destination_and_filters_by_flow() {
    let mut n = kind(NatKind::Linux);
    let e1 = out(&mut n, t(0), IN1, D1);
    assert_eq!(e1, a("203.0.113.9:9740"), "the source port is kept");
    assert_eq!(out(&mut n, t(0), IN1, D2), e1, "one socket, one port");
    assert_eq!(n.inbound(t(1), a(D1), e1.port()), Ok(a(IN1)));
    assert_eq!(
        n.inbound(t(1), a(THIRD), e1.port()),
        Err(NatDrop::Filtered),
        "no flow to that endpoint"
    );
    assert_eq!(n.stats().port_clashes, 0);
}

#[test]
fn linux_moves_a_flow_that_clashes_with_an_earlier_inbound_datagram() {
    let mut n = kind(NatKind::Linux);
    let e1 = out(&mut n, t(0), IN1, D1);
    // The peer's punch arrives before our first datagram to it: dropped,
    // but conntrack keeps its tuple.
    assert_eq!(n.inbound(t(1), a(THIRD), e1.port()), Err(NatDrop::Filtered));
    let e2 = out(&mut n, t(1), IN1, THIRD);
    assert_ne!(e2.port(), e1.port(), "the tuple is taken: another port");
    assert_eq!(n.stats().port_clashes, 1);
    assert_eq!(n.inbound(t(2), a(THIRD), e2.port()), Ok(a(IN1)));
    // Further datagrams to the old port still find no flow.
    assert_eq!(n.inbound(t(2), a(THIRD), e1.port()), Err(NatDrop::Filtered));
    // Other destinations keep the preserved port.
    assert_eq!(out(&mut n, t(2), IN1, D2), e1);
}

#[test]
fn linux_forgets_an_unanswered_inbound_tuple_after_30s() {
    let mut n = kind(NatKind::Linux);
    assert_eq!(n.inbound(t(0), a(THIRD), 9740), Err(NatDrop::NoMapping));
    let later = SimTime::ZERO + CONNTRACK_UNREPLIED + secs(1);
    assert_eq!(out(&mut n, later, IN1, THIRD), a("203.0.113.9:9740"));
    assert_eq!(n.stats().port_clashes, 0);
}

#[test]
fn other_kinds_keep_no_tuple_of_dropped_datagrams() {
    let mut n = kind(NatKind::SymmetricPreserving);
    let e1 = out(&mut n, t(0), IN1, D1);
    assert!(n.inbound(t(1), a(THIRD), e1.port()).is_err());
    assert_eq!(out(&mut n, t(1), IN1, THIRD), e1);
}

#[test]
fn a_reboot_forgets_every_mapping_and_keeps_the_address() {
    let mut n = kind(NatKind::Carrier);
    let e = out(&mut n, t(0), IN1, D1);
    n.reboot();
    assert_eq!(n.external(), EXT.parse::<std::net::IpAddr>().unwrap());
    assert_eq!(n.inbound(t(1), a(D1), e.port()), Err(NatDrop::NoMapping));
    assert_eq!(n.live_mappings(t(1)), 0);
}
