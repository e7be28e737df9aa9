//! Answering path probes, and what probes and probe-acks tell a punch.

use std::net::SocketAddr;
use std::time::Instant;

use super::PUNCH_TIME;
use crate::identity::NodeId;
use crate::node::rotation::Generation;
use crate::node::{DropReason, Node};
use crate::wire::probe;

impl Node {
    /// Handles a probe or probe-ack from `from` (on the socket in `rx_socket`).
    pub(crate) fn receive_probe(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        let pkt = probe::Packet::new_checked(datagram).map_err(|_| DropReason::Malformed)?;
        // Members only, and only probes meant for us.
        let generation = self
            .mac_generation(now, |k| k.mac_to_me().verify(pkt.as_bytes()))
            .ok_or(DropReason::BadMac)?;
        let bytes = pkt.sender();
        let sender = NodeId::known(&bytes, |id| self.peers.contains_key(id))
            .or_else(|| NodeId::from_bytes(bytes).ok())
            .filter(|id| *id != self.id)
            .ok_or(DropReason::Malformed)?;
        // Only the sender it names can make its pair tag: a member cannot
        // pass for another (one X25519 per member, then cached). The keys
        // are `keys_of(generation)`, borrowed apart from `self.traversal`.
        let keys = match (generation, &self.rotation.retiring) {
            (Generation::Retiring, Some(r)) => &r.keys,
            _ => &self.keys,
        };
        let pair = self
            .traversal
            .pairs
            .get(&self.node_key, keys, &sender)
            .ok_or(DropReason::Malformed)?;
        if !pkt.verify_pair(&pair.from) {
            return Err(DropReason::BadMac);
        }
        let socket = self.rx_socket;
        if !pkt.is_ack() {
            // Stateless answer, from the socket the probe reached: echo the
            // tx and say where the probe came from.
            let mut ack = Vec::with_capacity(probe::ACK_LEN);
            probe::emit_ack(self.id.as_bytes(), pkt.tx(), from, &mut ack);
            probe::seal(
                &mut ack,
                &pair.to,
                &self.keys_of(generation).mac_to(&sender),
            );
            self.queue_datagram(socket, from, ack);
            let Some(punch) = self.traversal.punches.get_mut(&sender) else {
                return Ok(());
            };
            if !punch.owns_tx(pkt.tx()) {
                return Ok(());
            }
            punch.hear(from.ip());
            // The other side's probe got through its NAT and ours: answers
            // from this socket to `from` will too. Try it, and probe it
            // (a peer-reflexive candidate) to measure it.
            if socket == 0 && punch.learn_peer_reflexive(from) {
                self.probe_now(now, sender, from);
            }
            self.on_path_found(now, sender, socket, from, PUNCH_TIME);
            return Ok(());
        }
        let Some(seen) = pkt.observed() else {
            return Err(DropReason::Malformed);
        };
        if self.traversal.check.owns(pkt.tx()) {
            self.self_check_ack(now, from, socket, seen);
            return Ok(());
        }
        let Some(punch) = self.traversal.punches.get_mut(&sender) else {
            // An answer after its punch ended: harmless.
            return Ok(());
        };
        let Some(rtt) = punch.rtt_of(pkt.tx(), now) else {
            return Ok(());
        };
        punch.hear(from.ip());
        if socket == 0 {
            self.traversal.observe(seen, sender, now);
        }
        self.on_path_found(now, sender, socket, from, rtt);
        Ok(())
    }
}
