//! LAN discovery, the node's side: when beacons are due
//! ([`BeaconSchedule`]), the beacon a member sends to the discovery groups
//! of its LANs ([`Node::lan_beacon`]), and what hearing another member's
//! beacon does ([`Node::handle_lan_beacon`]).
//!
//! A beacon names the sender and its overlay port, and comes from the
//! sender's address on the LAN: together its *LAN endpoint*. Members on one
//! LAN then talk over it, rather than through their NAT, which may not even
//! hairpin. On a valid beacon from another member:
//!
//! * with a session on one of its LAN endpoints: nothing to do;
//! * with a session elsewhere (another endpoint, another socket, or through
//!   a relay): a handshake to the LAN endpoint, while data keeps to the
//!   path that works; the response, which comes from the LAN, moves the
//!   session there;
//! * without a session: its endpoint becomes the LAN endpoint, and if it is
//!   (or can become) a neighbour, a handshake starts there; otherwise the
//!   first packet for it starts one there.
//!
//! LAN handshakes toward one member start at most every
//! [`LAN_HANDSHAKE_INTERVAL`], so that a LAN that carries beacons but not
//! unicast costs little. A beacon that fails its checks is counted and
//! leaves no state. The checks, cheapest first:
//!
//! * its source is on one of the node's LANs (the driver knows, and says
//!   so with `on_link`): a beacon sent from elsewhere is `off_link_beacon`;
//! * its MAC (`bad_mac`): only members make beacons;
//! * its timestamp is within [`CLOCK_WINDOW`] of our clock
//!   (`beacon_skewed`, with a warning now and then): a sniffed beacon
//!   cannot be replayed later;
//! * its timestamp is newer than the last one taken from that member
//!   (`replayed_beacon`): nor can it be replayed within the window. The
//!   last timestamp lives with the member in the (capped) table of members.
//!
//! [`CLOCK_WINDOW`]: super::clock_window::CLOCK_WINDOW

use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use super::{clock_window, DropReason, Event, Node};
use crate::identity::NodeId;
use crate::limits::MAX_NEIGHBOURS;
use crate::wire::beacon;

mod beacons;
#[cfg(test)]
mod tests;

pub(crate) use beacons::BeaconSchedule;

/// How long a LAN endpoint counts after the last beacon heard from it:
/// three beacon intervals and a little more.
pub(crate) const LAN_ENDPOINT_LIFETIME: Duration = Duration::from_secs(35);

/// Shortest time between two handshakes to one member's LAN endpoints.
pub(crate) const LAN_HANDSHAKE_INTERVAL: Duration = Duration::from_secs(30);

/// LAN endpoints remembered per member (an IPv4 and an IPv6 one per shared
/// link is the usual case).
const MAX_LAN_ENDPOINTS: usize = 4;

/// What a node knows of one member's presence on its LANs: nothing, for
/// most members, which then costs one pointer.
#[derive(Clone, Debug, Default)]
pub(crate) struct LanPeer(Option<Box<LanState>>);

impl LanPeer {
    /// Timestamp of the newest beacon taken from it (0: none).
    fn last_timestamp_ms(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.last_timestamp_ms)
    }

    /// Records a beacon with `timestamp` heard from `at`.
    fn heard(&mut self, at: SocketAddr, timestamp: u64, now: Instant) {
        let state = self.0.get_or_insert_default();
        state.last_timestamp_ms = timestamp;
        state.heard(at, now);
    }

    /// When a handshake toward its LAN endpoints last started.
    fn handshake_at(&self) -> Option<Instant> {
        self.0.as_ref()?.handshake_at
    }

    /// Notes that a handshake toward its LAN endpoints starts now.
    fn handshake_now(&mut self, now: Instant) {
        self.0.get_or_insert_default().handshake_at = Some(now);
    }

    /// Whether `endpoint` is one of its live LAN endpoints.
    pub(crate) fn is_lan(&self, endpoint: SocketAddr, now: Instant) -> bool {
        self.0.as_ref().is_some_and(|s| s.is_lan(endpoint, now))
    }

    /// The LAN endpoint to use, if any (see [`LanState::best`]).
    fn best(&self, now: Instant) -> Option<SocketAddr> {
        self.0.as_ref()?.best(now)
    }
}

/// A member's presence on our LANs, once heard there.
#[derive(Clone, Debug, Default)]
struct LanState {
    /// Endpoints it was heard at, and when last.
    endpoints: Vec<(SocketAddr, Instant)>,
    /// Timestamp of the newest beacon taken from it.
    last_timestamp_ms: u64,
    /// When a handshake toward its LAN endpoints last started.
    handshake_at: Option<Instant>,
}

impl LanState {
    /// Records a beacon heard from `at`, forgetting endpoints gone silent.
    fn heard(&mut self, at: SocketAddr, now: Instant) {
        self.endpoints
            .retain(|(_, t)| now.saturating_duration_since(*t) < LAN_ENDPOINT_LIFETIME);
        match self.endpoints.iter_mut().find(|(e, _)| same(*e, at)) {
            Some(entry) => entry.1 = now,
            None => {
                if self.endpoints.len() >= MAX_LAN_ENDPOINTS {
                    // The stalest gives way.
                    if let Some(i) = (0..self.endpoints.len()).min_by_key(|&i| self.endpoints[i].1)
                    {
                        self.endpoints.swap_remove(i);
                    }
                }
                self.endpoints.push((at, now));
            }
        }
    }

    /// Whether `endpoint` is one of its live LAN endpoints.
    fn is_lan(&self, endpoint: SocketAddr, now: Instant) -> bool {
        self.live(now).any(|e| same(e, endpoint))
    }

    /// The LAN endpoint to use: IPv4 before IPv6 (whose link-local
    /// addresses hold only on one link), then the most recently heard.
    fn best(&self, now: Instant) -> Option<SocketAddr> {
        self.endpoints
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(*t) < LAN_ENDPOINT_LIFETIME)
            .max_by_key(|(e, t)| (e.is_ipv4(), *t))
            .map(|(e, _)| *e)
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = SocketAddr> + '_ {
        self.endpoints
            .iter()
            .filter(move |(_, t)| now.saturating_duration_since(*t) < LAN_ENDPOINT_LIFETIME)
            .map(|(e, _)| *e)
    }
}

/// Equal as endpoints: address, port and (IPv6) scope; flow labels aside.
fn same(a: SocketAddr, b: SocketAddr) -> bool {
    match (a, b) {
        (SocketAddr::V6(a), SocketAddr::V6(b)) => {
            a.ip() == b.ip() && a.port() == b.port() && a.scope_id() == b.scope_id()
        }
        _ => a == b,
    }
}

/// The LAN endpoint of a beacon from `from` announcing overlay port `port`,
/// or `None` if `from` is no address a member can be reached at.
fn lan_endpoint(from: SocketAddr, port: u16) -> Option<SocketAddr> {
    let ip = from.ip().to_canonical();
    let usable = match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    };
    if !usable {
        return None;
    }
    Some(match (ip, from) {
        (IpAddr::V6(a), SocketAddr::V6(f)) => {
            SocketAddr::V6(SocketAddrV6::new(a, port, 0, f.scope_id()))
        }
        (ip, _) => SocketAddr::new(ip, port),
    })
}

impl Node {
    /// Starts the LAN beacon schedule: call once the discovery sockets are
    /// open. [`Event::LanBeaconDue`] then comes out at once and every
    /// [`LAN_BEACON_INTERVAL`] after; answer each with one
    /// [`Node::lan_beacon`] per send.
    ///
    /// [`LAN_BEACON_INTERVAL`]: crate::limits::LAN_BEACON_INTERVAL
    pub fn start_lan_beacons(&mut self, now: Instant) {
        self.lan_beacons.start(now);
    }

    /// Stops the LAN beacon schedule (the discovery sockets are gone).
    pub fn stop_lan_beacons(&mut self) {
        self.lan_beacons.stop();
    }

    /// The beacon schedule's timer: says when a round of beacons is due.
    pub(super) fn lan_beacon_timer(&mut self, now: Instant) {
        if self.lan_beacons.take_due(now) {
            self.events.push_back(Event::LanBeaconDue);
        }
    }

    /// This node's LAN beacon, announcing `overlay_port` (the port of its
    /// overlay UDP socket), for one send to a discovery group. Each call
    /// makes a beacon with a newer timestamp: a receiver takes each
    /// timestamp once, so every group and interface gets its own.
    pub fn lan_beacon(&mut self, now: Instant, overlay_port: u16) -> Vec<u8> {
        let ts = self.timestamp_ms(now);
        let mut msg = Vec::with_capacity(beacon::LEN);
        beacon::emit(self.id.as_bytes(), overlay_port, ts, &mut msg);
        self.keys.mac_to_any().seal(&mut msg);
        msg
    }

    /// Handles a datagram that arrived from `from` on the discovery port;
    /// `on_link` says whether `from` is on one of the node's LANs.
    /// Control datagrams it causes (handshakes) are queued for
    /// [`Node::poll_transmit`]; one that is no valid, fresh beacon of this
    /// network from the LAN is counted (see the module documentation) and
    /// changes nothing else.
    pub fn handle_lan_beacon(
        &mut self,
        now: Instant,
        from: SocketAddr,
        on_link: bool,
        datagram: &[u8],
    ) {
        if let Err(reason) = self.receive_beacon(now, from, on_link, datagram) {
            self.drop_packet(reason);
        }
    }

    fn receive_beacon(
        &mut self,
        now: Instant,
        from: SocketAddr,
        on_link: bool,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        if !on_link {
            return Err(DropReason::OffLinkBeacon);
        }
        let pkt = beacon::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        self.mac_generation(now, |k| k.mac_to_any().verify(pkt.as_bytes()))
            .ok_or(DropReason::BadMac)?;
        let bytes = pkt.node_id();
        let id = match NodeId::known(&bytes, |id| self.peers.contains_key(id)) {
            Some(id) => id,
            None => NodeId::from_bytes(bytes).map_err(|_| DropReason::Malformed)?,
        };
        if id == self.id {
            // Our own, looped back by the LAN.
            return Ok(());
        }
        let at = lan_endpoint(from, pkt.port()).ok_or(DropReason::Malformed)?;
        let timestamp = pkt.timestamp_ms();
        if let Some(skew) = clock_window::outside(timestamp, self.unix_ms_at(now)) {
            self.skew_warnings
                .beacon
                .warn(now, "LAN beacon", from, skew);
            return Err(DropReason::BeaconSkewed);
        }
        let last = self.peers.get(&id).map_or(0, |p| p.lan.last_timestamp_ms());
        if timestamp <= last {
            tracing::trace!(peer = %id.short(), %from, "dropping a replayed or late LAN beacon");
            return Err(DropReason::ReplayedBeacon);
        }
        let peer = self
            .add_peer(id, Some(at), now, now)
            .ok_or(DropReason::PeerTableFull)?;
        peer.lan.heard(at, timestamp, now);
        peer.heard_at = peer.heard_at.max(now);
        self.move_to_lan(now, id);
        Ok(())
    }

    /// Moves the session with `id` to its best LAN endpoint, or prepares
    /// for one there (see the module documentation).
    fn move_to_lan(&mut self, now: Instant, id: NodeId) {
        let room = self.neighbour_count() < MAX_NEIGHBOURS;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(lan) = peer.lan.best(now) else {
            return;
        };
        // On the LAN: straight to a LAN endpoint, from the main socket.
        let on_lan = peer.endpoint.is_some_and(|e| peer.lan.is_lan(e, now))
            && peer.relay_hop.is_none()
            && peer.socket == 0;
        let connected = peer.connected(now);
        if connected && on_lan {
            return;
        }
        if peer
            .lan
            .handshake_at()
            .is_some_and(|t| now.saturating_duration_since(t) < LAN_HANDSHAKE_INTERVAL)
        {
            return;
        }
        if connected {
            // Probe the LAN with a handshake; data keeps to the path that
            // works until the response comes back from the LAN.
            tracing::debug!(peer = %id.short(), %lan, "member heard on the LAN: handshake there");
            peer.lan.handshake_now(now);
            let working = (
                peer.endpoint.replace(lan),
                std::mem::take(&mut peer.socket),
                peer.relay_hop.take(),
            );
            self.send_initiation(now, id, now);
            if let Some(peer) = self.peers.get_mut(&id) {
                (peer.endpoint, peer.socket, peer.relay_hop) = working;
            }
            return;
        }
        if on_lan && peer.handshake.is_some() {
            // A handshake is already on its way there.
            return;
        }
        // Straight there: from the main socket (whose port the beacons
        // announce), not through a relay.
        peer.endpoint = Some(lan);
        peer.socket = 0;
        peer.relay_hop = None;
        if !peer.neighbour && !room {
            // No session wanted for now: the first packet for it starts
            // one, on the LAN.
            return;
        }
        tracing::debug!(peer = %id.short(), %lan, "member heard on the LAN: connecting there");
        peer.neighbour = true;
        peer.lan.handshake_now(now);
        peer.timers.connect = None;
        self.send_initiation(now, id, now);
    }
}
