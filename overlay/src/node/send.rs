//! Packets to the network: IP packets from the TUN (the hot path), and the
//! control path's handshakes, keepalives and queued packets.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::peer::{PathCheck, PendingHandshake};
use super::unreachable::IcmpError;
use super::{Action, DropReason, Node, Transmit};
use crate::identity::NodeId;
use crate::limits::{
    FIRST_RESEND, KEEPALIVE_TIMEOUT, MAX_QUEUED_PACKETS, REKEY_AFTER_MESSAGES, REKEY_TIMEOUT,
    REKEY_TIMEOUT_JITTER_MS, RELAYED_MTU,
};
use crate::session::handshake;
use crate::wire::data::{HEADER_LEN, TAG_LEN};
use crate::wire::{handshake_init, inner};

impl Node {
    /// Handles one IP packet read from the TUN device. If it can be sent at
    /// once, the datagram is written to `out` (at least 32 bytes longer than
    /// the packet) and [`Action::Send`] says where to. A packet for an
    /// overlay address that no member owns is answered with an ICMP
    /// Destination Unreachable for the TUN ([`Action::Deliver`]).
    pub fn handle_tun_packet(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Action {
        let Ok(ip) = inner::parse_ip(packet) else {
            return self.drop_packet(DropReason::BadTunPacket);
        };
        let Some(pid) = self.owner_of(ip.dst).filter(|p| *p != self.id) else {
            // An address of the network that no member we know owns: ask.
            if let (IpAddr::V6(dst), IpAddr::V6(src)) = (ip.dst, ip.src) {
                if self.prefix.contains(&dst)
                    && dst != self.ipv6
                    && src == self.ipv6
                    && self.lookup_address(now, dst, Some(ip.bytes))
                {
                    return Action::None;
                }
            }
            self.drop_packet(DropReason::NoRoute);
            // An overlay address that no member owns: say so at once.
            let in_overlay = match ip.dst {
                IpAddr::V6(a) => self.prefix.contains(&a),
                IpAddr::V4(a) => self.ipv4s.range().contains(&a),
            };
            if in_overlay {
                if let Some(len) = super::unreachable::emit(&ip, &mut self.icmp_errors, now, out) {
                    return Action::Deliver { range: 0..len };
                }
            }
            return Action::None;
        };
        let src_ok = match ip.src {
            IpAddr::V6(a) => a == self.ipv6,
            IpAddr::V4(a) => a == self.ipv4,
        };
        if !src_ok {
            return self.drop_packet(DropReason::BadTunPacket);
        }
        let bytes = ip.bytes;
        let peer = self
            .peers
            .get_mut(&pid)
            .expect("owner_of returns known peers");
        let relay = peer.relay_hop;
        let endpoint = peer.endpoint;
        let socket = peer.socket;
        if relay.is_some() && bytes.len() > RELAYED_MTU && !may_fragment(&ip) {
            // Too big for a relayed path: tell the host its path MTU.
            let kind = IcmpError::TooBig(RELAYED_MTU as u16);
            self.drops.add(DropReason::TooBigForRelay);
            return match super::unreachable::emit_error(&ip, kind, &mut self.icmp_errors, now, out)
            {
                Some(len) => Action::Deliver { range: 0..len },
                None => Action::None,
            };
        }
        if endpoint.is_none() && relay.is_none() && self.relay_candidate(now, pid).is_none() {
            return self.drop_packet(DropReason::NoEndpoint);
        }
        let peer = self.peers.get_mut(&pid).expect("checked above");
        if let Some(session) = peer.sending_session(now) {
            let Ok(len) = session.encrypt(bytes, out) else {
                return self.drop_packet(DropReason::BadTunPacket);
            };
            let rekey = session.sent() >= REKEY_AFTER_MESSAGES;
            peer.tx_bytes += len as u64;
            self.traffic.datagram_sent(len);
            self.traffic.packet_sent(bytes.len());
            Self::on_data_sent(peer, now);
            match peer.path_check(now) {
                PathCheck::Fine => {}
                PathCheck::Ping => self.link_ping(now, pid),
                PathCheck::Lost => {
                    tracing::debug!(peer = %pid.short(), "direct path unanswered: shaking hands again");
                    self.stun.round_now(now);
                    self.initiate(now, pid);
                }
            }
            if rekey {
                self.initiate(now, pid);
            }
            if let Some(r) = relay {
                // Relayed: off the hot path, through the relay's session.
                let datagram = out[..len].to_vec();
                self.send_relayed(now, pid, Some(r), &datagram);
                return Action::None;
            }
            let to = endpoint.expect("direct peers have an endpoint");
            return match socket {
                0 => Action::Send { to, len },
                socket => Action::SendExtra { socket, to, len },
            };
        }
        // No session yet: queue (cold path) and start a handshake.
        if peer.queue.len() >= MAX_QUEUED_PACKETS {
            peer.queue.pop_front();
            self.drops.add(DropReason::QueueFull);
        }
        peer.queue.push_back(bytes.to_vec());
        match &peer.handshake {
            // A handshake that backed off while nothing waited: traffic
            // starts a new round at the 5 s cadence.
            Some(h) if now.saturating_duration_since(h.sent_at) >= REKEY_TIMEOUT => {
                self.send_initiation(now, pid, now);
            }
            Some(h) => {
                let at = h.sent_at + REKEY_TIMEOUT;
                if peer.timers.retransmit.is_none_or(|r| r > at) {
                    peer.timers.retransmit = Some(at);
                }
            }
            None => self.initiate(now, pid),
        }
        Action::None
    }

    /// Timer bookkeeping after a data message went out.
    fn on_data_sent(peer: &mut super::peer::Peer, now: Instant) {
        peer.on_sent(now);
        peer.last_data = Some(now);
        if peer.timers.new_handshake.is_none() {
            peer.timers.new_handshake = Some(now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
        }
    }

    /// Starts a handshake with `pid` unless one is in flight.
    pub(super) fn initiate(&mut self, now: Instant, pid: NodeId) {
        if !self.peers.contains_key(&pid) {
            return;
        }
        self.start_punch(now, pid);
        let peer = &self.peers[&pid];
        if peer.handshake.is_some() {
            return;
        }
        if peer.endpoint.is_none() && self.relay_candidate(now, pid).is_none() {
            self.lookup_member(now, pid);
            return;
        }
        self.send_initiation(now, pid, now);
    }

    /// Sends a (new or repeated) initiation; `attempts_since` is when this
    /// round of attempts began.
    pub(super) fn send_initiation(&mut self, now: Instant, pid: NodeId, attempts_since: Instant) {
        let seed = self.seed();
        let index = self.new_index();
        let ts = self.timestamp_ms(now);
        let jitter = Duration::from_millis(self.rng.next_u64() % REKEY_TIMEOUT_JITTER_MS);
        // Every other attempt of a round under the retiring key, if any.
        let next_attempt = self.peers[&pid]
            .handshake
            .as_ref()
            .filter(|h| h.attempts_since == attempts_since)
            .map_or(0, |h| h.attempt + 1);
        let generation = self.initiation_generation(now, &pid, next_attempt);
        let keys = self.keys_of_mut(generation);
        let (state, msg) = match handshake::create_initiation(keys, &pid, index, ts, seed) {
            Ok(created) => created,
            Err(e) => {
                if matches!(e, handshake::HandshakeError::InvalidKey) {
                    self.drops.add(DropReason::InvalidMember);
                }
                return;
            }
        };
        // A relayed session that needs a new handshake may have lost its
        // relay: ask the relay at once, so a dead one is known in seconds.
        if let Some(hop) = self.peers[&pid].relay_hop {
            if self.peers.get(&hop).is_some_and(|h| h.link.ping.is_none()) {
                self.link_ping(now, hop);
            }
        }
        if !self.has_route(now, pid) {
            // No path known: find one (the handshake goes along it as soon as
            // the answer comes).
            self.lookup_member(now, pid);
        }
        let relay = self.relay_candidate(now, pid);
        // A member under load sent us a cookie lately: prove we receive at
        // our address.
        let cookie = self.cookie_for(now, &pid);
        let msg = match cookie {
            Some(c) => handshake_init::with_mac2(&msg, &c).to_vec(),
            None => msg.to_vec(),
        };
        let peer = self.peers.get_mut(&pid).expect("caller checked");
        // An endpoint on the Internet that never answered us gets no direct
        // copy while a relay carries one: it may sit behind a router built on
        // stock Linux conntrack, which would take our unsolicited datagram
        // for a connection to itself and move its member's own flow toward
        // us to another port. The punch's openers open the way instead.
        // An endpoint heard in a LAN beacon is on-link, whatever its range
        // (point-to-point links are often numbered from public ones): it
        // gets its direct copy.
        let unproven = peer.last_direct_rx.is_none()
            && peer
                .endpoint
                .is_some_and(|e| !super::gossip::local_scope(e.ip()) && !peer.lan.is_lan(e, now));
        let direct = peer
            .endpoint
            .filter(|_| peer.relay_hop.is_none() || relay.is_none())
            .filter(|_| relay.is_none() || !unproven);
        if direct.is_none() && relay.is_none() {
            return;
        }
        let attempt = peer
            .handshake
            .as_ref()
            .filter(|h| h.attempts_since == attempts_since)
            .map_or(0, |h| h.attempt + 1);
        let mac1 = handshake_init::Packet::new_checked(&msg[..])
            .map(|p| p.mac1())
            .unwrap_or_default();
        if let Some(old) = peer.handshake.replace(Box::new(PendingHandshake {
            state,
            attempts_since,
            sent_at: now,
            attempt,
            mac1,
            had_cookie: cookie.is_some(),
        })) {
            self.by_index.remove(&old.state.local_index);
        }
        // Back off, so that members that are gone cost little: 1 (a lost
        // datagram on a lossy path), 5, 10, 20, then every 40 s. A new
        // packet for it pulls the next attempt in to REKEY_TIMEOUT after
        // this one (`handle_tun_packet`), so the 5 s cadence holds only
        // while fresh packets keep coming; one packet left waiting does not
        // earn 18 initiations.
        let backoff = match attempt.checked_sub(1) {
            None => FIRST_RESEND,
            Some(n) => REKEY_TIMEOUT * (1 << n.min(3)),
        };
        let at = now + backoff + jitter;
        peer.timers.retransmit = Some(at);
        self.by_index.insert(index, pid);
        self.note_generation(index, generation);
        tracing::debug!(peer = %pid.short(), ?direct, relay = ?relay.map(|v| v.short()), "sending handshake initiation");
        // Both ways at once while no direct path is proven: the answer comes
        // back the way the first copy arrived.
        if let Some(to) = direct {
            let socket = self.peers[&pid].socket;
            self.peers.get_mut(&pid).expect("exists").tx_bytes += msg.len() as u64;
            self.traffic.datagram_sent(msg.len());
            self.queue_datagram(socket, to, msg.clone());
        }
        if relay.is_some() {
            self.send_relayed(now, pid, relay, &msg);
        }
        self.traffic.handshakes_initiated += 1;
    }

    /// Queues a control datagram to a peer, an answer to one that came
    /// through the relay hop `came_through` (if it did), and counts it: back
    /// through that hop, else through the peer's relay if its path is
    /// relayed, else to `to`.
    pub(super) fn send_control(
        &mut self,
        now: Instant,
        pid: NodeId,
        to: SocketAddr,
        came_through: Option<NodeId>,
        payload: Vec<u8>,
    ) {
        let (socket, relay) = match self.peers.get_mut(&pid) {
            // Back through the hop the datagram it answers came from,
            // whatever the member's path says now (a punch may have just
            // moved it to a direct one, which a relayed datagram does not
            // undo for a while).
            Some(p) => {
                p.tx_bytes += payload.len() as u64;
                self.traffic.datagram_sent(payload.len());
                (p.socket, came_through.or(p.relay_hop))
            }
            None => (0, came_through),
        };
        if relay.is_some() {
            self.send_relayed(now, pid, relay, &payload);
        } else {
            self.queue_datagram(socket, to, payload);
        }
    }

    /// Encrypts `plaintext` on the peer's current session and queues it.
    /// Returns false if there is no usable session.
    pub(super) fn send_encrypted(&mut self, now: Instant, pid: NodeId, plaintext: &[u8]) -> bool {
        let Some(peer) = self.peers.get_mut(&pid) else {
            return false;
        };
        let relay = peer.relay_hop;
        let Some(to) = peer.endpoint.or(relay.map(|_| super::relay::RELAYED_FROM)) else {
            return false;
        };
        let Some(session) = peer.sending_session(now) else {
            return false;
        };
        let mut buf = vec![0u8; HEADER_LEN + plaintext.len() + TAG_LEN];
        let Ok(n) = session.encrypt(plaintext, &mut buf) else {
            return false;
        };
        buf.truncate(n);
        peer.tx_bytes += n as u64;
        self.traffic.datagram_sent(n);
        peer.on_sent(now);
        let socket = peer.socket;
        if relay.is_some() {
            return self.send_relayed(now, pid, relay, &buf);
        }
        self.queue_datagram(socket, to, buf);
        true
    }

    /// Queues a control datagram on the main socket (0) or an extra one.
    pub(super) fn queue_datagram(&mut self, socket: u16, to: SocketAddr, payload: Vec<u8>) {
        self.queue_datagram_ttl(socket, to, payload, None);
    }

    /// Like [`Node::queue_datagram`], with IP TTL `ttl` if given (a
    /// hole-punching opener).
    pub(super) fn queue_datagram_ttl(
        &mut self,
        socket: u16,
        to: SocketAddr,
        payload: Vec<u8>,
        ttl: Option<u8>,
    ) {
        self.transmits.push_back(Transmit {
            socket,
            to,
            payload,
            ttl,
        });
    }

    /// Sends an empty keepalive to `pid`.
    pub(super) fn send_keepalive(&mut self, now: Instant, pid: NodeId) {
        self.send_encrypted(now, pid, &[]);
    }

    /// Sends the packets queued for `pid` while its handshake ran.
    pub(super) fn flush_queue(&mut self, now: Instant, pid: NodeId) {
        let Some(peer) = self.peers.get_mut(&pid) else {
            return;
        };
        for pkt in std::mem::take(&mut peer.queue) {
            if !self.send_encrypted(now, pid, &pkt) {
                break;
            }
            self.traffic.packet_sent(pkt.len());
            let peer = self.peers.get_mut(&pid).expect("peer exists");
            Self::on_data_sent(peer, now);
        }
    }
}

/// Whether an IPv4 packet lacks Don't Fragment (the underlay may fragment
/// it); IPv6 packets never may.
fn may_fragment(ip: &inner::IpPacket<'_>) -> bool {
    ip.src.is_ipv4() && ip.bytes.get(6).is_some_and(|flags| flags & 0x40 == 0)
}
