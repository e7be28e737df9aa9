//! Node glue for path probes: checking their MACs, answering probes, and
//! handing what probes and probe-acks tell to the machine.

use std::net::SocketAddr;
use std::time::Instant;

use crate::identity::NodeId;
use crate::node::rotation::Generation;
use crate::node::{DropReason, Node};
use crate::wire::probe;

impl Node {
    /// Handles a probe or probe-ack from `from` on our socket `socket`.
    pub(crate) fn receive_probe(
        &mut self,
        now: Instant,
        socket: u16,
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
        // are `keys_of(generation)`, borrowed apart from `self.pair_keys`.
        let keys = match (generation, &self.rotation.retiring) {
            (Generation::Retiring, Some(r)) => &r.keys,
            _ => &self.keys,
        };
        let pair = self
            .pair_keys
            .get(&self.node_key, keys, &sender)
            .ok_or(DropReason::Malformed)?;
        if !pkt.verify_pair(&pair.from) {
            return Err(DropReason::BadMac);
        }
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
            self.queue_datagram(socket, from, ack.to_vec());
            self.traversal
                .on_probe(now, &self.peers, sender, socket, from, pkt.tx());
        } else {
            let Some(seen) = pkt.observed() else {
                return Err(DropReason::Malformed);
            };
            self.traversal
                .on_probe_ack(now, &self.peers, sender, socket, from, pkt.tx(), seen);
        }
        self.run_traversal_outputs(now);
        Ok(())
    }
}
