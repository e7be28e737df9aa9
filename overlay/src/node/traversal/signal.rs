//! Signals between members that have no session with each other: sent
//! through the member that told us of the recipient (or, failing that, the
//! member closest to it by key distance), forwarded hop by hop, sealed for
//! the recipient and signed by the sender, so forwarders can neither read
//! nor change them; checked and opened only by the recipient. Node glue:
//! sealing and signing need the node's keys, routing its sessions.

use std::time::Instant;

use rand_core::RngCore;

use super::SIGNAL_HOPS;
use crate::identity::NodeId;
use crate::node::{DropReason, Node};
use crate::wire::signal::{body_kind, Candidates, Envelope, Header, SIGNING_CONTEXT};
use crate::wire::signal_seal::{self, SALT_LEN};

impl Node {
    /// Seals `candidates` for `dst`, signs and sends them; returns whether
    /// they left.
    pub(crate) fn send_candidates(
        &mut self,
        now: Instant,
        dst: NodeId,
        candidates: &Candidates,
    ) -> bool {
        match self.seal_candidates(now, dst, candidates) {
            Some(bytes) => self.route_signal(now, dst, None, &bytes),
            None => false,
        }
    }

    /// Like [`Node::send_candidates`], with the seal's salt given.
    pub(crate) fn send_candidates_salted(
        &mut self,
        now: Instant,
        dst: NodeId,
        candidates: &Candidates,
        salt: [u8; SALT_LEN],
    ) -> bool {
        match self.seal_candidates_salted(now, dst, candidates, Some(salt)) {
            Some(bytes) => self.route_signal(now, dst, None, &bytes),
            None => false,
        }
    }

    /// The signal that carries `candidates` to `dst`: sealed for it (see
    /// `wire/signal_seal.rs`) and signed; `None` if `dst` is not a valid
    /// key or has low order.
    pub(crate) fn seal_candidates(
        &mut self,
        now: Instant,
        dst: NodeId,
        candidates: &Candidates,
    ) -> Option<Vec<u8>> {
        self.seal_candidates_salted(now, dst, candidates, None)
    }

    /// [`Node::seal_candidates`] with the given salt, or (`None`) one drawn
    /// once the key is known to be good.
    fn seal_candidates_salted(
        &mut self,
        now: Instant,
        dst: NodeId,
        candidates: &Candidates,
        salt: Option<[u8; SALT_LEN]>,
    ) -> Option<Vec<u8>> {
        let seal = self
            .pair_keys
            .seal(&self.node_key, &self.id, &self.id, &dst)?;
        let salt = salt.unwrap_or_else(|| {
            let mut salt = [0u8; SALT_LEN];
            self.rng.fill_bytes(&mut salt);
            salt
        });
        let timestamp_ms = self.timestamp_ms(now);
        let header = Header {
            hop_limit: SIGNAL_HOPS,
            body_kind: body_kind::SEALED_CANDIDATES,
            src: self.id.as_bytes(),
            dst: dst.as_bytes(),
            timestamp_ms,
        };
        let key = &self.node_key;
        let mut plaintext = Vec::new();
        candidates.emit(&mut plaintext);
        let mut msg = Vec::new();
        signal_seal::emit(&header, &seal, salt, &plaintext, |m| key.sign(m), &mut msg).ok()?;
        Some(msg)
    }

    /// Passes a signal one hop toward `dst`, never back to `came_from`.
    fn route_signal(
        &mut self,
        now: Instant,
        dst: NodeId,
        came_from: Option<NodeId>,
        bytes: &[u8],
    ) -> bool {
        match self.next_hop(now, dst, came_from) {
            Some(hop) => self.send_encrypted(now, hop, bytes),
            None => false,
        }
    }

    /// The member to pass a message for `dst` to, never `came_from`: `dst`
    /// itself if we have a direct session with it; else the next hop of our
    /// route to it, or its backup (see `routing`); else the member closest
    /// to `dst` by key distance, if closer than we are (so greedy forwarding
    /// never loops; see `contacts`). Only members with a direct session
    /// that answers qualify.
    pub(crate) fn next_hop(
        &self,
        now: Instant,
        dst: NodeId,
        came_from: Option<NodeId>,
    ) -> Option<NodeId> {
        let usable = |id: &NodeId| {
            Some(*id) != came_from
                && self
                    .peers
                    .get(id)
                    .is_some_and(|p| p.relay_hop.is_none() && p.reachable(now))
        };
        if usable(&dst) {
            return Some(dst);
        }
        let route = self.peers.get(&dst);
        if let Some(hop) = route.and_then(|p| p.route.next_hop).filter(|v| usable(v)) {
            return Some(hop);
        }
        if let Some((backup, _)) = route
            .and_then(|p| p.route.backup)
            .filter(|(b, _)| usable(b))
        {
            return Some(backup);
        }
        self.greedy_hop(now, self.key_of(&dst), came_from)
    }

    /// Handles a signal that arrived on our session with `from`.
    pub(crate) fn consume_signal(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(env) = Envelope::new_checked(msg) else {
            self.drops.add(DropReason::BadInner);
            return;
        };
        let lookup = |n: &Node, b: &[u8; 32]| {
            NodeId::known(b, |id| n.peers.contains_key(id) || *id == n.id)
                .or_else(|| NodeId::from_bytes(*b).ok())
        };
        let Some(dst) = lookup(self, &env.dst()) else {
            self.drops.add(DropReason::SignalRejected);
            return;
        };
        if dst != self.id {
            let hops = env.hop_limit();
            if hops <= 1 {
                self.drops.add(DropReason::SignalNoRoute);
                return;
            }
            let mut fwd = Envelope::new_checked(msg.to_vec()).expect("checked above");
            fwd.set_hop_limit(hops - 1);
            if self.route_signal(now, dst, Some(from), fwd.as_bytes()) {
                self.traversal.stats.signals_forwarded += 1;
            } else {
                self.drops.add(DropReason::SignalNoRoute);
            }
            return;
        }
        let Some(src) = lookup(self, &env.src()) else {
            self.drops.add(DropReason::SignalRejected);
            return;
        };
        // Cheapest checks first: a replayed timestamp and a body kind we do
        // not take cost a table lookup; then the signature; only a signal
        // that passes it costs the pair key (an X25519, unless cached) and
        // the AEAD.
        let ts = env.timestamp_ms();
        if src == self.id || self.peers.get(&src).is_some_and(|p| ts <= p.last_signal_ts) {
            self.drops.add(DropReason::SignalRejected);
            return;
        }
        match env.body_kind() {
            body_kind::SEALED_CANDIDATES => {}
            body_kind::CANDIDATES => {
                // Plaintext, as older nodes sent it.
                self.drops.add(DropReason::SignalUnsealed);
                return;
            }
            _ => {
                self.drops.add(DropReason::SignalRejected);
                return;
            }
        }
        let mut signed = Vec::with_capacity(SIGNING_CONTEXT.len() + env.signed_part().len());
        signed.extend_from_slice(SIGNING_CONTEXT);
        signed.extend_from_slice(env.signed_part());
        if !src.verify(&signed, &env.signature()) {
            self.drops.add(DropReason::SignalRejected);
            return;
        }
        let own = self.id;
        let Some(seal) = self.pair_keys.seal(&self.node_key, &own, &src, &own) else {
            self.drops.add(DropReason::SignalRejected);
            return;
        };
        let Ok(plain) = signal_seal::open(&seal, &env) else {
            self.drops.add(DropReason::SignalUnsealed);
            return;
        };
        // Authentic from here: a replay of it is refused even if the limits
        // below refuse it now (else a forwarder could replay a member's
        // signal to spend that member's join budget).
        if let Some(p) = self.peers.get_mut(&src) {
            p.last_signal_ts = ts;
        }
        match Candidates::parse(&plain) {
            Ok(c) => self.on_candidates(now, src, from, ts, c),
            Err(_) => self.drops.add(DropReason::SignalRejected),
        }
    }
}
