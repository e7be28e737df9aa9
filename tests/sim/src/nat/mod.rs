//! A NAT box as a sans-IO machine (netem shape): datagrams go in with their
//! addresses and a timestamp, and a decision comes out: forward with
//! rewritten addresses, loop back in (hairpin), or drop and why.
//!
//! The state is RFC 4787's: *mappings* say which external port an internal
//! endpoint uses toward a destination ([`Mapping`]); each external port is a
//! *binding* that remembers which remote endpoints the internal endpoint
//! sent to (its permissions), which the [`Filtering`] behaviour consults for
//! inbound datagrams. Mappings and permissions lapse [`NatConfig::timeout`]
//! after the last outbound datagram that used them. Expired state is ignored
//! at once and swept away lazily.
//!
//! A NAT with [`NatConfig::conntrack`] also keeps Linux's entries for
//! inbound datagrams that matched nothing, and moves a new outbound flow
//! that would clash with one to another port (see [`NatKind::Linux`]).

mod config;
#[cfg(test)]
mod tests;

use ahash::{HashMap, HashMapExt};
use std::net::{IpAddr, SocketAddr};

use rand_chacha::ChaCha20Rng;

pub use config::{
    Allocation, Filtering, Mapping, NatConfig, NatKind, UnknownNatKind, CONNTRACK_UNREPLIED,
    DEFAULT_TIMEOUT,
};

use crate::rng::below;
use crate::time::SimTime;

/// Lowest external port a NAT allocates.
const FIRST_PORT: u16 = 1024;

/// What a destination-dependent mapping is specific to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Remote {
    Any,
    Ip(IpAddr),
    Endpoint(SocketAddr),
}

/// One external port in use.
#[derive(Debug)]
struct Binding {
    internal: SocketAddr,
    /// Latest expiry of any mapping on this port.
    expires: SimTime,
    /// Remote endpoints sent to, and when each permission lapses
    /// (address-and-port-dependent filtering).
    permits: HashMap<SocketAddr, SimTime>,
    /// Remote addresses sent to (address-dependent filtering).
    permit_ips: HashMap<IpAddr, SimTime>,
}

/// Why the NAT dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatDrop {
    /// The NAT blocks UDP.
    Blocked,
    /// Inbound to a port with no live mapping.
    NoMapping,
    /// Inbound from a source that the filtering behaviour rejects.
    Filtered,
    /// Inside to the NAT's own external address, and hairpinning is off.
    HairpinOff,
    /// No external port is free.
    PortsExhausted,
}

/// The NAT's decision about an outbound datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// Send it on with this external source address.
    Forward {
        /// The translated source.
        src: SocketAddr,
    },
    /// It was addressed to the NAT's own external address: deliver it back
    /// inside, from the sender's external address to an internal endpoint.
    Hairpin {
        /// The translated source (the sender's external endpoint).
        src: SocketAddr,
        /// The internal endpoint it goes to.
        dst: SocketAddr,
    },
    /// Drop it.
    Drop(NatDrop),
}

/// Counters of what a NAT did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Outbound datagrams forwarded.
    pub forwarded_out: u64,
    /// Inbound datagrams forwarded.
    pub forwarded_in: u64,
    /// Datagrams looped back inside.
    pub hairpinned: u64,
    /// Mappings created.
    pub mappings_created: u64,
    /// New mappings that could not keep the preserved port because an
    /// entry left by an unmatched inbound datagram held its tuple.
    pub port_clashes: u64,
    /// Datagrams dropped, by reason.
    pub drops: HashMap<NatDrop, u64>,
}

/// A NAT box. See the module documentation.
#[derive(Debug)]
pub struct Nat {
    config: NatConfig,
    external: IpAddr,
    mappings: HashMap<(SocketAddr, Remote), (u16, SimTime)>,
    bindings: HashMap<u16, Binding>,
    /// Conntrack entries of unmatched inbound datagrams: (remote endpoint,
    /// external port) and when each lapses.
    unreplied: HashMap<(SocketAddr, u16), SimTime>,
    next_port: u16,
    rng: ChaCha20Rng,
    next_sweep: SimTime,
    stats: NatStats,
}

impl Nat {
    /// A NAT with external address `external`; `rng` drives random and
    /// sequential port choices.
    pub fn new(config: NatConfig, external: IpAddr, mut rng: ChaCha20Rng) -> Self {
        let span = u64::from(u16::MAX - FIRST_PORT) + 1;
        let next_port = FIRST_PORT + below(&mut rng, span) as u16;
        Self {
            config,
            external,
            mappings: HashMap::new(),
            bindings: HashMap::new(),
            unreplied: HashMap::new(),
            next_port,
            rng,
            next_sweep: SimTime::ZERO,
            stats: NatStats::default(),
        }
    }

    /// The NAT's behaviour.
    pub fn config(&self) -> &NatConfig {
        &self.config
    }

    /// Its external address.
    pub fn external(&self) -> IpAddr {
        self.external
    }

    /// What it did so far.
    pub fn stats(&self) -> &NatStats {
        &self.stats
    }

    /// Mappings alive at `now`.
    pub fn live_mappings(&self, now: SimTime) -> usize {
        self.mappings.values().filter(|(_, e)| *e > now).count()
    }

    /// Gives the NAT a new external address, as when an ISP renumbers it or
    /// it reboots: every mapping is lost.
    pub fn renumber(&mut self, external: IpAddr) {
        self.external = external;
        self.reboot();
    }

    /// Forgets every mapping and conntrack entry, as a NAT that restarts
    /// and keeps its external address.
    pub fn reboot(&mut self) {
        self.mappings.clear();
        self.bindings.clear();
        self.unreplied.clear();
    }

    /// A datagram from inside, from `src` to `dst`, at `now`.
    pub fn outbound(&mut self, now: SimTime, src: SocketAddr, dst: SocketAddr) -> Outbound {
        if self.config.udp_blocked {
            return Outbound::Drop(self.count(NatDrop::Blocked));
        }
        self.sweep(now);
        let hairpin = dst.ip() == self.external;
        if hairpin && !self.config.hairpin {
            return Outbound::Drop(self.count(NatDrop::HairpinOff));
        }
        let Some(port) = self.map(now, src, dst) else {
            return Outbound::Drop(self.count(NatDrop::PortsExhausted));
        };
        let ext_src = SocketAddr::new(self.external, port);
        if !hairpin {
            self.stats.forwarded_out += 1;
            return Outbound::Forward { src: ext_src };
        }
        match self.admit(now, ext_src, dst.port()) {
            Ok(internal) => {
                self.stats.hairpinned += 1;
                Outbound::Hairpin {
                    src: ext_src,
                    dst: internal,
                }
            }
            Err(why) => Outbound::Drop(self.count(why)),
        }
    }

    /// A datagram from outside, from `src` to external port `port`, at
    /// `now`: the internal endpoint it goes to, or why it is dropped.
    ///
    /// # Errors
    /// Returns the reason when the NAT drops the datagram.
    pub fn inbound(
        &mut self,
        now: SimTime,
        src: SocketAddr,
        port: u16,
    ) -> Result<SocketAddr, NatDrop> {
        if self.config.udp_blocked {
            return Err(self.count(NatDrop::Blocked));
        }
        match self.admit(now, src, port) {
            Ok(internal) => {
                self.stats.forwarded_in += 1;
                Ok(internal)
            }
            Err(why) => {
                if self.config.conntrack {
                    self.unreplied
                        .insert((src, port), now + CONNTRACK_UNREPLIED);
                }
                Err(self.count(why))
            }
        }
    }

    /// The filtering decision for `src` → external `port`.
    fn admit(&self, now: SimTime, src: SocketAddr, port: u16) -> Result<SocketAddr, NatDrop> {
        let b = self
            .bindings
            .get(&port)
            .filter(|b| b.expires > now)
            .ok_or(NatDrop::NoMapping)?;
        let allowed = match self.config.filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => b.permit_ips.get(&src.ip()).is_some_and(|e| *e > now),
            Filtering::AddressAndPortDependent => b.permits.get(&src).is_some_and(|e| *e > now),
        };
        if allowed {
            Ok(b.internal)
        } else {
            Err(NatDrop::Filtered)
        }
    }

    /// Finds or creates the mapping for `src` → `dst` and refreshes it and
    /// its permission for `dst`; returns the external port.
    fn map(&mut self, now: SimTime, src: SocketAddr, dst: SocketAddr) -> Option<u16> {
        let remote = match self.config.mapping {
            Mapping::EndpointIndependent => Remote::Any,
            Mapping::AddressDependent => Remote::Ip(dst.ip()),
            Mapping::AddressAndPortDependent => Remote::Endpoint(dst),
        };
        let expires = now + self.config.timeout;
        let port = match self.mappings.get(&(src, remote)) {
            Some(&(port, e)) if e > now => port,
            _ => {
                let port = self.allocate(now, src, dst)?;
                tracing::trace!(%src, %dst, port, "NAT mapping");
                self.stats.mappings_created += 1;
                port
            }
        };
        self.mappings.insert((src, remote), (port, expires));
        let b = self.bindings.entry(port).or_insert_with(|| Binding {
            internal: src,
            expires,
            permits: HashMap::new(),
            permit_ips: HashMap::new(),
        });
        if b.internal != src || b.expires <= now {
            // A lapsed binding of this port: start afresh.
            *b = Binding {
                internal: src,
                expires,
                permits: HashMap::new(),
                permit_ips: HashMap::new(),
            };
        }
        b.expires = expires;
        match self.config.filtering {
            Filtering::EndpointIndependent => {}
            Filtering::AddressDependent => {
                b.permit_ips.insert(dst.ip(), expires);
            }
            Filtering::AddressAndPortDependent => {
                b.permits.insert(dst, expires);
            }
        }
        Some(port)
    }

    /// Whether `port` is free for `src` at `now`.
    fn port_free(&self, now: SimTime, port: u16, src: SocketAddr) -> bool {
        match self.bindings.get(&port) {
            None => true,
            Some(b) => {
                b.expires <= now
                    || (b.internal == src && self.config.allocation == Allocation::Preserve)
            }
        }
    }

    /// Whether a conntrack entry of an unmatched inbound datagram from
    /// `remote` to `port` is alive at `now`.
    fn clashes(&self, now: SimTime, remote: SocketAddr, port: u16) -> bool {
        self.unreplied
            .get(&(remote, port))
            .is_some_and(|e| *e > now)
    }

    /// Picks the external port of a new mapping from `src` to `dst`.
    fn allocate(&mut self, now: SimTime, src: SocketAddr, dst: SocketAddr) -> Option<u16> {
        if self.config.conntrack {
            return self.allocate_conntrack(now, src, dst);
        }
        let span = u32::from(u16::MAX - FIRST_PORT) + 1;
        let wrap = |p: u32| FIRST_PORT + (p % span) as u16;
        if self.config.allocation != Allocation::Preserve && self.exhausted(now, span) {
            return None;
        }
        match self.config.allocation {
            Allocation::Preserve => {
                let start = u32::from(src.port().max(FIRST_PORT) - FIRST_PORT);
                (0..span)
                    .map(|i| wrap(start + i))
                    .find(|&p| self.port_free(now, p, src))
            }
            Allocation::Sequential { step } => {
                let step = u32::from(step.max(1));
                let start = u32::from(self.next_port - FIRST_PORT);
                let port = (0..span)
                    .map(|i| wrap(start + i * step))
                    .find(|&p| self.port_free(now, p, src))?;
                self.next_port = wrap(u32::from(port - FIRST_PORT) + step);
                Some(port)
            }
            Allocation::Random => {
                for _ in 0..64 {
                    let p = wrap(below(&mut self.rng, u64::from(span)) as u32);
                    if self.port_free(now, p, src) {
                        return Some(p);
                    }
                }
                let start = below(&mut self.rng, u64::from(span)) as u32;
                (0..span)
                    .map(|i| wrap(start + i))
                    .find(|&p| self.port_free(now, p, src))
            }
        }
    }

    /// Linux's choice: the internal port if its tuple toward `dst` is
    /// unique, else the first unique one from a random offset.
    fn allocate_conntrack(
        &mut self,
        now: SimTime,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Option<u16> {
        let preferred = src.port().max(FIRST_PORT);
        let clash = self.clashes(now, dst, preferred);
        if !clash && self.port_free(now, preferred, src) {
            return Some(preferred);
        }
        if clash {
            self.stats.port_clashes += 1;
            tracing::debug!(%src, %dst, port = preferred, "conntrack clash: the flow gets another port");
        }
        let span = u32::from(u16::MAX - FIRST_PORT) + 1;
        let start = below(&mut self.rng, u64::from(span)) as u32;
        (0..span)
            .map(|i| FIRST_PORT + ((start + i) % span) as u16)
            .find(|&p| self.port_free(now, p, src) && !self.clashes(now, dst, p))
    }

    /// Whether every external port is bound by a mapping that has not
    /// lapsed (lapsed bindings are dropped first), so that no scan of the
    /// ports would find a free one: a NAT out of ports answers at once.
    fn exhausted(&mut self, now: SimTime, span: u32) -> bool {
        if (self.bindings.len() as u32) < span {
            return false;
        }
        self.bindings.retain(|_, b| b.expires > now);
        self.bindings.len() as u32 >= span
    }

    /// Removes lapsed state, at most once per timeout period.
    fn sweep(&mut self, now: SimTime) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + self.config.timeout;
        self.mappings.retain(|_, (_, e)| *e > now);
        self.unreplied.retain(|_, e| *e > now);
        self.bindings.retain(|_, b| {
            b.permits.retain(|_, e| *e > now);
            b.permit_ips.retain(|_, e| *e > now);
            b.expires > now
        });
    }

    fn count(&mut self, why: NatDrop) -> NatDrop {
        *self.stats.drops.entry(why).or_default() += 1;
        why
    }
}
