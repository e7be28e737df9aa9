//! Received frames: checks in order (who may send this, signature or MAC,
//! freshness), then effects. Anything that fails is dropped and counted.

use super::conn::learn_is_signed;
use super::state::{InboundCall, Proxy, Reach, RecvKey, Subscriber};
use super::Transport;
use crate::error::CallError;
use crate::ids::{ConnId, EngineAddr, NodeId, Time};
use crate::keys::verify;
use crate::mailbox::{Delivery, ReplyTo};
use crate::output::{DownReason, Output};
use crate::wire::body::Body;
use crate::wire::call::{CallRequest, CallResponse, Status};
use crate::wire::forget::Forget;
use crate::wire::frame::{Deframer, Frame, FrameType};
use crate::wire::learn::Learn;
use crate::wire::message::MessageView;
use crate::wire::pair::Pair;
use crate::wire::subscribe::{Subscribe, Unsubscribe};

impl Transport {
    /// Bytes arrived on a stream. Complete frames are handled at once; a
    /// stream whose framing breaks is closed.
    pub fn handle_bytes(&mut self, conn: ConnId, bytes: &[u8], now: Time) {
        self.set_time(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let peer = c.peer;
        // Frames are handled in place, borrowed from the decoder, which is
        // taken out of the stream state meanwhile.
        let mut deframer = std::mem::replace(&mut c.deframer, Deframer::new(0));
        deframer.push(bytes);
        let broken = loop {
            match deframer.next_frame_ref() {
                Ok(Some((ty, body))) => self.handle_frame(conn, peer, ty, body),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        if let Some(e) = broken {
            self.stats.malformed += 1;
            tracing::debug!(?peer, %e, "actors: stream framing broken, closing");
            self.outputs.push_back(Output::Close { conn });
            self.handle_stream_closed(conn, now);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.deframer = deframer;
        }
    }

    fn handle_frame(&mut self, conn: ConnId, peer: NodeId, ty: u8, body: &[u8]) {
        if ty == FrameType::Message as u8 {
            match MessageView::new_checked(body) {
                Ok(v) => {
                    self.stats.frames_in += 1;
                    self.on_message(conn, peer, v);
                }
                Err(_) => self.stats.malformed += 1,
            }
            return;
        }
        let frame = match Frame::parse(ty, body) {
            Ok(f) => f,
            Err(e) => {
                self.stats.malformed += 1;
                if ty == FrameType::ScopeAnswer as u8 {
                    self.on_bad_scope_answer(peer, body, e);
                }
                return;
            }
        };
        self.stats.frames_in += 1;
        match frame {
            Frame::Learn(l) => self.on_learn(conn, peer, l),
            Frame::Forget(f) => self.on_forget(peer, f),
            Frame::Pair(p) => self.on_pair(conn, peer, p),
            Frame::Message(_) => {}
            Frame::NameRegister(c) => self.on_claim(peer, c),
            Frame::NameUnregister(u) => self.on_unclaim(peer, u),
            Frame::NameClaims(cs) => {
                for c in cs {
                    self.on_claim(peer, c);
                }
            }
            Frame::ScopeQuery(_)
            | Frame::ScopeAnswer(_)
            | Frame::ScopePush(_)
            | Frame::ScopeGone(_)
            | Frame::ScopeProbe(_)
                if self.scopes.is_none() =>
            {
                self.stats.unexpected += 1;
            }
            Frame::ScopeQuery(q) => self.on_scope_query(peer, q),
            Frame::ScopeAnswer(a) => self.on_scope_answer(peer, a),
            Frame::ScopePush(p) => self.on_scope_push(peer, p),
            Frame::ScopeGone(g) => self.on_scope_gone(peer, g),
            Frame::ScopeProbe(p) => self.on_scope_probe(peer, p),
        }
    }

    /// Whether `engine` is a foreign engine hosted by `peer`.
    pub(super) fn hosted_by(&self, engine: EngineAddr, peer: NodeId) -> bool {
        self.proxies.get(&engine).is_some_and(|p| p.node == peer)
    }

    fn on_learn(&mut self, conn: ConnId, peer: NodeId, l: Learn) {
        if l.node != peer || self.engines.contains_key(&l.engine) || !learn_is_signed(&l) {
            self.stats.forged += 1;
            tracing::debug!(?peer, "actors: dropped (forged)");
            return;
        }
        if l.expires <= self.now {
            self.stats.stale += 1;
            tracing::debug!(?peer, "actors: dropped (stale)");
            return;
        }
        let active = self.peers.get(&peer).and_then(|p| p.active) == Some(conn);
        let reach = if active { Reach::Up } else { Reach::Down };
        let was = self
            .proxies
            .get(&l.engine)
            .map(|p| (p.node, p.reach, p.expires));
        match was {
            Some((node, _, expires)) if node != peer && expires >= l.expires => {
                // An older record than the one we hold from another node.
                self.stats.stale += 1;
                tracing::debug!(?peer, "actors: dropped (stale)");
                return;
            }
            Some((node, _, _)) if node != peer => {
                // The engine moved: drop the old proxy quietly.
                self.remove_proxy(l.engine, DownReason::Forgotten);
            }
            _ => {}
        }
        if let Some(p) = self.proxies.get_mut(&l.engine) {
            p.expires = p.expires.max(l.expires);
            let came_up = p.reach != Reach::Up && reach == Reach::Up;
            if came_up {
                p.reach = reach;
                let queue = std::mem::take(&mut p.queue);
                self.flush_queue(l.engine, queue);
                self.resubscribe(l.engine);
            }
            return;
        }
        let slot = self.peers.entry(peer).or_default();
        if slot.proxies >= self.config.max_proxies_per_peer {
            self.stats.limited += 1;
            tracing::debug!(?peer, "actors: dropped (limited)");
            return;
        }
        slot.proxies += 1;
        self.proxies.insert(
            l.engine,
            Proxy {
                node: peer,
                expires: l.expires,
                reach,
                queue: Vec::new(),
            },
        );
        if let Some(r) = self.resolving.remove(&l.engine) {
            self.flush_queue(l.engine, r.queue);
        }
    }

    /// Sends our subscriptions to a publisher again after its node returns.
    fn resubscribe(&mut self, publisher: EngineAddr) {
        let again: Vec<(u64, EngineAddr, crate::filter::Filter)> = self
            .subs
            .iter()
            .filter(|(_, s)| s.publisher == publisher)
            .map(|(&id, s)| (id, s.subscriber, s.filter.clone()))
            .collect();
        for (id, subscriber, filter) in again {
            let _ = self.route(
                subscriber,
                publisher,
                Body::Subscribe(Subscribe { id, filter }),
            );
        }
    }

    fn on_forget(&mut self, peer: NodeId, f: Forget) {
        let signed = verify(
            &f.node.0,
            &Forget::signed(f.engine, f.node, f.issued),
            &f.node_sig,
        );
        if f.node != peer || !signed {
            self.stats.forged += 1;
            tracing::debug!(?peer, "actors: dropped (forged)");
            return;
        }
        if !self.hosted_by(f.engine, peer) {
            // Nothing to forget (never learned, or already forgotten).
            return;
        }
        self.remove_proxy(f.engine, DownReason::Forgotten);
    }

    fn on_pair(&mut self, conn: ConnId, peer: NodeId, p: Pair) {
        if !self.hosted_by(p.src, peer) {
            self.stats.forged += 1;
            tracing::debug!(?peer, "actors: dropped (forged)");
            return;
        }
        if !self.engines.contains_key(&p.dst) {
            self.stats.unknown_destination += 1;
            tracing::debug!(?peer, "actors: dropped (unknown destination)");
            self.send_forget(conn, p.dst);
            return;
        }
        if !verify(
            &p.src.0,
            &Pair::signed(p.src, p.dst, p.epoch, p.issued, &p.key),
            &p.sig,
        ) {
            self.stats.forged += 1;
            tracing::debug!(?peer, "actors: dropped (forged)");
            return;
        }
        let skew = self.now.0.abs_diff(p.issued.0);
        if skew > self.config.pair_max_skew_ms {
            self.stats.stale += 1;
            tracing::debug!(?peer, "actors: dropped (stale)");
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.recv_keys
            .get(&(p.src, p.dst))
            .is_some_and(|k| k.epoch >= p.epoch)
        {
            self.stats.replayed += 1;
            tracing::debug!(?peer, "actors: dropped (replayed)");
            return;
        }
        c.recv_keys.insert(
            (p.src, p.dst),
            RecvKey {
                epoch: p.epoch,
                key: zeroize::Zeroizing::new(p.key),
                last_seq: 0,
            },
        );
    }

    /// Tells a peer that one of its proxies names no engine of ours.
    fn send_forget(&mut self, conn: ConnId, engine: EngineAddr) {
        let node = self.node_id();
        let issued = self.now;
        let node_sig = self.keys.sign_node(&Forget::signed(engine, node, issued));
        self.write_frame(
            conn,
            &Frame::Forget(Forget {
                engine,
                node,
                issued,
                node_sig,
            }),
        );
    }

    fn on_message(&mut self, conn: ConnId, peer: NodeId, m: MessageView<'_>) {
        let (src, dst) = (m.src(), m.dst());
        if !self.hosted_by(src, peer) {
            self.stats.forged += 1;
            tracing::debug!(?peer, "actors: dropped (forged)");
            return;
        }
        if !self.engines.contains_key(&dst) {
            self.stats.unknown_destination += 1;
            tracing::debug!(?peer, "actors: dropped (unknown destination)");
            self.send_forget(conn, dst);
            return;
        }
        let Some(k) = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.recv_keys.get_mut(&(src, dst)))
            .filter(|k| k.epoch == m.epoch())
        else {
            self.stats.unauthenticated += 1;
            tracing::debug!(?peer, "actors: dropped (unauthenticated)");
            return;
        };
        if !m.verify(&k.key) {
            self.stats.bad_mac += 1;
            tracing::debug!(?peer, "actors: dropped (bad mac)");
            return;
        }
        if m.seq() <= k.last_seq {
            self.stats.replayed += 1;
            tracing::debug!(?peer, "actors: dropped (replayed)");
            return;
        }
        k.last_seq = m.seq();
        let Ok(body) = Body::parse(m.body()) else {
            self.stats.malformed += 1;
            return;
        };
        match body {
            Body::Cast(payload) => self.deliver(dst, Delivery::Cast { from: src, payload }),
            Body::Request(r) => self.on_request(peer, src, dst, r),
            Body::Response(r) => self.on_response(src, dst, r),
            Body::Subscribe(s) => self.on_subscribe(peer, src, dst, s),
            Body::Unsubscribe(u) => self.on_unsubscribe(peer, src, dst, u),
            Body::Event(event) => {
                if self
                    .subs
                    .values()
                    .any(|s| s.subscriber == dst && s.publisher == src)
                {
                    self.deliver(dst, Delivery::Event { from: src, event });
                } else {
                    self.stats.unexpected += 1;
                }
            }
        }
    }

    fn deliver(&mut self, dst: EngineAddr, d: Delivery) {
        if let Some(e) = self.engines.get_mut(&dst) {
            if e.mailbox.push(d).is_err() {
                self.stats.mailbox_full += 1;
            }
        }
    }

    fn on_request(&mut self, peer: NodeId, src: EngineAddr, dst: EngineAddr, r: CallRequest) {
        let reply = ReplyTo {
            caller: src,
            callee: dst,
            corr: r.corr,
        };
        let busy = self
            .peers
            .get(&peer)
            .is_some_and(|p| p.inbound_calls >= self.config.max_inbound_calls_per_peer);
        let status = if busy {
            self.stats.limited += 1;
            tracing::debug!(?peer, "actors: dropped (limited)");
            Some(Status::Busy)
        } else if self.inbound_calls.contains_key(&reply) {
            self.stats.replayed += 1;
            tracing::debug!(?peer, "actors: dropped (replayed)");
            return;
        } else {
            let d = Delivery::Call {
                from: src,
                reply,
                payload: r.payload,
            };
            match self.engines.get_mut(&dst).map(|e| e.mailbox.push(d)) {
                Some(Ok(())) => None,
                _ => Some(Status::MailboxFull),
            }
        };
        if let Some(status) = status {
            let body = Body::Response(CallResponse {
                corr: r.corr,
                status,
                payload: Vec::new(),
            });
            let _ = self.route(dst, src, body);
            return;
        }
        let timeout = r.timeout_ms.min(self.config.max_call_timeout_ms);
        self.inbound_calls.insert(
            reply,
            InboundCall {
                peer,
                deadline: self.now.plus_ms(u64::from(timeout)),
            },
        );
        self.peers.entry(peer).or_default().inbound_calls += 1;
    }

    fn on_response(&mut self, src: EngineAddr, dst: EngineAddr, r: CallResponse) {
        let result = match r.status {
            Status::Ok => Ok(r.payload),
            Status::NoSuchEngine => Err(CallError::NoSuchEngine),
            Status::MailboxFull => Err(CallError::MailboxFull),
            Status::Busy => Err(CallError::Busy),
            Status::Stopped => Err(CallError::Stopped),
        };
        if !self.finish_call(r.corr, dst, src, result) {
            self.stats.unexpected += 1;
        }
    }

    fn on_subscribe(&mut self, peer: NodeId, src: EngineAddr, dst: EngineAddr, s: Subscribe) {
        let subs = self.subscribers.entry(dst).or_default();
        if let Some(existing) = subs.get_mut(&(src, s.id)) {
            // A subscription sent again after a reconnection.
            existing.filter = s.filter;
            return;
        }
        let slot = self.peers.entry(peer).or_default();
        if slot.subscriptions >= self.config.max_subscriptions_per_peer {
            self.stats.limited += 1;
            tracing::debug!(?peer, "actors: dropped (limited)");
            return;
        }
        slot.subscriptions += 1;
        self.subscribers.entry(dst).or_default().insert(
            (src, s.id),
            Subscriber {
                filter: s.filter,
                peer: Some(peer),
            },
        );
    }

    fn on_unsubscribe(&mut self, peer: NodeId, src: EngineAddr, dst: EngineAddr, u: Unsubscribe) {
        let removed = self
            .subscribers
            .get_mut(&dst)
            .and_then(|m| m.remove(&(src, u.id)))
            .is_some();
        if removed {
            self.release_subscription_slot(Some(peer));
        }
    }
}
