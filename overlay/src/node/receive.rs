//! Datagrams from the network: dispatch by type, then each message's handler.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::clock_window::CLOCK_WINDOW;
use super::initiation_limit::{Admission, Source};
use super::peer::SessionSlot;
use super::rotation::Generation;
use super::rx_context::RxContext;
use super::traversal::STREAM_IDS_FROM;
use super::{Action, DropReason, Event, Node};
use crate::identity::NodeId;
use crate::limits::{KEEPALIVE_TIMEOUT, MIN_INITIATION_INTERVAL};
use crate::session::handshake::{self, HandshakeKeys};
use crate::session::SessionError;
use crate::wire::inner::{self, Inner};
use crate::wire::{data, handshake_init, handshake_resp, hello, MessageType};
use zeroize::Zeroize;

impl Node {
    /// Handles a datagram that arrived on the extra socket `socket` (see
    /// [`super::Event::OpenExtraSockets`]); otherwise like [`Node::handle_datagram`].
    pub fn handle_extra_datagram(
        &mut self,
        now: Instant,
        socket: u16,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Action {
        if !self.traversal.extra.is_open(socket) {
            return self.drop_packet(DropReason::Malformed);
        }
        self.receive(now, RxContext::direct(socket), from, datagram, out)
    }

    /// Handles one UDP datagram from `from`. Decrypted IP packets are written
    /// to `out`, which must be at least as long as `datagram`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Action {
        self.receive(now, RxContext::direct(0), from, datagram, out)
    }

    /// Handles one datagram that reached us as `rx` says: directly from
    /// `from`, or out of a relay frame (then `from` is [`super::relay::RELAYED_FROM`]).
    pub(super) fn receive(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Action {
        // STUN shares the port: told apart by its magic cookie (stun.rs).
        if self.receive_stun(now, rx, from, datagram) {
            return Action::None;
        }
        let action = match MessageType::of(datagram) {
            Ok(MessageType::Data) => return self.receive_data(now, rx, from, datagram, out),
            // Whoever relayed them could make them say anything about a path.
            Ok(
                MessageType::Hello
                | MessageType::HelloAck
                | MessageType::Probe
                | MessageType::ProbeAck,
            ) if !rx.is_direct() => Err(DropReason::RelayedPathMessage),
            Ok(MessageType::HandshakeInit) => self.receive_initiation(now, rx, from, datagram),
            Ok(MessageType::HandshakeResp) => self.receive_response(now, rx, from, datagram),
            Ok(MessageType::CookieReply) => self.receive_cookie_reply(now, datagram),
            Ok(MessageType::Hello) => self.receive_hello(now, rx, from, datagram),
            Ok(MessageType::HelloAck) => self.receive_hello_ack(now, rx, from, datagram),
            Ok(MessageType::Probe | MessageType::ProbeAck) => {
                self.receive_probe(now, rx.socket, from, datagram)
            }
            // Beacons go to the discovery port only.
            Ok(MessageType::Beacon) | Err(_) => Err(DropReason::Malformed),
        };
        if let Err(reason) = action {
            self.drop_packet(reason);
        }
        Action::None
    }

    fn receive_data(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut [u8],
    ) -> Action {
        let Ok(pkt) = data::Packet::new_checked(datagram) else {
            return self.drop_packet(DropReason::Malformed);
        };
        let idx = pkt.receiver_index();
        let Some(&pid) = self.by_index.get(&idx) else {
            return self.drop_packet(DropReason::UnknownSession);
        };
        let Some(peer) = self.peers.get_mut(&pid) else {
            return self.drop_packet(DropReason::UnknownSession);
        };
        let Some((session, slot)) = peer.session_mut(idx) else {
            return self.drop_packet(DropReason::UnknownSession);
        };
        if !session.usable(now) {
            return self.drop_packet(DropReason::ExpiredSession);
        }
        let n = match session.decrypt(&pkt, out) {
            Ok(n) => n,
            Err(SessionError::Replay) => return self.drop_packet(DropReason::Replay),
            Err(_) => return self.drop_packet(DropReason::DecryptFailed),
        };
        // Authenticated from here on.
        if slot == SessionSlot::Next {
            self.confirm_responder_session(now, rx, pid);
        }
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if peer.heard_on(from, rx.socket, rx.hop(), now) {
            tracing::debug!(peer = %pid.short(), ?from, relay = ?rx.hop().map(|r| r.short()), "peer roamed to a new path");
        }
        peer.last_received = Some(now);
        peer.rx_bytes += datagram.len() as u64;
        self.traffic.datagram_received(datagram.len());
        peer.timers.new_handshake = None;
        match inner::parse(&out[..n]) {
            Ok(Inner::Keepalive) => Action::None,
            Ok(Inner::Ip(ip)) => {
                let src_ok = match ip.src {
                    IpAddr::V6(a) => a == peer.ipv6,
                    IpAddr::V4(a) => self.ipv4s.addr_of(&pid) == Some(a),
                };
                if !src_ok {
                    return self.drop_packet(DropReason::SourceMismatch);
                }
                let dst_ok = match ip.dst {
                    IpAddr::V6(a) => a == self.ipv6,
                    IpAddr::V4(a) => a == self.ipv4,
                };
                if !dst_ok {
                    return self.drop_packet(DropReason::WrongDestination);
                }
                let len = ip.bytes.len();
                peer.last_data = Some(now);
                self.traffic.packet_received(len);
                if peer.timers.keepalive.is_none() {
                    peer.timers.keepalive = Some(now + KEEPALIVE_TIMEOUT);
                }
                Action::Deliver { range: 0..len }
            }
            Ok(Inner::Gossip(g)) => {
                self.consume_gossip(now, pid, g);
                Action::None
            }
            Ok(Inner::Signal(s)) => {
                let s = s.to_vec();
                self.consume_signal(now, pid, &s);
                Action::None
            }
            Ok(Inner::Echo(e)) => {
                self.consume_echo(now, pid, e);
                Action::None
            }
            Ok(Inner::Relay(r)) => {
                let r = r.to_vec();
                self.consume_relay(now, rx, pid, &r, out)
            }
            Ok(Inner::Lookup(l)) => {
                let l = l.to_vec();
                self.consume_lookup(now, pid, &l);
                Action::None
            }
            Ok(Inner::Record(r)) => {
                let r = r.to_vec();
                self.consume_record(now, pid, &r);
                Action::None
            }
            Ok(Inner::KeyUpdate(k)) => {
                self.consume_key_update(now, pid, &k);
                // The plaintext held a network key.
                out[..n].zeroize();
                Action::None
            }
            Ok(Inner::Revocations(r)) => {
                self.consume_revocations(now, pid, r);
                Action::None
            }
            Ok(Inner::RevocationPart(r)) => {
                self.consume_revocation_part(now, pid, r);
                Action::None
            }
            Ok(Inner::OwnerHandover(h)) => {
                self.consume_owner_handover(now, pid, h);
                Action::None
            }
            Ok(Inner::NameClaim(c)) => {
                let c = c.to_vec();
                self.consume_name_claim(now, pid, &c);
                Action::None
            }
            Err(_) => self.drop_packet(DropReason::BadInner),
        }
    }

    fn receive_initiation(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let pkt =
            handshake_init::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        // The MAC is checked first, before any Noise work or state.
        let generation = self
            .mac_generation(now, |k| k.mac_to_me().verify(pkt.with_mac1()))
            .ok_or(DropReason::BadMac)?;
        // A replay is dropped here, before any Diffie-Hellman.
        if !self.initiation_guard.seen.first_time(now, pkt.mac1()) {
            return Err(DropReason::ReplayedInitiation);
        }
        // Under load, each source gets its share before any Diffie-Hellman,
        // and must show that it receives at its address (a cookie).
        let source = match rx.hop() {
            Some(hop) => Source::Relay(hop),
            None if rx.socket >= STREAM_IDS_FROM => Source::Stream(rx.socket),
            None => Source::Ip(from.ip()),
        };
        match self.initiation_guard.limit.admit(now, source) {
            Admission::Free => {}
            Admission::Refused => return Err(DropReason::InitiationFlood),
            Admission::UnderLoad => {
                if !self.has_valid_cookie(now, rx, from, &pkt) {
                    self.send_cookie_reply(now, rx, from, &pkt, generation);
                    return Err(DropReason::CookieRequired);
                }
            }
        }
        self.initiation_guard.cookies.stats.initiations_computed += 1;
        let seed = self.seed();
        let ini = handshake::consume_initiation(self.keys_of(generation), &pkt, seed)
            .map_err(|_| DropReason::HandshakeFailed)?;
        if ini.peer == self.id {
            return Err(DropReason::HandshakeFailed);
        }
        // Managed: a member shows the owner's certificate, or gets nothing.
        let cert = self.check_certificate(now, &ini.peer, &ini.certificate)?;
        if let Some(last) = self.last_initiation_ts(&ini.peer) {
            if ini.timestamp_ms <= last {
                self.warn_if_clock_behind(now, ini.peer, ini.timestamp_ms, last);
                return Err(DropReason::ReplayedInitiation);
            }
        }
        if let Some(h) = self.peers.get(&ini.peer).and_then(|p| p.history.as_ref()) {
            if h.last_initiation_at
                .is_some_and(|t| now.saturating_duration_since(t) < MIN_INITIATION_INTERVAL)
            {
                return Err(DropReason::InitiationFlood);
            }
        }
        let local_index = self.new_index();
        let peer_id = ini.peer;
        let ts = ini.timestamp_ms;
        let (session, resp) = ini
            .create_response(self.keys_of_mut(generation), local_index, now)
            .map_err(|_| DropReason::HandshakeFailed)?;
        self.note_generation(local_index, generation);
        let endpoint = rx.is_direct().then_some(from);
        // Its history takes over from a timestamp restored at start.
        let restored = self.initiation_guard.take_restored_ts(&peer_id);
        let Some(peer) = self.add_peer_first_hand(peer_id, endpoint, now) else {
            if let Some(r) = restored {
                self.initiation_guard.put_back_restored_ts(peer_id, r);
            }
            return Err(DropReason::PeerTableFull);
        };
        let history = peer.history_mut();
        history.last_initiation_ts = ts;
        history.last_initiation_at = Some(now);
        if rx.hop().is_some() {
            // It shook hands through a relay alone: it has not heard us
            // directly for seconds, so our direct path to it is no use.
            peer.last_direct_rx = None;
        }
        peer.heard_on(from, rx.socket, rx.hop(), now);
        peer.last_received = Some(now);
        let replaced = peer.next.replace(Box::new(session)).map(|s| s.local_index);
        if let Some(old) = replaced {
            self.by_index.remove(&old);
        }
        self.by_index.insert(local_index, peer_id);
        self.note_certificate(peer_id, cert);
        tracing::debug!(peer = %peer_id.short(), ?from, "answered handshake initiation");
        self.send_control(now, peer_id, from, rx.hop(), resp.to_vec());
        Ok(())
    }

    fn receive_response(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let pkt =
            handshake_resp::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        self.mac_generation(now, |k| k.mac_to_me().verify(pkt.as_bytes()))
            .ok_or(DropReason::BadMac)?;
        let idx = pkt.receiver_index();
        let pid = *self
            .by_index
            .get(&idx)
            .ok_or(DropReason::UnexpectedResponse)?;
        let peer = self
            .peers
            .get_mut(&pid)
            .ok_or(DropReason::UnexpectedResponse)?;
        if peer.handshake.as_ref().map(|h| h.state.local_index) != Some(idx) {
            return Err(DropReason::UnexpectedResponse);
        }
        let pending = peer.handshake.take().expect("checked above");
        let remake = pending.state.remake();
        let (session, certificate) = match handshake::consume_response(pending.state, &pkt, now) {
            Ok(done) => done,
            Err(_) => {
                // A forged or corrupted response spent the state: make it
                // again, so that the real response can still complete it.
                let generation = self.generation_of_index(idx);
                match handshake::remake_initiation(self.keys_of_mut(generation), remake) {
                    Ok(state) => {
                        if let Some(peer) = self.peers.get_mut(&pid) {
                            peer.handshake = Some(Box::new(super::peer::PendingHandshake {
                                state,
                                ..*pending
                            }));
                        }
                    }
                    Err(_) => {
                        self.by_index.remove(&idx);
                    }
                }
                return Err(DropReason::HandshakeFailed);
            }
        };
        // Managed: the responder shows the owner's certificate, or its
        // session is never used (the retransmit timer tries again).
        let cert = match self.check_certificate(now, &pid, &certificate) {
            Ok(cert) => cert,
            Err(reason) => {
                self.by_index.remove(&idx);
                return Err(reason);
            }
        };
        self.note_certificate(pid, cert);
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        peer.heard_on(from, rx.socket, rx.hop(), now);
        if rx.is_direct() {
            peer.link
                .rtt_sample(now.saturating_duration_since(pending.sent_at));
        }
        peer.last_received = Some(now);
        self.install_session(now, rx, pid, session);
        // Confirm the session to the responder at once if nothing else will.
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if peer.queue.is_empty() {
            self.send_keepalive(now, pid);
        } else {
            self.flush_queue(now, pid);
        }
        Ok(())
    }

    /// Promotes the responder's `next` session once the initiator used it.
    fn confirm_responder_session(&mut self, now: Instant, rx: RxContext, pid: NodeId) {
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        if let Some(session) = peer.next.take() {
            self.install_session(now, rx, pid, *session);
            self.flush_queue(now, pid);
        }
    }

    fn receive_hello(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let (generation, (sender, stamp)) =
            self.open_hello(now, datagram, false, |k, b| k.mac_to_any().verify(b))?;
        if sender == self.id {
            return Ok(());
        }
        if self.is_revoked(&sender) {
            return Err(DropReason::Revoked);
        }
        // A hello from outside the clock window is a replay, or comes from
        // a member whose clock is wrong: said in the log, rate-limited.
        let offset = hello::stamp_offset(stamp, self.unix_ms_at(now));
        if offset.unsigned_abs() > CLOCK_WINDOW.as_secs() {
            self.skew_warnings
                .hello
                .warn(now, "hello", from, offset * 1000);
            return Err(DropReason::HelloStale);
        }
        // Stateless answer: our node ID and the hello's stamp, MAC'd for
        // the sender.
        let mut ack = Vec::with_capacity(hello::LEN);
        hello::emit(true, self.id.as_bytes(), stamp, &mut ack);
        self.keys_of(generation).mac_to(&sender).seal(&mut ack);
        // From the socket the hello reached.
        self.queue_datagram(rx.socket, from, ack.to_vec());
        Ok(())
    }

    fn receive_hello_ack(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let (_, (id, stamp)) =
            self.open_hello(now, datagram, true, |k, b| k.mac_to_me().verify(b))?;
        // It echoes the stamp of one of our hellos: an old one is a replay.
        let offset = hello::stamp_offset(stamp, self.unix_ms_at(now));
        if offset.unsigned_abs() > CLOCK_WINDOW.as_secs() {
            return Err(DropReason::HelloStale);
        }
        if !self.bootstrap.iter().any(|b| b.addr == from) || id == self.id {
            return Err(DropReason::UnexpectedHelloAck);
        }
        if self.is_revoked(&id) {
            return Err(DropReason::Revoked);
        }
        let peer = self
            .add_peer_first_hand(id, Some(from), now)
            .ok_or(DropReason::PeerTableFull)?;
        // A member at a bootstrap address is always a neighbour.
        peer.neighbour = true;
        // Same place, same socket: nothing new. An answer through another
        // socket (a new TCP connection after the member restarted) gets a
        // handshake through it.
        if peer.connected(now) && peer.endpoint == Some(from) && peer.socket == rx.socket {
            return Ok(());
        }
        peer.endpoint = Some(from);
        peer.socket = rx.socket;
        self.initiate(now, id);
        Ok(())
    }

    /// Makes `session` the peer's current one (after a handshake completed
    /// with the datagram that reached us as `rx`).
    pub(super) fn install_session(
        &mut self,
        now: Instant,
        rx: RxContext,
        pid: NodeId,
        session: crate::session::Session,
    ) {
        self.note_stream_handshake(rx.socket);
        self.traffic.handshakes_completed += 1;
        let peer = self.peers.get_mut(&pid).expect("peer exists");
        let came_up = !peer.connected(now);
        let local_index = session.local_index;
        self.by_index.insert(local_index, pid);
        let check_at = session.created + super::timers::rekey_after(&session);
        let old_previous = match peer.current.take() {
            Some(old) => peer.previous.replace(old),
            None => None,
        };
        peer.current = Some(Box::new(session));
        peer.history_mut().last_handshake = Some(now);
        peer.retry_at = None;
        // A handshake of ours that crossed the other side's is moot now.
        let crossed = peer.handshake.take().map(|h| h.state.local_index);
        peer.timers.retransmit = None;
        peer.timers.connect = None;
        peer.timers.session_check = Some(check_at);
        let first_time = !peer.verified;
        peer.verified = true;
        peer.heard_at = now;
        if peer.timers.gossip.is_none() {
            peer.timers.gossip = Some(now);
        }
        if let Some(old) = old_previous {
            self.by_index.remove(&old.local_index);
        }
        if let Some(idx) = crossed {
            self.by_index.remove(&idx);
        }
        self.stun.session_came_up(now);
        self.rotation_session_up(now, pid, local_index);
        tracing::info!(peer = %pid.short(), "session established");
        self.events.push_back(Event::Connected(pid));
        if first_time {
            self.ipv4_member_verified(now, pid);
            self.events.push_back(Event::MembersChanged);
        }
        self.send_revocations(now, pid);
        self.send_name_claim(now, pid);
        if came_up && rx.relayed.is_none() {
            self.announce_arrival(now, pid);
        }
    }
}

impl Node {
    /// Checks a hello (or, with `ack`, a hello-ack): its type, its MAC
    /// (`verify` under the current key, else under the retiring one during
    /// its grace), and the sender's node ID; returns the generation that
    /// verified it, the node ID and the stamp.
    fn open_hello(
        &self,
        now: Instant,
        datagram: &[u8],
        ack: bool,
        verify: impl Fn(&HandshakeKeys, &[u8]) -> bool,
    ) -> Result<(Generation, (NodeId, u32)), DropReason> {
        let pkt = hello::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        if pkt.is_ack() != ack {
            return Err(DropReason::Malformed);
        }
        let generation = self
            .mac_generation(now, |k| verify(k, pkt.as_bytes()))
            .ok_or(DropReason::BadMac)?;
        let id = NodeId::from_bytes(pkt.node_id()).map_err(|_| DropReason::Malformed)?;
        Ok((generation, (id, pkt.stamp())))
    }
}
