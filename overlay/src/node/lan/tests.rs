//! LAN discovery in virtual time: members on LANs behind NATs (with or
//! without hairpinning) and on the public side, beacons handed to the
//! members of the sender's LAN, everything else routed as datagrams.

// Tests start their virtual clock at any instant.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::LAN_HANDSHAKE_INTERVAL;
use crate::identity::NetworkKey;
use crate::limits::{LAN_BEACON_INTERVAL, LAN_DISCOVERY_PORT};
use crate::node::{Action, Config, DropReason, Node};
use crate::wire::beacon;

/// The network key of every member (seed byte).
const NETWORK: u8 = 7;

/// Where hosts sit: the public side, or a LAN behind a NAT.
struct Site {
    /// The NAT's WAN address; `None` for the public side.
    wan: Option<Ipv4Addr>,
    /// Whether the NAT forwards datagrams from its LAN to its own WAN
    /// address back into the LAN.
    hairpin: bool,
    /// Whether the LAN carries unicast between its hosts (beacons, being
    /// multicast, always get through).
    lan_unicast: bool,
}

struct Host {
    node: Node,
    /// The address its overlay socket has on its LAN (its public address
    /// on the public side).
    addr: SocketAddr,
    site: usize,
}

struct Flight {
    at: Instant,
    /// The sending host, and the source address the receiver sees.
    sender: usize,
    from: SocketAddr,
    to: usize,
    bytes: Vec<u8>,
}

/// Hosts, sites and datagrams in flight. NATs keep the port (one host per
/// port) and filter nothing: what is under test is which way packets go.
struct World {
    now: Instant,
    sites: Vec<Site>,
    hosts: Vec<Host>,
    flights: Vec<Flight>,
    latency: Duration,
    /// Every datagram sent, as (from host, to address, bytes).
    log: Vec<(usize, SocketAddr, Vec<u8>)>,
    /// IP packets each host's node delivered.
    delivered: Vec<Vec<Vec<u8>>>,
    /// Every datagram that arrived, as (from host, to host).
    arrived: Vec<(usize, usize)>,
}

fn config(seed: u8, bootstrap: Vec<SocketAddr>) -> Config {
    crate::node::test_nodes::config(seed, NETWORK, bootstrap)
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
}

impl World {
    /// A world with only the public side (site 0).
    fn new() -> Self {
        Self {
            now: Instant::now(),
            sites: vec![Site {
                wan: None,
                hairpin: false,
                lan_unicast: true,
            }],
            hosts: Vec::new(),
            flights: Vec::new(),
            latency: Duration::from_millis(5),
            log: Vec::new(),
            delivered: Vec::new(),
            arrived: Vec::new(),
        }
    }

    /// Adds a LAN behind a NAT with WAN address 203.0.113.N; returns its site.
    fn add_nat(&mut self, hairpin: bool) -> usize {
        let n = self.sites.len() as u8;
        self.sites.push(Site {
            wan: Some(Ipv4Addr::new(203, 0, 113, n)),
            hairpin,
            lan_unicast: true,
        });
        self.sites.len() - 1
    }

    /// Adds a host at `addr` on `site`, running a node made from `seed`.
    fn add(
        &mut self,
        site: usize,
        addr: SocketAddr,
        seed: u8,
        bootstrap: Vec<SocketAddr>,
    ) -> usize {
        self.hosts.push(Host {
            node: Node::new(config(seed, bootstrap), self.now),
            addr,
            site,
        });
        self.delivered.push(Vec::new());
        self.hosts.len() - 1
    }

    /// Where the internet sees host `i`.
    fn public_addr(&self, i: usize) -> SocketAddr {
        let h = &self.hosts[i];
        match self.sites[h.site].wan {
            Some(wan) => SocketAddr::new(wan.into(), h.addr.port()),
            None => h.addr,
        }
    }

    /// Which host gets a datagram from host `from` to `to`, and from what
    /// source address; `None` if it is lost.
    fn route(&self, from: usize, to: SocketAddr) -> Option<(usize, SocketAddr)> {
        let site = self.hosts[from].site;
        let same_lan = self
            .hosts
            .iter()
            .position(|h| h.site == site && super::same(h.addr, to));
        if let Some(j) = same_lan {
            let ok = self.sites[site].wan.is_none() || self.sites[site].lan_unicast;
            return ok.then_some((j, self.hosts[from].addr));
        }
        let j = (0..self.hosts.len()).find(|&j| self.public_addr(j) == to)?;
        if self.hosts[j].site == site && !self.sites[site].hairpin {
            return None;
        }
        Some((j, self.public_addr(from)))
    }

    fn send(&mut self, from: usize, to: SocketAddr, bytes: Vec<u8>) {
        self.log.push((from, to, bytes.clone()));
        if let Some((j, src)) = self.route(from, to) {
            self.flights.push(Flight {
                at: self.now + self.latency,
                sender: from,
                from: src,
                to: j,
                bytes,
            });
        }
    }

    fn drain(&mut self, i: usize) {
        while let Some(t) = self.hosts[i].node.poll_transmit() {
            self.send(i, t.to, t.payload);
        }
        while self.hosts[i].node.poll_event().is_some() {}
    }

    fn deliver(&mut self, f: Flight) {
        self.arrived.push((f.sender, f.to));
        let mut out = vec![0u8; f.bytes.len() + 64];
        let now = self.now;
        let j = f.to;
        match self.hosts[j]
            .node
            .handle_datagram(now, f.from, &f.bytes, &mut out)
        {
            Action::Send { to, len } => self.send(j, to, out[..len].to_vec()),
            Action::Deliver { range } => self.delivered[j].push(out[range].to_vec()),
            // No extra sockets here: what is under test is the LAN path.
            Action::SendExtra { .. } | Action::None => {}
        }
        self.drain(j);
    }

    /// Runs until `now + d`, always taking the earliest event.
    fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        for i in 0..self.hosts.len() {
            self.drain(i);
        }
        loop {
            let next_flight = self.flights.iter().map(|f| f.at).min();
            let next_timer = self
                .hosts
                .iter_mut()
                .filter_map(|h| h.node.poll_timeout())
                .min();
            let Some(t) = [next_flight, next_timer].into_iter().flatten().min() else {
                break;
            };
            if t > deadline {
                break;
            }
            self.now = self.now.max(t);
            if next_flight == Some(t) {
                let k = self
                    .flights
                    .iter()
                    .position(|f| f.at == t)
                    .expect("found above");
                let f = self.flights.remove(k);
                self.deliver(f);
            } else {
                for i in 0..self.hosts.len() {
                    if self.hosts[i]
                        .node
                        .poll_timeout()
                        .is_some_and(|w| w <= self.now)
                    {
                        let now = self.now;
                        self.hosts[i].node.handle_timeout(now);
                        self.drain(i);
                    }
                }
            }
        }
        self.now = self.now.max(deadline);
    }

    /// Host `i` sends its beacon; every host on its site hears it (itself
    /// included, as multicast loops back), from its address and the
    /// discovery port.
    fn beacon(&mut self, i: usize) {
        let now = self.now;
        let port = self.hosts[i].addr.port();
        let msg = self.hosts[i].node.lan_beacon(now, port);
        let from = SocketAddr::new(self.hosts[i].addr.ip(), LAN_DISCOVERY_PORT);
        let site = self.hosts[i].site;
        for j in 0..self.hosts.len() {
            if self.hosts[j].site == site {
                self.hosts[j].node.handle_lan_beacon(now, from, true, &msg);
                self.drain(j);
            }
        }
    }

    /// Runs for `d` with every host beaconing every [`LAN_BEACON_INTERVAL`].
    fn run_beaconing(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            for i in 0..self.hosts.len() {
                self.beacon(i);
            }
            let step = LAN_BEACON_INTERVAL.min(end - self.now);
            self.run_for(step);
        }
    }

    fn node(&self, i: usize) -> &Node {
        &self.hosts[i].node
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        let id = self.node(b).id();
        self.node(a).is_connected(&id, self.now)
    }

    /// Where host `a` sends to host `b`.
    fn endpoint(&self, a: usize, b: usize) -> Option<SocketAddr> {
        let id = self.node(b).id();
        self.node(a).peers.get(&id).and_then(|p| p.endpoint)
    }

    /// Sends an IPv6 packet from `a` to `b` through `a`'s TUN side; returns
    /// whether `b` delivered it.
    fn ping(&mut self, a: usize, b: usize) -> bool {
        let pkt = ipv6_packet(self.node(a).ipv6(), self.node(b).ipv6());
        self.delivered[b].clear();
        let mut out = vec![0u8; pkt.len() + 64];
        let now = self.now;
        if let Action::Send { to, len } = self.hosts[a].node.handle_tun_packet(now, &pkt, &mut out)
        {
            self.send(a, to, out[..len].to_vec());
        }
        self.drain(a);
        self.run_for(Duration::from_secs(1));
        self.delivered[b].contains(&pkt)
    }

    /// Whether a datagram ever went straight from `a` to `b`, or back.
    fn direct_traffic(&self, a: usize, b: usize) -> bool {
        self.arrived.contains(&(a, b)) || self.arrived.contains(&(b, a))
    }

    /// Datagrams host `from` sent to `to` since log entry `since`.
    fn sent_to(&self, since: usize, from: usize, to: SocketAddr) -> usize {
        self.log[since..]
            .iter()
            .filter(|(f, t, _)| *f == from && *t == to)
            .count()
    }
}

fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&8u16.to_be_bytes());
    p[6] = 59; // no next header
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p.extend_from_slice(b"lan ping");
    p
}

/// R on the public side; B and C on one LAN behind a NAT, with `--peer R`.
fn rendezvous_and_one_lan(hairpin: bool) -> (World, usize, usize, usize) {
    let mut w = World::new();
    let lan = w.add_nat(hairpin);
    let r_addr = v4(198, 51, 100, 1, 9740);
    let r = w.add(0, r_addr, 1, vec![]);
    let b = w.add(lan, v4(198, 18, 1, 2, 9740), 2, vec![r_addr]);
    let c = w.add(lan, v4(198, 18, 1, 3, 9750), 3, vec![r_addr]);
    (w, r, b, c)
}

#[test]
fn members_on_one_lan_meet_by_beacon_alone() {
    let mut w = World::new();
    let lan = w.add_nat(false);
    let b = w.add(lan, v4(198, 18, 1, 2, 9740), 2, vec![]);
    let c = w.add(lan, v4(198, 18, 1, 3, 9750), 3, vec![]);
    w.run_for(Duration::from_secs(5));
    assert!(!w.connected(b, c), "connected without any way to meet");

    w.beacon(c);
    w.run_for(Duration::from_secs(1));
    assert!(w.connected(b, c) && w.connected(c, b));
    assert_eq!(
        w.endpoint(b, c),
        Some(w.hosts[c].addr),
        "B uses C's announced port"
    );
    assert_eq!(w.endpoint(c, b), Some(w.hosts[b].addr));
    assert!(w.ping(b, c) && w.ping(c, b));
}

#[test]
fn members_behind_a_nat_without_hairpinning_talk_over_the_lan() {
    let (mut w, r, b, c) = rendezvous_and_one_lan(false);
    w.run_for(Duration::from_secs(30));
    // Both reach R and hear of each other through it, but no datagram gets
    // from one to the other: the NAT does not hairpin.
    assert!(w.connected(b, r) && w.connected(c, r));
    assert!(
        w.node(b).peers.contains_key(&w.node(c).id()),
        "B never heard of C"
    );
    assert!(
        !w.direct_traffic(b, c),
        "through a NAT that does not hairpin"
    );

    w.run_beaconing(Duration::from_secs(1));
    assert!(w.connected(b, c) && w.connected(c, b));
    assert_eq!(w.endpoint(b, c), Some(w.hosts[c].addr));
    assert_eq!(w.endpoint(c, b), Some(w.hosts[b].addr));
    assert!(w.ping(b, c) && w.ping(c, b));

    // Rekeys, gossip through R and more beacons keep them on the LAN.
    let mark = w.log.len();
    w.run_beaconing(Duration::from_secs(400));
    assert!(w.connected(b, c));
    assert_eq!(w.endpoint(b, c), Some(w.hosts[c].addr));
    assert_eq!(w.endpoint(c, b), Some(w.hosts[b].addr));
    assert_eq!(w.sent_to(mark, b, w.public_addr(c)), 0, "B sent to C's NAT");
    assert_eq!(w.sent_to(mark, c, w.public_addr(b)), 0, "C sent to B's NAT");
    assert!(w.ping(b, c) && w.ping(c, b));
}

/// A LAN numbered from a public range (as point-to-point links often are):
/// an endpoint heard in a beacon is on-link, not an Internet endpoint that
/// never answered, so the handshake goes there directly even while a relay
/// could carry it.
#[test]
fn a_lan_in_a_public_range_is_reached_directly_while_a_relay_is_at_hand() {
    let mut w = World::new();
    let lan = w.add_nat(false);
    let r_addr = v4(198, 51, 100, 1, 9740);
    let r = w.add(0, r_addr, 1, vec![]);
    let b = w.add(lan, v4(192, 0, 2, 2, 9740), 2, vec![r_addr]);
    let c = w.add(lan, v4(192, 0, 2, 3, 9750), 3, vec![r_addr]);
    w.run_for(Duration::from_secs(30));
    assert!(w.connected(b, r) && w.connected(c, r));
    assert!(
        w.node(b).peers.contains_key(&w.node(c).id()),
        "B never heard of C"
    );
    w.run_beaconing(Duration::from_secs(1));
    assert!(w.connected(b, c) && w.connected(c, b));
    assert_eq!(w.endpoint(b, c), Some(w.hosts[c].addr));
    assert_eq!(w.endpoint(c, b), Some(w.hosts[b].addr));
    assert!(w.direct_traffic(b, c));
    assert!(w.ping(b, c) && w.ping(c, b));
}

#[test]
fn a_session_through_the_nat_moves_to_the_lan() {
    let (mut w, _r, b, c) = rendezvous_and_one_lan(true);
    w.run_for(Duration::from_secs(30));
    assert!(
        w.connected(b, c),
        "B and C connect through the hairpinning NAT"
    );
    assert_eq!(w.endpoint(b, c), Some(w.public_addr(c)));

    // One beacon from C: B probes C's LAN endpoint, and the session follows.
    w.beacon(c);
    w.run_for(Duration::from_secs(1));
    assert!(w.connected(b, c) && w.connected(c, b));
    assert_eq!(w.endpoint(b, c), Some(w.hosts[c].addr));
    assert_eq!(w.endpoint(c, b), Some(w.hosts[b].addr));
    assert!(w.ping(b, c) && w.ping(c, b));
}

#[test]
fn a_lan_without_unicast_costs_little_and_breaks_nothing() {
    let (mut w, _r, b, c) = rendezvous_and_one_lan(true);
    let lan = w.hosts[b].site;
    w.sites[lan].lan_unicast = false;
    w.run_for(Duration::from_secs(30));
    assert!(w.connected(b, c));

    let mark = w.log.len();
    let secs = 300;
    w.run_beaconing(Duration::from_secs(secs));
    // The session stays on the NAT's path, and LAN handshakes come at most
    // once per LAN_HANDSHAKE_INTERVAL from each side.
    assert!(w.connected(b, c));
    assert_eq!(w.endpoint(b, c), Some(w.public_addr(c)));
    let bound = (secs / LAN_HANDSHAKE_INTERVAL.as_secs() + 1) as usize;
    let tries = w.sent_to(mark, b, w.hosts[c].addr);
    assert!(
        (1..=bound).contains(&tries),
        "B sent {tries} datagrams to C's LAN endpoint"
    );
    assert!(w.ping(b, c) && w.ping(c, b));
}

#[test]
fn a_lan_member_beyond_the_neighbour_places_waits_for_traffic() {
    let mut w = World::new();
    let lan = w.add_nat(false);
    let a = w.add(lan, v4(198, 18, 1, 2, 9740), 2, vec![]);
    let others: Vec<usize> = (0..9u8)
        .map(|k| {
            w.add(
                lan,
                v4(198, 18, 1, 10 + k, 9800 + u16::from(k)),
                10 + k,
                vec![],
            )
        })
        .collect();
    // A hears the nine others; eight of them fill its neighbour places.
    for &o in &others {
        w.beacon(o);
    }
    w.run_for(Duration::from_secs(1));
    let connected: Vec<usize> = others
        .iter()
        .copied()
        .filter(|&o| w.connected(a, o))
        .collect();
    assert_eq!(connected.len(), crate::limits::MAX_NEIGHBOURS);
    let last = *others
        .iter()
        .find(|o| !connected.contains(o))
        .expect("one left over");
    // The one left over is still reached over the LAN, once traffic asks.
    assert_eq!(w.endpoint(a, last), Some(w.hosts[last].addr));
    assert!(w.ping(a, last));
    assert!(w.connected(a, last));
}

#[test]
fn bad_beacons_are_counted_and_leave_no_state() {
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut outsider = Node::new(
        Config {
            network_key: NetworkKey::from_secret([NETWORK + 1; 32]),
            ..config(2, vec![])
        },
        now,
    );
    let mut member = Node::new(config(3, vec![]), now);
    let from = v4(198, 18, 1, 3, LAN_DISCOVERY_PORT);

    let foreign = outsider.lan_beacon(now, 9740);
    let mut tampered = member.lan_beacon(now, 9740);
    tampered[37] ^= 1;
    let own = a.lan_beacon(now, 9740);
    let mut no_port = Vec::new();
    beacon::emit(member.id().as_bytes(), 0, 1, &mut no_port);
    member.keys.mac_to_any().seal(&mut no_port);
    let good = member.lan_beacon(now, 9740);
    let from_nowhere = v4(0, 0, 0, 0, LAN_DISCOVERY_PORT);

    a.handle_lan_beacon(now, from, true, &foreign);
    a.handle_lan_beacon(now, from, true, &tampered);
    a.handle_lan_beacon(now, from, true, &good[..beacon::LEN - 1]);
    a.handle_lan_beacon(now, from, true, b"");
    a.handle_lan_beacon(now, from, true, &no_port);
    a.handle_lan_beacon(now, from_nowhere, true, &good);
    a.handle_lan_beacon(now, from, true, &own);

    assert_eq!(a.drops().get(DropReason::BadMac), 2);
    assert_eq!(a.drops().get(DropReason::Malformed), 4);
    assert_eq!(a.drops().total(), 6);
    assert!(a.peers.is_empty(), "a bad beacon left state");
    assert!(a.poll_transmit().is_none(), "a bad beacon got an answer");
}

#[test]
fn older_and_replayed_beacons_are_dropped_and_counted() {
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut member = Node::new(config(3, vec![]), now);
    let old = member.lan_beacon(now, 9740);
    let new = member.lan_beacon(now + Duration::from_secs(10), 9740);
    let real = v4(198, 18, 1, 3, LAN_DISCOVERY_PORT);
    let elsewhere = v4(198, 18, 1, 66, LAN_DISCOVERY_PORT);

    a.handle_lan_beacon(now, real, true, &new);
    while a.poll_transmit().is_some() {}
    // The older one, and the newest one again, from another host.
    a.handle_lan_beacon(now, elsewhere, true, &old);
    a.handle_lan_beacon(now, elsewhere, true, &new);
    let peer = &a.peers[&member.id()];
    let now = now + Duration::from_secs(1);
    assert!(peer.lan.is_lan(v4(198, 18, 1, 3, 9740), now));
    assert!(!peer.lan.is_lan(v4(198, 18, 1, 66, 9740), now));
    assert_eq!(peer.endpoint, Some(v4(198, 18, 1, 3, 9740)));
    assert!(
        a.poll_transmit().is_none(),
        "the replay started a handshake"
    );
    assert_eq!(a.drops().get(DropReason::ReplayedBeacon), 2);
    assert_eq!(a.drops().total(), 2);
}

#[test]
fn a_replayed_beacon_makes_no_member_heard_again() {
    // A copy sniffed and replayed within the window, after the member's
    // LAN endpoint went stale, does not bring it back.
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut member = Node::new(config(3, vec![]), now);
    let sniffed = member.lan_beacon(now, 9740);
    a.handle_lan_beacon(now, v4(198, 18, 1, 3, LAN_DISCOVERY_PORT), true, &sniffed);
    let later = now + super::LAN_ENDPOINT_LIFETIME + Duration::from_secs(1);
    a.handle_lan_beacon(
        later,
        v4(198, 18, 1, 66, LAN_DISCOVERY_PORT),
        true,
        &sniffed,
    );
    let peer = &a.peers[&member.id()];
    assert_eq!(peer.lan.best(later), None);
    assert_eq!(a.drops().get(DropReason::ReplayedBeacon), 1);
}

#[test]
fn beacons_outside_the_clock_window_are_dropped_and_leave_no_state() {
    let now = Instant::now();
    let window = crate::node::clock_window::CLOCK_WINDOW;
    let from = v4(198, 18, 1, 3, LAN_DISCOVERY_PORT);
    let skewed = |seed: u8, ms: i64| {
        let unix_ms = (1_800_000_000_000 + ms) as u64;
        Node::new(
            Config {
                unix_ms,
                ..config(seed, vec![])
            },
            now,
        )
    };
    let mut a = Node::new(config(1, vec![]), now);
    let ahead = skewed(3, window.as_millis() as i64 + 1_000).lan_beacon(now, 9740);
    let behind = skewed(4, -(window.as_millis() as i64) - 1_000).lan_beacon(now, 9740);
    // A sniffed beacon replayed once the window has passed.
    let mut member = Node::new(config(5, vec![]), now);
    let sniffed = member.lan_beacon(now, 9740);
    let late = now + window + Duration::from_secs(1);

    a.handle_lan_beacon(now, from, true, &ahead);
    a.handle_lan_beacon(now, from, true, &behind);
    a.handle_lan_beacon(late, from, true, &sniffed);
    assert_eq!(a.drops().get(DropReason::BeaconSkewed), 3);
    assert_eq!(a.drops().total(), 3);
    assert!(a.peers.is_empty(), "a skewed beacon left state");
    assert!(a.poll_transmit().is_none());

    // Within the window, either way, a beacon is taken.
    let slightly = skewed(6, -60_000).lan_beacon(now, 9740);
    a.handle_lan_beacon(now, from, true, &slightly);
    assert_eq!(a.peers.len(), 1);
    assert_eq!(a.drops().total(), 3);
}

#[test]
fn beacons_from_off_the_lan_are_dropped_and_leave_no_state() {
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut member = Node::new(config(3, vec![]), now);
    let good = member.lan_beacon(now, 9740);
    a.handle_lan_beacon(now, v4(203, 0, 113, 9, LAN_DISCOVERY_PORT), false, &good);
    a.handle_lan_beacon(now, v4(203, 0, 113, 9, LAN_DISCOVERY_PORT), false, b"junk");
    assert_eq!(a.drops().get(DropReason::OffLinkBeacon), 2);
    assert_eq!(a.drops().total(), 2);
    assert!(a.peers.is_empty());
    assert!(a.poll_transmit().is_none());
    // The same beacon from the LAN is taken: the off-link copy used nothing up.
    a.handle_lan_beacon(now, v4(198, 18, 1, 3, LAN_DISCOVERY_PORT), true, &good);
    assert_eq!(a.peers.len(), 1);
}

#[test]
fn one_beacon_per_send_reaches_both_families() {
    // The driver asks for a beacon per group and interface; both the IPv4
    // and the IPv6 copy are taken, and both endpoints are live.
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut member = Node::new(config(3, vec![]), now);
    for round in 0..3u64 {
        let t = now + LAN_BEACON_INTERVAL * round as u32;
        let for_v4 = member.lan_beacon(t, 9750);
        let for_v6 = member.lan_beacon(t, 9750);
        a.handle_lan_beacon(t, v4(198, 18, 1, 3, LAN_DISCOVERY_PORT), true, &for_v4);
        a.handle_lan_beacon(t, "[fe80::3%7]:9741".parse().unwrap(), true, &for_v6);
        let lan = &a.peers[&member.id()].lan;
        assert!(lan.is_lan(v4(198, 18, 1, 3, 9750), t));
        assert!(lan.is_lan("[fe80::3%7]:9750".parse().unwrap(), t));
    }
    assert_eq!(a.drops().total(), 0);
}

#[test]
fn link_local_ipv6_keeps_its_scope_and_ipv4_is_preferred() {
    let now = Instant::now();
    let mut a = Node::new(config(1, vec![]), now);
    let mut member = Node::new(config(3, vec![]), now);
    let v6_from: SocketAddr = "[fe80::3%7]:9741".parse().unwrap();
    a.handle_lan_beacon(now, v6_from, true, &member.lan_beacon(now, 9750));
    let id = member.id();
    let want_v6: SocketAddr = "[fe80::3%7]:9750".parse().unwrap();
    assert!(super::same(a.peers[&id].endpoint.unwrap(), want_v6));
    let t = a
        .poll_transmit()
        .expect("a handshake toward the LAN endpoint");
    assert!(super::same(t.to, want_v6));

    // An IPv4-mapped source is plain IPv4, and IPv4 wins over IPv6.
    let later = now + Duration::from_secs(1);
    let mapped: SocketAddr = "[::ffff:198.18.1.3]:9741".parse().unwrap();
    a.handle_lan_beacon(later, mapped, true, &member.lan_beacon(later, 9750));
    assert_eq!(a.peers[&id].lan.best(later), Some(v4(198, 18, 1, 3, 9750)));
}

proptest! {
    #[test]
    fn random_datagrams_never_panic_and_leave_no_state(
        bytes in proptest::collection::vec(any::<u8>(), 0..100),
        beacon_type in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut a = Node::new(config(1, vec![]), now);
        let mut bytes = bytes;
        if beacon_type && !bytes.is_empty() {
            bytes[0] = crate::wire::MessageType::Beacon.into();
        }
        a.handle_lan_beacon(now, v4(198, 18, 1, 3, LAN_DISCOVERY_PORT), true, &bytes);
        prop_assert!(a.peers.is_empty());
        prop_assert!(a.poll_transmit().is_none());
        prop_assert_eq!(a.drops().total(), 1);
    }
}
