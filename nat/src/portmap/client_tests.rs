//! The PCP and NAT-PMP client against canned gateway answers, in virtual
//! time.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::client::{Client, ClientConfig, Event, Failure};
use super::{natpmp, pcp, Protocol};

const PORT: u16 = 9740;
const NONCE: [u8; 12] = [3; 12];
const EXTERNAL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

fn client_addr() -> IpAddr {
    Ipv4Addr::new(198, 18, 1, 2).into()
}

fn client(protocol: Protocol, now: Instant) -> Client {
    Client::new(
        ClientConfig {
            protocol,
            client_addr: client_addr(),
            internal_port: PORT,
            lifetime: 7200,
            nonce: NONCE,
            seed: 7,
        },
        now,
    )
}

fn events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn one_transmit(c: &mut Client) -> Vec<u8> {
    let t = c.poll_transmit().expect("a request");
    assert!(c.poll_transmit().is_none(), "exactly one request");
    t
}

/// The PCP gateway's answer to `req`, granting `lifetime` at `epoch` on
/// external port `port`.
fn pcp_answer(req: &[u8], lifetime: u32, epoch: u32, port: u16) -> Vec<u8> {
    let r = pcp::parse_request(req).unwrap();
    let mut m = r.map.unwrap();
    m.external_port = port;
    m.external_addr = EXTERNAL.into();
    pcp::emit_response(
        pcp::Opcode::Map,
        pcp::ResultCode::Success,
        lifetime.min(r.lifetime),
        epoch,
        Some(&m),
    )
}

fn natpmp_answer(req: &[u8], lifetime: u32, epoch: u32, port: u16) -> Vec<u8> {
    match natpmp::parse_request(req).unwrap() {
        natpmp::Request::ExternalAddress => natpmp::emit_response(
            natpmp::Opcode::ExternalAddress,
            natpmp::ResultCode::Success,
            epoch,
            &natpmp::external_address_body(EXTERNAL),
        ),
        natpmp::Request::Map(m) => natpmp::emit_response(
            natpmp::Opcode::MapUdp,
            natpmp::ResultCode::Success,
            epoch,
            &natpmp::map_body(m.internal_port, port, lifetime.min(m.lifetime)),
        ),
    }
}

#[test]
fn pcp_maps_renews_at_half_lifetime_and_deletes() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let req = one_transmit(&mut c);
    let r = pcp::parse_request(&req).unwrap();
    assert_eq!(r.opcode, pcp::Opcode::Map);
    assert_eq!((r.lifetime, r.client), (7200, client_addr()));
    let m = r.map.unwrap();
    assert_eq!((m.nonce, m.protocol, m.internal_port), (NONCE, 17, PORT));
    assert_eq!(m.external_addr, IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    let t1 = t0 + Duration::from_millis(5);
    c.handle_datagram(t1, &pcp_answer(&req, 120, 10, 40000));
    let mapped = match &events(&mut c)[..] {
        [Event::Mapped(m)] => *m,
        other => panic!("{other:?}"),
    };
    assert_eq!(mapped.protocol, Protocol::Pcp);
    assert_eq!(mapped.external, SocketAddr::new(EXTERNAL.into(), 40000));
    assert_eq!(mapped.lifetime, Duration::from_secs(120));
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(60)));

    // Nothing happens before half the lifetime.
    c.handle_timeout(t1 + Duration::from_secs(59));
    assert!(c.poll_transmit().is_none());
    let t2 = t1 + Duration::from_secs(60);
    c.handle_timeout(t2);
    let renew = one_transmit(&mut c);
    let m = pcp::parse_request(&renew).unwrap().map.unwrap();
    assert_eq!(m.external_port, 40000, "renewal suggests the port it holds");
    assert_eq!(m.external_addr, IpAddr::V4(EXTERNAL));
    assert_eq!(m.nonce, NONCE);
    c.handle_datagram(t2, &pcp_answer(&renew, 120, 70, 40000));
    assert!(matches!(&events(&mut c)[..], [Event::Mapped(_)]));

    c.stop(t2);
    let del = one_transmit(&mut c);
    let d = pcp::parse_request(&del).unwrap();
    assert_eq!(d.lifetime, 0);
    assert_eq!(d.map.unwrap().nonce, NONCE);
    c.handle_datagram(t2, &pcp_answer(&del, 0, 70, 40000));
    assert_eq!(events(&mut c), vec![Event::Deleted]);
    assert!(c.is_done());
    assert_eq!(c.mapping(), None);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn pcp_retransmits_with_doubling_then_gives_up() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let mut sent = vec![t0];
    one_transmit(&mut c);
    let mut now = t0;
    while let Some(next) = c.poll_timeout() {
        now = next;
        c.handle_timeout(now);
        if c.poll_transmit().is_some() {
            sent.push(now);
        }
    }
    assert_eq!(sent.len(), 6, "six transmissions");
    for (i, w) in sent.windows(2).enumerate() {
        let gap = (w[1] - w[0]).as_secs_f64();
        let base = 3.0 * f64::from(1u32 << i);
        assert!(gap >= base * 0.9 && gap < base * 1.1, "gap {i}: {gap}");
    }
    assert_eq!(events(&mut c), vec![Event::Failed(Failure::NoAnswer)]);
    assert!(now - t0 < Duration::from_secs(200), "bounded in time");
}

#[test]
fn natpmp_asks_address_then_maps() {
    let t0 = Instant::now();
    let mut c = client(Protocol::NatPmp, t0);
    let q = one_transmit(&mut c);
    assert_eq!(q, natpmp::emit_external_address_request());
    c.handle_datagram(t0, &natpmp_answer(&q, 0, 100, 0));
    let q = one_transmit(&mut c);
    match natpmp::parse_request(&q).unwrap() {
        natpmp::Request::Map(m) => {
            assert_eq!((m.internal_port, m.suggested_external_port), (PORT, PORT));
            assert_eq!(m.lifetime, 7200);
        }
        other => panic!("{other:?}"),
    }
    c.handle_datagram(t0, &natpmp_answer(&q, 3600, 100, 9740));
    let got = events(&mut c);
    assert_eq!(got.len(), 1);
    let Event::Mapped(m) = got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(m.protocol, Protocol::NatPmp);
    assert_eq!(m.external, SocketAddr::new(EXTERNAL.into(), 9740));
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(1800)));
}

#[test]
fn natpmp_retransmits_from_250ms_nine_times() {
    let t0 = Instant::now();
    let mut c = client(Protocol::NatPmp, t0);
    one_transmit(&mut c);
    let mut sent = vec![Duration::ZERO];
    while let Some(next) = c.poll_timeout() {
        c.handle_timeout(next);
        if c.poll_transmit().is_some() {
            sent.push(next - t0);
        }
    }
    let ms: Vec<u128> = sent.iter().map(|d| d.as_millis()).collect();
    assert_eq!(ms, vec![0, 250, 750, 1750, 3750, 7750, 15750, 31750, 63750]);
    assert_eq!(events(&mut c), vec![Event::Failed(Failure::NoAnswer)]);
}

#[test]
fn gateway_restart_is_detected_and_mapped_again() {
    let t0 = Instant::now();
    let mut c = client(Protocol::NatPmp, t0);
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &natpmp_answer(&q, 0, 5000, 0));
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &natpmp_answer(&q, 120, 5000, 9740));
    events(&mut c);
    let t1 = t0 + Duration::from_secs(60);
    c.handle_timeout(t1);
    let renew = one_transmit(&mut c);
    // The gateway rebooted: its epoch went back to 3.
    c.handle_datagram(t1, &natpmp_answer(&renew, 120, 3, 9740));
    assert_eq!(events(&mut c), vec![Event::GatewayRestarted]);
    // It starts over: the external address may have changed.
    let q = one_transmit(&mut c);
    assert_eq!(
        natpmp::parse_request(&q).unwrap(),
        natpmp::Request::ExternalAddress
    );
    c.handle_datagram(t1, &natpmp_answer(&q, 0, 3, 0));
    let q = one_transmit(&mut c);
    c.handle_datagram(t1, &natpmp_answer(&q, 120, 3, 9740));
    assert!(matches!(&events(&mut c)[..], [Event::Mapped(_)]));
}

#[test]
fn pcp_restart_seen_in_a_renewal_maps_again() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &pcp_answer(&q, 120, 9000, 40000));
    events(&mut c);
    let t1 = t0 + Duration::from_secs(60);
    c.handle_timeout(t1);
    let renew = one_transmit(&mut c);
    c.handle_datagram(t1, &pcp_answer(&renew, 120, 2, 40001));
    assert_eq!(events(&mut c), vec![Event::GatewayRestarted]);
    let again = one_transmit(&mut c);
    c.handle_datagram(t1, &pcp_answer(&again, 120, 2, 40001));
    let got = events(&mut c);
    let [Event::Mapped(m)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(m.external.port(), 40001);
}

#[test]
fn unanswered_renewals_lose_the_mapping_at_expiry() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &pcp_answer(&q, 20, 1, 40000));
    events(&mut c);
    let mut now = t0;
    let mut all = Vec::new();
    while let Some(next) = c.poll_timeout() {
        now = next;
        c.handle_timeout(now);
        while c.poll_transmit().is_some() {}
        all.extend(events(&mut c));
        if c.is_done() {
            break;
        }
    }
    assert_eq!(all.first(), Some(&Event::Lost));
    assert_eq!(all.last(), Some(&Event::Failed(Failure::NoAnswer)));
    assert!(now > t0 + Duration::from_secs(20));
}

#[test]
fn natpmp_only_gateway_answers_pcp_with_unsupported_version() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    one_transmit(&mut c);
    let answer = natpmp::emit_response(
        natpmp::Opcode::ExternalAddress,
        natpmp::ResultCode::UnsupportedVersion,
        77,
        &[],
    );
    c.handle_datagram(t0, &answer);
    assert_eq!(
        events(&mut c),
        vec![Event::Failed(Failure::UnsupportedVersion)]
    );
    assert!(c.is_done());
}

#[test]
fn refusal_before_any_mapping_fails() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let q = one_transmit(&mut c);
    let r = pcp::parse_request(&q).unwrap();
    let no = pcp::emit_response(
        pcp::Opcode::Map,
        pcp::ResultCode::NotAuthorized,
        600,
        1,
        r.map.as_ref(),
    );
    c.handle_datagram(t0, &no);
    assert_eq!(events(&mut c), vec![Event::Failed(Failure::Refused(2))]);
}

#[test]
fn transient_refusal_of_a_renewal_retries_later() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &pcp_answer(&q, 7200, 1, 40000));
    events(&mut c);
    let t1 = t0 + Duration::from_secs(3600);
    c.handle_timeout(t1);
    let renew = one_transmit(&mut c);
    let r = pcp::parse_request(&renew).unwrap();
    let busy = pcp::emit_response(
        pcp::Opcode::Map,
        pcp::ResultCode::NoResources,
        90,
        3601,
        r.map.as_ref(),
    );
    c.handle_datagram(t1, &busy);
    assert!(events(&mut c).is_empty());
    assert!(c.mapping().is_some(), "still valid until it expires");
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(90)));
}

#[test]
fn answers_for_other_mappings_are_ignored() {
    let t0 = Instant::now();
    let mut c = client(Protocol::Pcp, t0);
    let q = one_transmit(&mut c);
    let mut r = pcp::parse_request(&q).unwrap().map.unwrap();
    r.nonce = [9; 12];
    r.external_addr = EXTERNAL.into();
    let other = pcp::emit_response(pcp::Opcode::Map, pcp::ResultCode::Success, 60, 1, Some(&r));
    c.handle_datagram(t0, &other);
    c.handle_datagram(t0, b"garbage");
    c.handle_datagram(t0, &[]);
    assert!(events(&mut c).is_empty());
    assert!(c.mapping().is_none());
}

#[test]
fn stop_before_any_map_request_needs_no_deletion() {
    let t0 = Instant::now();
    let mut c = client(Protocol::NatPmp, t0);
    one_transmit(&mut c);
    c.stop(t0);
    assert!(c.poll_transmit().is_none());
    assert_eq!(events(&mut c), vec![Event::Deleted]);
    assert!(c.is_done());
}

#[test]
fn unanswered_deletion_ends_after_bounded_retries() {
    let t0 = Instant::now();
    let mut c = client(Protocol::NatPmp, t0);
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &natpmp_answer(&q, 0, 1, 0));
    let q = one_transmit(&mut c);
    c.handle_datagram(t0, &natpmp_answer(&q, 600, 1, 9740));
    events(&mut c);
    c.stop(t0);
    let del = one_transmit(&mut c);
    match natpmp::parse_request(&del).unwrap() {
        natpmp::Request::Map(m) => {
            assert_eq!((m.lifetime, m.suggested_external_port), (0, 0));
        }
        other => panic!("{other:?}"),
    }
    let mut n = 1;
    while let Some(next) = c.poll_timeout() {
        c.handle_timeout(next);
        n += std::iter::from_fn(|| c.poll_transmit()).count();
    }
    assert_eq!(n, 3);
    assert_eq!(events(&mut c), vec![Event::Deleted]);
}
