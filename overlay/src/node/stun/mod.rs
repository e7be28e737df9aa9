//! STUN on the overlay port (RFC 8489 Binding, through `tessel-nat`).
//!
//! A datagram that passes the magic-cookie check and decodes as a Binding
//! message is handled here, before the overlay parse:
//!
//! - **Requests** get a response only if they carry the network's USERNAME
//!   and their MESSAGE-INTEGRITY-SHA256 verifies with the network's STUN
//!   key, so that every member is a STUN server for the others and
//!   invisible to everyone else, and only if the response is no longer than
//!   the request. Anything else is counted (`stun_unauthenticated`) and
//!   gets no answer.
//! - **Responses** to the node's own requests are matched by transaction ID
//!   and source, and recorded as samples: reflector, mapped address, RTT.
//!   Those from members must carry the network key's integrity.
//!
//! Every [`ROUND_INTERVAL`](machine::ROUND_INTERVAL) (and soon after start, and as soon as the first
//! sessions are up) the node asks up to
//! [`MEMBER_REFLECTORS`](machine::MEMBER_REFLECTORS) connected
//! members with distinct IP addresses (keyed requests) and the configured
//! STUN servers (plain requests), each retransmitted as RFC 8489 says with a
//! short bound. From the samples come [`Node::reflexive_addresses`] and
//! [`Node::nat_mapping`], which reuses the netcheck's pure classifier.
//!
//! All of it is one machine, [`machine::StunMachine`], tested on its own;
//! this file is the node's glue: datagrams and timeouts in, datagrams and
//! drop counts out, the deadline into the timer table.

mod machine;
mod samples;
mod status;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Instant;

use machine::Received;
pub(crate) use machine::StunMachine;
pub use samples::{NatBehaviour, NatMapping, StunSample};
pub use status::{NatStatus, StunSampleStatus};

use super::rx_context::RxContext;
use super::Node;

impl Node {
    /// Tells the node the UDP port it listens on, so that its NAT report
    /// can tell a preserved port.
    pub fn set_local_port(&mut self, port: u16) {
        self.stun.set_local_port(port);
    }

    /// Offers a datagram that reached us from `from` as `rx` says to the
    /// STUN machine; returns false if it is not a Binding message (the
    /// caller then parses it as ours).
    pub(super) fn receive_stun(
        &mut self,
        now: Instant,
        rx: RxContext,
        from: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        let retiring = self.rotation.retiring_stun(now);
        match self.stun.handle_datagram(now, from, datagram, retiring) {
            Received::NotStun => return false,
            Received::Taken => {}
            // From the socket the request reached.
            Received::Answer(payload) => self.queue_datagram(rx.socket, from, payload),
            Received::Dropped(reason) => self.drops.add(reason),
        }
        true
    }

    /// Runs the STUN machine's timers at `now`.
    pub(super) fn stun_timers(&mut self, now: Instant) {
        // The peer table lists the members with a session in node ID order.
        let peers = &mut self.peers;
        let members = move || {
            // Moved, not reborrowed: the listing keeps the table borrowed.
            let peers = peers;
            // Members reached directly: a relayed member's endpoint has
            // not answered us, and a request there would reach its NAT
            // unasked (a stock Linux router would then move its member's
            // own flow toward us to another port: see hole punching).
            peers
                .with_session()
                .filter(move |p| p.connected(now) && p.relay_hop.is_none())
                .filter_map(|p| Some((p.id, p.endpoint?)))
        };
        let out = self.stun.handle_timeout(now, members, &mut self.rng);
        self.transmits.extend(out);
    }

    /// When the STUN timers next need the node; for the timer table.
    pub(super) fn stun_deadline(&self) -> Option<Instant> {
        self.stun.next_deadline(!self.peers.is_empty())
    }

    /// The latest answers to the node's own Binding requests, one per
    /// reflector, freshest first.
    pub fn stun_samples(&self) -> Vec<StunSample> {
        self.stun.samples()
    }

    /// Where reflectors see this node: distinct mapped addresses, freshest
    /// first.
    pub fn reflexive_addresses(&self) -> Vec<SocketAddr> {
        self.stun.reflexive_addresses()
    }

    /// What the samples say about the NAT in front of the node's socket.
    pub fn nat_mapping(&self) -> NatMapping {
        self.stun.nat_mapping()
    }

    /// The `nat` section of the status at `now`.
    pub(super) fn nat_status(&self, now: Instant) -> NatStatus {
        NatStatus::of(&self.stun, now)
    }
}
