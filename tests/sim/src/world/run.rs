//! Running the world: the event loop, and the inputs that scenarios and
//! agents give nodes (app packets). What an event does at a host is its
//! step (`host_step.rs`); the hosts' steps of one lookahead window may run
//! ahead on several threads (`window.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use tessel_overlay::node::Action;

use super::host_step::{Effect, Input};
use super::World;
use crate::ids::{HostId, NatId};
use crate::time::SimTime;
use crate::traffic::PacketId;

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
    /// The payload's digest, computed once when it was sent: every hop
    /// folds it into the run's digest.
    pub(crate) payload_digest: u64,
    /// IP TTL left (hosts send 64 unless the node asks for less).
    pub(crate) ttl: u8,
}

/// The IP TTL a host's datagrams leave with, unless the node asks for less.
pub(crate) const DEFAULT_TTL: u8 = 64;

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
        // Links change only between runs.
        let lookahead = self.min_latency();
        while let Some(at) = self.queue.peek_time() {
            if at > t {
                break;
            }
            if self.ahead.as_ref().is_none_or(|a| !a.covers(at)) {
                self.start_window(at, t, lookahead);
            }
            let (at, event) = self.queue.pop().expect("peeked");
            self.now = at;
            crate::time::set_log_clock(at);
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
                    self.digest.number(datagram.payload_digest);
                }
            }
            match event {
                Event::Wake { host, gen } => self.host_event(host, Input::Wake { gen }),
                Event::Arrive {
                    at: Hop::Host(h),
                    datagram,
                } => {
                    let verdict = self.verdict(h, &datagram);
                    self.host_event(
                        h,
                        Input::Datagram {
                            d: &datagram,
                            verdict,
                        },
                    );
                }
                Event::Arrive { at, datagram } => self.arrive(at, datagram),
            }
        }
        self.now = self.now.max(t);
        // Inputs between runs (app packets, starts) run now.
        self.end_window();
    }

    /// An event at host `h`: its step, run now or ahead.
    fn host_event(&mut self, h: HostId, input: Input<'_>) {
        match self.ahead.as_mut().filter(|a| a.covers(self.now)) {
            Some(ahead) => {
                let mut out: Vec<Effect> = std::mem::take(&mut self.effects);
                ahead.take(h, self.now, &mut out);
                self.apply(h, out.drain(..));
                self.effects = out;
            }
            None => self.step_now(h, input),
        }
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
            Action::SendExtra { socket, to, len } => {
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

    /// Like [`World::ping`], with up to `tries` packets one after the other
    /// (as `ping -c` does), for links that lose some: whether one got
    /// through.
    pub fn ping_tries(&mut self, a: HostId, b: HostId, tries: u32) -> bool {
        (0..tries).any(|_| self.ping(a, b))
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
