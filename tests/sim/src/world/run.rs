//! Running the world: the event loop, and every call into a node (inputs,
//! then draining its transmits and events, then scheduling its wakeup).

use std::net::SocketAddr;
use std::time::Duration;

use tessel_overlay::node::{Action, Event as NodeEvent};

use super::World;
use crate::ids::{HostId, NatId};
use crate::stats::NetDrop;
use crate::time::SimTime;
use crate::traffic::{PacketId, Violation};

/// Wakeups in a row at one instant after which a node counts as livelocked.
const MAX_SPINS: u32 = 1000;
/// How long [`World::ping`] waits for delivery.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a datagram arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hop {
    /// At a host's socket.
    Host(HostId),
    /// At a NAT, from its LAN.
    NatInside(NatId),
    /// At a NAT, from its parent network.
    NatOutside(NatId),
}

/// A datagram on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    /// The host that sent it (for partitions and cuts).
    pub(crate) origin: HostId,
    pub(crate) payload: Vec<u8>,
}

/// Something that happens at an instant.
#[derive(Debug)]
pub(crate) enum Event {
    /// A node's deadline (stale unless `gen` is the host's current one).
    Wake { host: HostId, gen: u64 },
    /// A datagram arrives somewhere.
    Arrive { at: Hop, datagram: Datagram },
}

impl World {
    /// Runs every event up to and including `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: SimTime) {
        while let Some(at) = self.queue.peek_time() {
            if at > t {
                break;
            }
            let (at, event) = self.queue.pop().expect("peeked");
            self.now = at;
            self.stats.events += 1;
            self.digest.time(at);
            match &event {
                Event::Wake { host, .. } => self.digest.number(u64::from(host.0)),
                Event::Arrive { at, datagram } => {
                    let (kind, i) = match at {
                        Hop::Host(h) => (1u64, h.0),
                        Hop::NatInside(n) => (2, n.0),
                        Hop::NatOutside(n) => (3, n.0),
                    };
                    self.digest.number(kind << 32 | u64::from(i));
                    self.digest.addr(datagram.src);
                    self.digest.addr(datagram.dst);
                    self.digest.bytes(&datagram.payload);
                }
            }
            match event {
                Event::Wake { host, gen } => self.wake(host, gen),
                Event::Arrive { at, datagram } => self.arrive(at, datagram),
            }
        }
        self.now = self.now.max(t);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Runs until `done` holds (checked every `step`) or `limit` has passed;
    /// returns when it first held.
    pub fn run_until_true(
        &mut self,
        limit: Duration,
        step: Duration,
        mut done: impl FnMut(&World) -> bool,
    ) -> Option<SimTime> {
        let deadline = self.now + limit;
        loop {
            if done(self) {
                return Some(self.now);
            }
            if self.now >= deadline {
                return None;
            }
            let next = (self.now + step).min(deadline);
            self.run_until(next);
        }
    }

    /// An app on `from` sends an app packet of `len` bytes to `to`'s overlay
    /// IPv6 address. Returns its ID, or `None` if `from` is down.
    pub fn send_app(&mut self, from: HostId, to: HostId, len: usize) -> Option<PacketId> {
        if !self.hosts[from.index()].is_up() {
            return None;
        }
        let (src, dst) = (self.ipv6(from), self.ipv6(to));
        let (id, packet) =
            self.ledger
                .create(self.now, (from, src), (to, dst), len, &mut self.traffic_rng);
        let instant = self.instant(self.now);
        let _span = tracing::debug_span!("node", h = from.0, t_ms = self.now.as_millis()).entered();
        let host = &mut self.hosts[from.index()];
        let node = host.node.as_mut().expect("checked up");
        let drops = node.drops().total();
        let action = node.handle_tun_packet(instant, &packet, &mut self.scratch);
        match action {
            Action::Send { to, len } => {
                let payload = self.scratch[..len].to_vec();
                self.send_from(from, to, payload, true);
            }
            Action::SendAux { socket, to, len } => {
                let payload = self.scratch[..len].to_vec();
                self.send_from_socket(from, socket, to, payload, true);
            }
            Action::None => {
                if node.drops().total() == drops {
                    host.queued_app(packet.len());
                }
            }
            // The node answered the app itself (an ICMP error): nothing
            // goes on the wire.
            Action::Deliver { .. } => {}
        }
        self.after_input(from);
        Some(id)
    }

    /// Sends an app packet from `a` to `b` and runs until it is delivered
    /// (or two seconds pass); returns whether it was.
    pub fn ping(&mut self, a: HostId, b: HostId) -> bool {
        let Some(id) = self.send_app(a, b, 100) else {
            return false;
        };
        self.run_until_true(PING_TIMEOUT, Duration::from_millis(5), |w| {
            w.ledger.delivered_at(id).is_some()
        })
        .is_some()
    }

    /// Wakes a node whose deadline may have come.
    fn wake(&mut self, h: HostId, gen: u64) {
        let now = self.now;
        let instant = self.instant(now);
        let host = &mut self.hosts[h.index()];
        if host.wake_gen != gen {
            return;
        }
        host.wake = None;
        let Some(node) = host.node.as_mut() else {
            return;
        };
        if node.poll_timeout().is_some_and(|t| t <= instant) {
            let _span = tracing::debug_span!("node", h = h.0, t_ms = now.as_millis()).entered();
            node.handle_timeout(instant);
            self.stats.timeouts += 1;
            let due_again = node.poll_timeout().is_some_and(|t| t <= instant);
            host.spins = if due_again { host.spins + 1 } else { 0 };
        }
        self.after_input(h);
    }

    /// A datagram reaches the socket of host `h`.
    pub(super) fn deliver_to_host(&mut self, h: HostId, d: Datagram) {
        let Some(socket) = self.socket_at(h, d.dst) else {
            return self.lose(NetDrop::Moved, &d);
        };
        let host = &self.hosts[h.index()];
        let origin_group = self.hosts[d.origin.index()].group;
        if origin_group != host.group {
            return self.lose(NetDrop::Partition, &d);
        }
        if !self.cuts.is_empty() && self.cuts.contains(&ordered(h, d.origin)) {
            return self.lose(NetDrop::Cut, &d);
        }
        let now = self.now;
        let instant = self.instant(now);
        let host = &mut self.hosts[h.index()];
        let Some(node) = host.node.as_mut() else {
            return self.lose(NetDrop::HostDown, &d);
        };
        self.stats.datagrams_in += 1;
        tracing::trace!(t_ms = now.as_millis(), host = %h, src = %d.src, dst = %d.dst, origin = %d.origin, len = d.payload.len(), "datagram in");
        let _span = tracing::debug_span!("node", h = h.0, t_ms = now.as_millis()).entered();
        let action = if socket == 0 {
            node.handle_datagram(instant, d.src, &d.payload, &mut self.scratch)
        } else {
            node.handle_aux_datagram(instant, socket, d.src, &d.payload, &mut self.scratch)
        };
        match action {
            Action::None => {}
            Action::Send { to, len } => {
                let payload = self.scratch[..len].to_vec();
                self.send_from(h, to, payload, false);
            }
            Action::SendAux { socket, to, len } => {
                let payload = self.scratch[..len].to_vec();
                self.send_from_socket(h, socket, to, payload, false);
            }
            Action::Deliver { range } => {
                let hosts = &self.hosts;
                self.ledger
                    .deliver(now, h, &self.scratch[range], |x| hosts[x.index()].ipv6);
            }
        }
        self.after_input(h);
    }

    /// After any input: sends what the node queued, handles its events and
    /// schedules its next wakeup.
    pub(super) fn after_input(&mut self, h: HostId) {
        while let Some(t) = self.hosts[h.index()]
            .node
            .as_mut()
            .and_then(|n| n.poll_transmit())
        {
            let host = &mut self.hosts[h.index()];
            let app = t.payload.first() == Some(&3) && host.take_pending_app(t.payload.len());
            self.send_from(h, t.to, t.payload, app);
        }
        let host = &mut self.hosts[h.index()];
        let Some(node) = host.node.as_mut() else {
            return;
        };
        let mut sockets = Vec::new();
        while let Some(event) = node.poll_event() {
            match event {
                NodeEvent::Connected(_) => self.stats.sessions += 1,
                // The daemon writes peers.json whenever members change.
                NodeEvent::MembersChanged => host.state_dir = node.known_members(),
                NodeEvent::OpenAuxSockets(ids) => sockets.push((true, ids)),
                NodeEvent::CloseAuxSockets(ids) => sockets.push((false, ids)),
                _ => {}
            }
        }
        for (open, ids) in sockets {
            if open {
                self.open_aux(h, &ids);
            } else {
                self.close_aux(h, &ids);
            }
        }
        // After the events: they may have opened the sockets these use.
        while let Some(t) = self.hosts[h.index()]
            .node
            .as_mut()
            .and_then(|n| n.poll_aux_transmit())
        {
            self.send_from_socket(h, t.socket, t.to, t.payload, false);
        }
        self.schedule_wake(h);
    }

    /// Makes sure a wakeup is queued no later than the node's deadline.
    fn schedule_wake(&mut self, h: HostId) {
        let now = self.now;
        let base = self.base;
        let host = &mut self.hosts[h.index()];
        let Some(deadline) = host.node.as_ref().and_then(|n| n.poll_timeout()) else {
            return;
        };
        let mut at = SimTime::from_duration(deadline.saturating_duration_since(base)).max(now);
        if host.spins >= MAX_SPINS {
            if host.spins == MAX_SPINS {
                self.ledger.violation(Violation::TimerLivelock {
                    at: now,
                    host: h,
                    count: MAX_SPINS,
                });
            }
            at = now + Duration::from_millis(1);
        }
        if host.wake.is_some_and(|w| w <= at) {
            return;
        }
        host.wake_gen += 1;
        host.wake = Some(at);
        let gen = host.wake_gen;
        self.queue.push(at, Event::Wake { host: h, gen });
    }
}

/// A pair of hosts in a canonical order.
pub(super) fn ordered(a: HostId, b: HostId) -> (HostId, HostId) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}
