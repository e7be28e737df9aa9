//! LAN discovery, the driver's side: sockets on the discovery port, joined
//! to the discovery groups on every LAN interface, that carry the node's
//! beacons out and other members' beacons in.
//!
//! - When the node says a round of beacons is due
//!   ([`Event::LanBeaconDue`]; the schedule is the node's, see
//!   [`Node::start_lan_beacons`]): list the interfaces (up,
//!   multicast-capable, not loopback, not the TUN device), join the groups
//!   on new ones, and send a beacon to [`LAN_GROUP_V4`] out of every IPv4
//!   interface and to [`LAN_GROUP_V6`] on every IPv6 one (TTL and hop
//!   limit 1), asking the node for a new one ([`Node::lan_beacon`]) for
//!   each send: receivers take each beacon timestamp only once.
//! - A datagram on the discovery port → [`Node::handle_lan_beacon`], with
//!   whether its source is on one of the interfaces' subnets (or, for an
//!   IPv6 link-local source, came in on one of them): see [`on_link`].
//!   IPv4 is read before IPv6 when both wait, the order beacons are sent in.
//!
//! Only the address families that the overlay socket serves are used, so
//! that a member heard on the LAN is one this node can send to. Failing to
//! open a socket costs LAN discovery, never the node: it is logged.
//!
//! [`Event::LanBeaconDue`]: crate::node::Event::LanBeaconDue
//! [`Node::start_lan_beacons`]: crate::node::Node::start_lan_beacons
//! [`Node::lan_beacon`]: crate::node::Node::lan_beacon
//! [`Node::handle_lan_beacon`]: crate::node::Node::handle_lan_beacon

mod interfaces;
mod on_link;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

use crate::limits::{LAN_DISCOVERY_PORT, LAN_GROUP_V4, LAN_GROUP_V6};
use interfaces::{multicast_interfaces, Interface};
use on_link::on_link;

/// A datagram that arrived on the discovery port, for the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LanDatagram {
    /// Its source.
    pub(crate) from: SocketAddr,
    /// Its length at the start of the buffer.
    pub(crate) len: usize,
    /// Whether `from` is on one of the LANs.
    pub(crate) on_link: bool,
}

/// The discovery sockets, or nothing if LAN discovery is off.
pub(crate) struct LanDiscovery {
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    /// The TUN device, never used for discovery.
    exclude: Option<String>,
    /// Interfaces whose groups are joined, by family.
    joined_v4: Vec<u32>,
    joined_v6: Vec<u32>,
    /// Interfaces as last listed.
    interfaces: Vec<Interface>,
}

impl LanDiscovery {
    /// Opens discovery for an overlay socket bound to `listen`, leaving out
    /// the interface `exclude`; with `enabled` false, a discovery that
    /// never yields anything.
    pub(crate) fn start(enabled: bool, listen: SocketAddr, exclude: Option<String>) -> Self {
        let (v4, v6) = if enabled {
            let dual = listen.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED);
            let v4 = (listen.is_ipv4() || dual)
                .then(|| open(Domain::IPV4))
                .flatten();
            let v6 = listen.is_ipv6().then(|| open(Domain::IPV6)).flatten();
            (v4, v6)
        } else {
            (None, None)
        };
        if v4.is_some() || v6.is_some() {
            tracing::info!(port = LAN_DISCOVERY_PORT, "LAN discovery on");
        }
        Self {
            v4,
            v6,
            exclude,
            joined_v4: Vec::new(),
            joined_v6: Vec::new(),
            interfaces: Vec::new(),
        }
    }

    /// Whether a discovery socket is open (the node's beacon schedule
    /// should run).
    pub(crate) fn is_on(&self) -> bool {
        self.v4.is_some() || self.v6.is_some()
    }

    /// Waits for a datagram on the discovery port (written to `buf`);
    /// never resolves if discovery is off. Cancel-safe.
    pub(crate) async fn next(&mut self, buf: &mut [u8]) -> LanDatagram {
        if !self.is_on() {
            return std::future::pending().await;
        }
        loop {
            let ready = tokio::select! {
                biased;
                r = readable(self.v4.as_ref()) => r.map(|()| self.v4.as_ref()),
                r = readable(self.v6.as_ref()) => r.map(|()| self.v6.as_ref()),
            };
            let received = match ready {
                Ok(Some(sock)) => sock.try_recv_from(buf),
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            match received {
                Ok((len, from)) => {
                    let on_link = on_link(from, &self.interfaces);
                    return LanDatagram { from, len, on_link };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // No datagram (e.g. an error queued on the socket): wait on.
                Err(e) => tracing::debug!(error = %e, "receiving on the discovery port"),
            }
        }
    }

    /// Sends a beacon on every LAN interface, a new one from `make` for
    /// each send, after joining the groups on interfaces that are new.
    pub(crate) async fn send_beacon(&mut self, mut make: impl FnMut() -> Vec<u8>) {
        self.refresh();
        if let Some(sock) = &self.v4 {
            for i in self
                .interfaces
                .iter()
                .filter(|i| self.joined_v4.contains(&i.index))
            {
                let Some(addr) = i.ipv4 else { continue };
                let to = SocketAddr::V4(SocketAddrV4::new(LAN_GROUP_V4, LAN_DISCOVERY_PORT));
                let sent = SockRef::from(sock).set_multicast_if_v4(&addr);
                let sent = match sent {
                    Ok(()) => sock.send_to(&make(), to).await.map(drop),
                    Err(e) => Err(e),
                };
                if let Err(e) = sent {
                    tracing::debug!(error = %e, interface = %i.name, "sending the IPv4 LAN beacon");
                }
            }
        }
        if let Some(sock) = &self.v6 {
            for i in self
                .interfaces
                .iter()
                .filter(|i| self.joined_v6.contains(&i.index))
            {
                let to = SocketAddrV6::new(LAN_GROUP_V6, LAN_DISCOVERY_PORT, 0, i.index);
                if let Err(e) = sock.send_to(&make(), SocketAddr::V6(to)).await {
                    tracing::debug!(error = %e, interface = %i.name, "sending the IPv6 LAN beacon");
                }
            }
        }
    }

    /// Lists the interfaces again and joins the groups on the new ones.
    /// Memberships of interfaces that went away go with them; one that
    /// comes back is joined again.
    fn refresh(&mut self) {
        self.interfaces = multicast_interfaces(self.exclude.as_deref());
        let present: Vec<u32> = self.interfaces.iter().map(|i| i.index).collect();
        self.joined_v4.retain(|i| present.contains(i));
        self.joined_v6.retain(|i| present.contains(i));
        for i in &self.interfaces {
            if let (Some(sock), Some(_)) = (&self.v4, i.ipv4) {
                if !self.joined_v4.contains(&i.index) {
                    let how = InterfaceIndexOrAddress::Index(i.index);
                    match joined(SockRef::from(sock).join_multicast_v4_n(&LAN_GROUP_V4, &how)) {
                        Ok(()) => self.joined_v4.push(i.index),
                        Err(e) => {
                            tracing::debug!(error = %e, interface = %i.name, "joining the IPv4 discovery group")
                        }
                    }
                }
            }
            if let (Some(sock), true) = (&self.v6, i.ipv6) {
                if !self.joined_v6.contains(&i.index) {
                    match joined(SockRef::from(sock).join_multicast_v6(&LAN_GROUP_V6, i.index)) {
                        Ok(()) => self.joined_v6.push(i.index),
                        Err(e) => {
                            tracing::debug!(error = %e, interface = %i.name, "joining the IPv6 discovery group")
                        }
                    }
                }
            }
        }
    }
}

/// A join that finds the membership already there is a success.
fn joined(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
        r => r,
    }
}

/// Waits until `sock` has something to read; never resolves without one.
async fn readable(sock: Option<&UdpSocket>) -> io::Result<()> {
    match sock {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

/// A discovery socket of `domain` bound to the discovery port (shared with
/// other nodes on this machine), or `None`, logged, if that fails.
fn open(domain: Domain) -> Option<UdpSocket> {
    let bind: SocketAddr = if domain == Domain::IPV4 {
        (Ipv4Addr::UNSPECIFIED, LAN_DISCOVERY_PORT).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, LAN_DISCOVERY_PORT).into()
    };
    let setup = || -> io::Result<UdpSocket> {
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        if domain == Domain::IPV4 {
            s.set_multicast_ttl_v4(1)?;
            s.set_multicast_loop_v4(true)?;
            s.set_multicast_all_v4(false)?;
        } else {
            s.set_only_v6(true)?;
            s.set_multicast_hops_v6(1)?;
            s.set_multicast_loop_v6(true)?;
            s.set_multicast_all_v6(false)?;
        }
        s.set_nonblocking(true)?;
        s.bind(&bind.into())?;
        UdpSocket::from_std(s.into())
    };
    match setup() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, %bind, "LAN discovery unavailable on this address family");
            None
        }
    }
}
