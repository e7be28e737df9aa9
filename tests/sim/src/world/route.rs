//! Moving datagrams: over a host's access link onto its network, across
//! NATs (outbound, inbound and hairpin), and over the last link to the
//! destination's socket. Each element a datagram reaches is one event at the
//! time it gets there; the next hop is chosen from the topology at that time.

use std::net::SocketAddr;

use super::run::{Datagram, Event, Hop};
use super::World;
use crate::digest::Digest;
use crate::host::Net;
use crate::ids::HostId;
use crate::link::{ip_len, Fate, Link};
use crate::nat::Outbound;
use crate::stats::NetDrop;
use crate::time::SimTime;

/// Router hops that a datagram crosses on the Internet between two sites,
/// at least: one that enters it with this TTL or less never arrives.
const INTERNET_HOPS: u8 = 2;

impl World {
    /// Host `h` sends `payload` to `to` from its socket; `app` if it carries
    /// an app packet.
    pub(super) fn send_from(&mut self, h: HostId, to: SocketAddr, payload: Vec<u8>, app: bool) {
        self.send_from_socket(h, 0, to, payload, app);
    }

    /// Like [`World::send_from`], from the node's socket `socket`.
    pub(super) fn send_from_socket(
        &mut self,
        h: HostId,
        socket: u16,
        to: SocketAddr,
        payload: Vec<u8>,
        app: bool,
    ) {
        let src = self.hosts[h.index()].socket_addr(socket);
        self.send_from_addr(h, src, to, payload, app, super::run::DEFAULT_TTL);
    }

    /// Like [`World::send_from`], from the node's socket at `src`.
    pub(super) fn send_from_addr(
        &mut self,
        h: HostId,
        src: SocketAddr,
        to: SocketAddr,
        payload: Vec<u8>,
        app: bool,
        ttl: u8,
    ) {
        let host = &mut self.hosts[h.index()];
        host.sent.record(&payload, app);
        let datagram = Datagram {
            src,
            dst: to,
            origin: h,
            payload_digest: Digest::of(&payload),
            payload,
            ttl,
        };
        if datagram.src.is_ipv4() != datagram.dst.is_ipv4() {
            // A single-stack host has no route to the other family.
            return self.lose(NetDrop::NoRoute, &datagram);
        }
        let net = host.net;
        let fate = transmit(&host.link, &mut self.link_rng, &datagram);
        self.after_link(fate, datagram, |w, at, d| w.forward(net, at, d));
    }

    /// A datagram that is on network `net` at time `at` goes on toward its
    /// destination: to a host or a NAT's outside on that network (over their
    /// link), or, on a LAN, to the LAN's NAT, unless it is for an address of
    /// that LAN that nobody has.
    fn forward(&mut self, net: Net, at: SimTime, d: Datagram) {
        if net == Net::Internet && d.ttl <= INTERNET_HOPS {
            // The routers between two sites on the Internet (not modelled
            // one by one) decrement it to nothing.
            return self.lose(NetDrop::TtlExpired, &d);
        }
        if let Some(&h) = self.hosts_by_addr.get(&d.dst) {
            if self.hosts[h.index()].net == net {
                let fate = transmit(&self.hosts[h.index()].link, &mut self.link_rng, &d);
                return self.after_link(fate, d, |w, at, d| {
                    w.queue.push(
                        at,
                        Event::Arrive {
                            at: Hop::Host(h),
                            datagram: d,
                        },
                    );
                });
            }
        }
        if let Some(&n) = self.nats_by_ip.get(&d.dst.ip()) {
            if self.nats[n.index()].parent == net {
                let fate = transmit(&self.nats[n.index()].uplink, &mut self.link_rng, &d);
                return self.after_link(fate, d, |w, at, d| {
                    w.queue.push(
                        at,
                        Event::Arrive {
                            at: Hop::NatOutside(n),
                            datagram: d,
                        },
                    );
                });
            }
        }
        match net {
            // A LAN address that nobody has: no neighbour answers.
            Net::Lan(n) if self.nats[n.index()].lan.contains(d.dst.ip()) => {
                self.lose(NetDrop::NoRoute, &d)
            }
            Net::Lan(n) => self.queue.push(
                at,
                Event::Arrive {
                    at: Hop::NatInside(n),
                    datagram: d,
                },
            ),
            Net::Internet => self.lose(NetDrop::NoRoute, &d),
        }
    }

    /// Applies a link's fate: drops, or calls `next` with the arrival time of
    /// each copy.
    fn after_link(
        &mut self,
        fate: Fate,
        d: Datagram,
        mut next: impl FnMut(&mut Self, SimTime, Datagram),
    ) {
        let now = self.now;
        match fate {
            Fate::Once(delay) => next(self, now + delay, d),
            Fate::Twice(first, second) => {
                next(self, now + first, d.clone());
                next(self, now + second, d);
            }
            Fate::Dropped(why) => self.lose(why.into(), &d),
        }
    }

    /// Counts (and traces) a datagram that the network lost.
    pub(super) fn lose(&mut self, why: NetDrop, d: &Datagram) {
        tracing::trace!(t_ms = self.now.as_millis(), ?why, src = %d.src, dst = %d.dst, origin = %d.origin, len = d.payload.len(), "network drop");
        self.stats.drop(why);
    }

    /// A datagram reaches the element `hop` (now).
    pub(super) fn arrive(&mut self, hop: Hop, mut d: Datagram) {
        let now = self.now;
        match hop {
            Hop::Host(h) => {
                let verdict = self.verdict(h, &d);
                self.step_now(h, super::host_step::Input::Datagram { d: &d, verdict });
            }
            Hop::NatInside(n) => {
                if d.ttl <= 1 {
                    // Expires at the NAT, before any mapping is made.
                    return self.lose(NetDrop::TtlExpired, &d);
                }
                d.ttl -= 1;
                let b = &mut self.nats[n.index()];
                match b.nat.outbound(now, d.src, d.dst) {
                    Outbound::Forward { src } => {
                        d.src = src;
                        let parent = b.parent;
                        let fate = transmit(&b.uplink, &mut self.link_rng, &d);
                        self.after_link(fate, d, |w, at, d| w.forward(parent, at, d));
                    }
                    Outbound::Hairpin { src, dst } => {
                        d.src = src;
                        d.dst = dst;
                        self.forward(Net::Lan(n), now, d);
                    }
                    Outbound::Drop(why) => self.lose(why.into(), &d),
                }
            }
            Hop::NatOutside(n) => {
                let b = &mut self.nats[n.index()];
                if b.nat.external() != d.dst.ip() {
                    // Renumbered while the datagram was in flight.
                    return self.lose(NetDrop::Moved, &d);
                }
                match b.nat.inbound(now, d.src, d.dst.port()) {
                    Ok(internal) => {
                        d.dst = internal;
                        self.forward(Net::Lan(n), now, d);
                    }
                    Err(why) => self.lose(why.into(), &d),
                }
            }
        }
    }
}

/// A link's fate for a datagram.
fn transmit(link: &Link, rng: &mut impl rand_core::RngCore, d: &Datagram) -> Fate {
    link.transmit(rng, ip_len(d.payload.len(), d.dst.is_ipv6()))
}
