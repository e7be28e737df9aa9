//! Stream lifecycle and host record answers.

use super::state::{Conn, Proxy, Reach};
use super::Transport;
use crate::error::CallError;
use crate::ids::{ConnId, EngineAddr, NodeId, Time};
use crate::keys::verify;
use crate::output::Output;
use crate::wire::frame::{Deframer, Frame};
use crate::wire::learn::Learn;

impl Transport {
    /// A stream to `peer` is open (`outbound` if we opened it). On the
    /// stream that becomes the peer's active one, we burst a learn record
    /// for every local engine and our engines' name claims.
    ///
    /// With two streams to one peer (both sides opened at once), both
    /// sides keep the one opened by the lower node ID and close the other.
    pub fn handle_stream_open(&mut self, conn: ConnId, peer: NodeId, outbound: bool, now: Time) {
        self.set_time(now);
        self.conns.insert(
            conn,
            Conn {
                peer,
                outbound,
                deframer: Deframer::new(self.config.max_frame),
                send_keys: Default::default(),
                recv_keys: Default::default(),
                next_epoch: 0,
                scope_log: Default::default(),
            },
        );
        let me = self.node_id();
        let p = self.peers.entry(peer).or_default();
        p.connecting = false;
        let keep_new = match p.active {
            None => true,
            Some(old) => {
                let old_out = self.conns.get(&old).is_some_and(|c| c.outbound);
                let prefer_out = me < peer;
                // Same direction: the newer stream replaces a stale one.
                old_out != prefer_out || outbound == prefer_out
            }
        };
        tracing::trace!(?peer, ?conn, outbound, keep_new, "actors: stream open");
        if keep_new {
            let replaced = p.active.replace(conn);
            let mut resend = Default::default();
            if let Some(old) = replaced {
                if let Some(c) = self.conns.get_mut(&old) {
                    resend = std::mem::take(&mut c.scope_log);
                }
                self.drop_conn(old);
            }
            self.on_active(conn, peer);
            self.scope_resend(conn, resend);
        } else {
            self.drop_conn(conn);
        }
    }

    /// Closes a stream we no longer use, without treating the peer as gone.
    fn drop_conn(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        if let Some(bytes) = self.write_bufs.remove(&conn) {
            if !bytes.is_empty() {
                self.outputs.push_back(Output::Write { conn, bytes });
            }
        }
        self.outputs.push_back(Output::Close { conn });
    }

    fn on_active(&mut self, conn: ConnId, peer: NodeId) {
        let learns: Vec<Learn> = self.engines.values().map(|e| e.learn).collect();
        for l in learns {
            self.write_frame(conn, &Frame::Learn(l));
        }
        let claims: Vec<_> = self
            .engines
            .keys()
            .flat_map(|&e| self.names.claims_of(e))
            .collect();
        if !claims.is_empty() {
            for chunk in claims.chunks(crate::wire::names::MAX_CLAIMS) {
                self.write_frame(conn, &Frame::NameClaims(chunk.to_vec()));
            }
        }
        let waiting: Vec<EngineAddr> = self
            .proxies
            .iter()
            .filter(|(_, p)| p.node == peer && p.reach == Reach::Connecting)
            .map(|(&e, _)| e)
            .collect();
        for e in waiting {
            let queue = match self.proxies.get_mut(&e) {
                Some(p) => {
                    p.reach = Reach::Up;
                    std::mem::take(&mut p.queue)
                }
                None => continue,
            };
            self.flush_queue(e, queue);
        }
        self.scopes_on_active(peer);
    }

    /// The host could not open a stream to `peer`.
    pub fn handle_open_failed(&mut self, peer: NodeId, now: Time) {
        self.set_time(now);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.connecting = false;
            if p.active.is_some() {
                return;
            }
        }
        self.peer_down(peer);
        self.scopes_on_open_failed(peer);
    }

    /// A stream closed (either side). If it was the peer's active stream,
    /// the peer's engines become unreachable: their pending calls fail,
    /// monitors fire, their names go.
    pub fn handle_stream_closed(&mut self, conn: ConnId, now: Time) {
        self.set_time(now);
        self.write_bufs.remove(&conn);
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let was_active = self
            .peers
            .get(&c.peer)
            .is_some_and(|p| p.active == Some(conn));
        tracing::trace!(peer = ?c.peer, ?conn, was_active, "actors: stream closed");
        if was_active {
            if let Some(p) = self.peers.get_mut(&c.peer) {
                p.active = None;
            }
            self.peer_down(c.peer);
            self.scopes_on_closed(c.peer);
        }
    }

    /// Records fetched for `key`, possibly none: for a name lookup, the name
    /// records (see [`Self::lookup_name`]); for an engine address, its host
    /// records. A valid one lets queued messages go to
    /// the engine's node (connecting first if needed); none fails them with
    /// "no such engine".
    pub fn handle_record(&mut self, key: [u8; 32], records: &[Vec<u8>], now: Time) {
        self.set_time(now);
        if self.answer_name_lookup(key, records) {
            return;
        }
        let engine = EngineAddr(key);
        let Some(r) = self.resolving.remove(&engine) else {
            return;
        };
        let best = records
            .iter()
            .filter_map(|b| Learn::parse(b).ok())
            .filter(|l| l.engine == engine && l.expires > self.now && learn_is_signed(l))
            .max_by_key(|l| l.expires);
        let me = self.node_id();
        match best {
            Some(l) if l.node != me && !self.engines.contains_key(&engine) => {
                if self.proxies.contains_key(&engine) {
                    // Learned over a stream meanwhile.
                    self.flush_queue(engine, r.queue);
                    return;
                }
                let up = self.peers.get(&l.node).is_some_and(|p| p.active.is_some());
                self.peers.entry(l.node).or_default().proxies += 1;
                self.proxies.insert(
                    engine,
                    Proxy {
                        node: l.node,
                        expires: l.expires,
                        reach: if up { Reach::Up } else { Reach::Connecting },
                        queue: Vec::new(),
                    },
                );
                if up {
                    self.flush_queue(engine, r.queue);
                } else {
                    // The queue moves to the proxy; `queued` counts it still.
                    if let Some(p) = self.proxies.get_mut(&engine) {
                        p.queue = r.queue;
                    }
                    self.reconnect(l.node);
                }
            }
            _ => self.fail_queue(engine, r.queue, CallError::NoSuchEngine),
        }
    }
}

/// Whether both signatures of a learn record are valid.
pub(super) fn learn_is_signed(l: &Learn) -> bool {
    verify(
        &l.engine.0,
        &Learn::engine_signed(l.engine, l.node, l.expires),
        &l.engine_sig,
    ) && verify(&l.node.0, &l.node_signed(), &l.node_sig)
}
