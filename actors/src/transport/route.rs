//! Sending: routing a body to a foreign engine, pair keys, framing, and
//! what happens when engines or peers go away.

use super::state::{Queued, Reach, Resolving, SendKey};
use super::Transport;
use crate::error::{CallError, SendError};
use crate::ids::{ConnId, EngineAddr, NodeId};
use crate::output::{DownReason, Output};
use crate::wire::body::Body;
use crate::wire::frame::{self, Frame, FrameType};
use crate::wire::learn::Learn;
use crate::wire::message;
use crate::wire::pair::Pair;

impl Transport {
    /// A fresh learn record for a local engine.
    pub(super) fn make_learn(&self, engine: EngineAddr) -> Learn {
        let node = self.node_id();
        let expires = self.now.plus_ms(self.config.record_ttl_ms);
        let engine_sig = self
            .keys
            .sign_engine(engine, &Learn::engine_signed(engine, node, expires))
            .unwrap_or([0; 64]);
        let mut l = Learn {
            engine,
            node,
            expires,
            engine_sig,
            node_sig: [0; 64],
        };
        l.node_sig = self.keys.sign_node(&l.node_signed());
        l
    }

    /// Queues a frame on a stream.
    pub(super) fn write_frame(&mut self, conn: ConnId, f: &Frame) {
        let buf = self.write_bufs.entry(conn).or_default();
        if f.write(buf).is_ok() {
            self.stats.frames_out += 1;
        }
    }

    /// Queues a frame on every active stream.
    pub(super) fn broadcast(&mut self, f: &Frame) {
        let conns: Vec<ConnId> = self.peers.values().filter_map(|p| p.active).collect();
        for c in conns {
            self.write_frame(c, f);
        }
    }

    /// Sends a body from a local engine to a non-local one.
    pub(super) fn route(
        &mut self,
        src: EngineAddr,
        dst: EngineAddr,
        body: Body,
    ) -> Result<(), SendError> {
        let Some(p) = self.proxies.get(&dst) else {
            return self.enqueue_resolve(src, dst, body);
        };
        let node = p.node;
        match p.reach {
            Reach::Up => {
                let Some(conn) = self.peers.get(&node).and_then(|p| p.active) else {
                    return Err(SendError::Unreachable(dst));
                };
                self.transmit(conn, src, dst, &body)
            }
            Reach::Connecting => {
                if self.queued >= self.config.max_queued {
                    return Err(SendError::TooManyPending);
                }
                self.queued += 1;
                if let Some(p) = self.proxies.get_mut(&dst) {
                    p.queue.push(Queued { src, body });
                }
                Ok(())
            }
            Reach::Down => {
                self.reconnect(node);
                Err(SendError::Unreachable(dst))
            }
        }
    }

    fn enqueue_resolve(
        &mut self,
        src: EngineAddr,
        dst: EngineAddr,
        body: Body,
    ) -> Result<(), SendError> {
        if self.queued >= self.config.max_queued {
            return Err(SendError::TooManyPending);
        }
        self.queued += 1;
        let deadline = self.now.plus_ms(self.config.resolve_timeout_ms);
        let entry = self.resolving.entry(dst).or_insert_with(|| Resolving {
            deadline,
            queue: Vec::new(),
        });
        let first = entry.queue.is_empty();
        entry.queue.push(Queued { src, body });
        if first {
            self.outputs.push_back(Output::Fetch { key: dst.0 });
        }
        Ok(())
    }

    /// Authenticates and frames a body on a stream, offering a pair key
    /// first if this pair has none on the stream.
    pub(super) fn transmit(
        &mut self,
        conn: ConnId,
        src: EngineAddr,
        dst: EngineAddr,
        body: &Body,
    ) -> Result<(), SendError> {
        self.scratch.clear();
        body.write(&mut self.scratch)?;
        let Some(c) = self.conns.get(&conn) else {
            return Err(SendError::Unreachable(dst));
        };
        if !c.send_keys.contains_key(&(src, dst)) {
            let key = self.random32();
            let Some(c) = self.conns.get_mut(&conn) else {
                return Err(SendError::Unreachable(dst));
            };
            c.next_epoch += 1;
            let epoch = c.next_epoch;
            let issued = self.now;
            let Some(sig) = self
                .keys
                .sign_engine(src, &Pair::signed(src, dst, epoch, issued, &key))
            else {
                return Err(SendError::NotLocal(src));
            };
            c.send_keys.insert(
                (src, dst),
                SendKey {
                    epoch,
                    key: zeroize::Zeroizing::new(key),
                    seq: 0,
                },
            );
            let offer = Pair {
                src,
                dst,
                epoch,
                issued,
                key,
                sig,
            };
            self.write_frame(conn, &Frame::Pair(offer));
        }
        let Some(k) = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.send_keys.get_mut(&(src, dst)))
        else {
            return Err(SendError::Unreachable(dst));
        };
        k.seq += 1;
        let buf = self.write_bufs.entry(conn).or_default();
        let start = frame::begin(buf, FrameType::Message);
        message::emit(buf, src, dst, k.epoch, k.seq, &self.scratch, &k.key);
        frame::patch_len(buf, start)?;
        self.stats.frames_out += 1;
        Ok(())
    }

    /// Asks the host for a stream to `node` unless one is open or opening.
    pub(super) fn reconnect(&mut self, node: NodeId) {
        if node == self.node_id() {
            return;
        }
        let p = self.peers.entry(node).or_default();
        if p.active.is_none() && !p.connecting {
            p.connecting = true;
            self.outputs.push_back(Output::Open { peer: node });
        }
    }

    /// Fails queued messages for `dst`.
    pub(super) fn fail_queue(&mut self, dst: EngineAddr, queue: Vec<Queued>, err: CallError) {
        self.queued = self.queued.saturating_sub(queue.len());
        for q in queue {
            match q.body {
                Body::Request(r) => {
                    self.finish_call(r.corr, q.src, dst, Err(err));
                }
                Body::Cast(_) | Body::Event(_) => self.stats.undeliverable += 1,
                Body::Subscribe(s) => {
                    self.subs.remove(&s.id);
                }
                Body::Response(_) | Body::Unsubscribe(_) => {}
            }
        }
    }

    /// Sends queued messages for `dst` now that its node is connected.
    pub(super) fn flush_queue(&mut self, dst: EngineAddr, queue: Vec<Queued>) {
        self.queued = self.queued.saturating_sub(queue.len());
        for q in queue {
            if self.route(q.src, dst, q.body).is_err() {
                self.stats.undeliverable += 1;
            }
        }
    }

    /// Removes a foreign engine that was forgotten or expired.
    pub(super) fn remove_proxy(&mut self, engine: EngineAddr, reason: DownReason) {
        let Some(p) = self.proxies.remove(&engine) else {
            return;
        };
        if let Some(peer) = self.peers.get_mut(&p.node) {
            peer.proxies = peer.proxies.saturating_sub(1);
        }
        self.fail_queue(engine, p.queue, CallError::NoSuchEngine);
        self.fail_calls_to(engine, CallError::NoSuchEngine);
        self.engine_gone(engine, reason);
        self.names.remove_engine(engine);
        self.drop_subscriptions_of(engine, None);
        self.subs.retain(|_, s| s.publisher != engine);
        for c in self.conns.values_mut() {
            c.send_keys.retain(|&(s, d), _| s != engine && d != engine);
            c.recv_keys.retain(|&(s, d), _| s != engine && d != engine);
        }
    }

    /// Drops remote subscriptions held by `engine`, or by every engine of
    /// `peer` when given.
    fn drop_subscriptions_of(&mut self, engine: EngineAddr, peer: Option<NodeId>) {
        let mut released = Vec::new();
        for subs in self.subscribers.values_mut() {
            subs.retain(|&(s, _), sub| {
                let hit = match peer {
                    Some(n) => sub.peer == Some(n),
                    None => s == engine && sub.peer.is_some(),
                };
                if hit {
                    released.push(sub.peer);
                }
                !hit
            });
        }
        for p in released {
            self.release_subscription_slot(p);
        }
    }

    /// The active stream to `node` is gone: its engines become unreachable.
    pub(super) fn peer_down(&mut self, node: NodeId) {
        let engines: Vec<EngineAddr> = self
            .proxies
            .iter()
            .filter(|(_, p)| p.node == node)
            .map(|(&e, _)| e)
            .collect();
        for e in engines {
            let queue = match self.proxies.get_mut(&e) {
                Some(p) => {
                    p.reach = Reach::Down;
                    std::mem::take(&mut p.queue)
                }
                None => continue,
            };
            self.fail_queue(e, queue, CallError::Unreachable);
            self.fail_calls_to(e, CallError::Unreachable);
            self.engine_gone(e, DownReason::Unreachable);
            self.names.remove_engine(e);
        }
        self.drop_subscriptions_of(EngineAddr([0; 32]), Some(node));
        let before = self.inbound_calls.len();
        self.inbound_calls.retain(|_, c| c.peer != node);
        if before != self.inbound_calls.len() {
            if let Some(p) = self.peers.get_mut(&node) {
                p.inbound_calls = 0;
            }
        }
    }
}
