//! What happens on one host when an event reaches it: the checks at its
//! socket, the node's input, draining the node's output, and scheduling its
//! next wakeup.
//!
//! This part reads and changes only the host itself. Whatever it does to the
//! rest of the world (datagrams sent, app packets delivered, counters,
//! wakeups to queue) comes out as a list of [`Effect`]s, which the event loop
//! applies in event order ([`World::apply`]). So the hosts of one lookahead
//! window can run their steps on several threads (`window.rs`) and the run is
//! still the same, event for event, whatever the number of threads.
//!
//! Keep it that way: a step must not read another host or world state that
//! changes during a run (only what changes between runs, at barriers, such
//! as a host's address, links, partitions and cuts), and every change to the
//! world must be an effect.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tessel_overlay::node::{Action, Event as NodeEvent};
use tessel_overlay::wire::MessageType;

use super::run::{Datagram, DEFAULT_TTL};
use super::World;
use crate::host::Host;
use crate::ids::HostId;
use crate::stats::NetDrop;
use crate::time::SimTime;
use crate::traffic::Violation;

/// Wakeups in a row at one instant after which a node counts as livelocked.
const MAX_SPINS: u32 = 1000;

/// A change to the world outside the host, made by a host's step.
#[derive(Debug)]
pub(crate) enum Effect {
    /// The host sends a datagram from one of its sockets (`app`: it
    /// carries an app packet).
    Send {
        /// The socket's address.
        src: SocketAddr,
        /// Destination.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
        /// Whether it carries an app packet.
        app: bool,
        /// The IP TTL it leaves with.
        ttl: u8,
    },
    /// The datagram that arrived is lost at the host.
    Lose {
        /// Why.
        why: NetDrop,
        /// The datagram's source, destination, sender and length (for the trace).
        src: SocketAddr,
        /// See `src`.
        dst: SocketAddr,
        /// See `src`.
        origin: HostId,
        /// See `src`.
        len: usize,
    },
    /// An extra socket of the host's node opened (`bound`) or closed at
    /// this address.
    Bind {
        /// The socket's address.
        addr: SocketAddr,
        /// Whether it opened.
        bound: bool,
    },
    /// The node gave an app packet to its host's app.
    Deliver(Vec<u8>),
    /// A wakeup of the host's node to queue.
    Wake {
        /// When.
        at: SimTime,
        /// Its generation (older ones are stale).
        gen: u64,
    },
    /// A broken promise found at the host.
    Violation(Violation),
    /// `handle_timeout` ran.
    CountTimeout,
    /// A datagram reached the node.
    CountDatagramIn,
    /// The node established a session.
    CountSession,
}

/// What reaches a host.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input<'a> {
    /// Its node's wakeup of generation `gen`.
    Wake {
        /// See [`Effect::Wake`].
        gen: u64,
    },
    /// A datagram at its socket; `verdict` is what partitions and cuts say
    /// of it (`None`: it may pass).
    Datagram {
        /// The datagram.
        d: &'a Datagram,
        /// Why the network drops it, if it does.
        verdict: Option<NetDrop>,
    },
}

/// One host's step at one instant. See the module documentation.
pub(crate) struct Step<'a> {
    /// The host.
    pub(crate) h: HostId,
    /// Its state.
    pub(crate) host: &'a mut Host,
    /// The current virtual time.
    pub(crate) now: SimTime,
    /// The instant of virtual time zero.
    pub(crate) base: Instant,
    /// The node's output buffer.
    pub(crate) scratch: &'a mut [u8],
    /// Where effects go, in order.
    pub(crate) out: &'a mut Vec<Effect>,
}

impl Step<'_> {
    fn instant(&self) -> Instant {
        self.base + self.now.since_start()
    }

    /// Runs one input.
    pub(crate) fn run(&mut self, input: Input<'_>) {
        match input {
            Input::Wake { gen } => self.wake(gen),
            Input::Datagram { d, verdict } => self.datagram(d, verdict),
        }
    }

    /// Wakes the node, if `gen` is its current wakeup and its deadline came.
    fn wake(&mut self, gen: u64) {
        let instant = self.instant();
        let host = &mut *self.host;
        if host.wake_gen != gen {
            return;
        }
        host.wake = None;
        let Some(node) = host.node.as_mut() else {
            return;
        };
        if node.poll_timeout().is_some_and(|t| t <= instant) {
            let _span =
                tracing::debug_span!("node", h = self.h.0, t_ms = self.now.as_millis()).entered();
            node.handle_timeout(instant);
            self.out.push(Effect::CountTimeout);
            let due_again = node.poll_timeout().is_some_and(|t| t <= instant);
            host.spins = if due_again { host.spins + 1 } else { 0 };
        }
        self.after_input();
    }

    fn lose(&mut self, why: NetDrop, d: &Datagram) {
        self.out.push(Effect::Lose {
            why,
            src: d.src,
            dst: d.dst,
            origin: d.origin,
            len: d.payload.len(),
        });
    }

    /// A datagram reaches the host's socket.
    fn datagram(&mut self, d: &Datagram, verdict: Option<NetDrop>) {
        let Some(socket) = self.host.socket_at(d.dst) else {
            return self.lose(NetDrop::Moved, d);
        };
        if let Some(why) = verdict {
            return self.lose(why, d);
        }
        if self.host.node.is_none() {
            return self.lose(NetDrop::HostDown, d);
        }
        let instant = self.instant();
        let (h, now) = (self.h, self.now);
        let node = self.host.node.as_mut().expect("checked up");
        self.out.push(Effect::CountDatagramIn);
        tracing::trace!(t_ms = now.as_millis(), host = %h, src = %d.src, dst = %d.dst, origin = %d.origin, len = d.payload.len(), "datagram in");
        let _span = tracing::debug_span!("node", h = h.0, t_ms = now.as_millis()).entered();
        let action = if socket == 0 {
            node.handle_datagram(instant, d.src, &d.payload, self.scratch)
        } else {
            node.handle_extra_datagram(instant, socket, d.src, &d.payload, self.scratch)
        };
        match action {
            Action::None => {}
            Action::Send { to, len } => self.out.push(Effect::Send {
                src: self.host.addr,
                to,
                payload: self.scratch[..len].to_vec(),
                app: false,
                ttl: DEFAULT_TTL,
            }),
            Action::SendExtra { socket, to, len } => self.out.push(Effect::Send {
                src: self.host.socket_addr(socket),
                to,
                payload: self.scratch[..len].to_vec(),
                app: false,
                ttl: DEFAULT_TTL,
            }),
            Action::Deliver { range } => {
                self.out.push(Effect::Deliver(self.scratch[range].to_vec()));
            }
        }
        self.after_input();
    }

    /// After any input: sends what the node queued, handles its events and
    /// schedules its next wakeup.
    pub(crate) fn after_input(&mut self) {
        let host = &mut *self.host;
        // Datagrams from extra sockets wait for the events, which may open
        // those sockets.
        let mut extra = Vec::new();
        while let Some(t) = host.node.as_mut().and_then(|n| n.poll_transmit()) {
            if !t.from_main() {
                extra.push(t);
                continue;
            }
            let app = t.payload.first() == Some(&u8::from(MessageType::Data))
                && host.take_pending_app(t.payload.len());
            self.out.push(Effect::Send {
                src: host.addr,
                to: t.to,
                payload: t.payload,
                app,
                ttl: t.ttl.unwrap_or(DEFAULT_TTL),
            });
        }
        let Some(node) = host.node.as_mut() else {
            return;
        };
        let mut sockets = Vec::new();
        while let Some(event) = node.poll_event() {
            match event {
                NodeEvent::Connected(_) => self.out.push(Effect::CountSession),
                // The daemon writes peers.json whenever members change.
                NodeEvent::MembersChanged => host.state_dir = node.known_members(),
                NodeEvent::OpenExtraSockets(ids) => sockets.push((true, ids)),
                NodeEvent::CloseExtraSockets(ids) => sockets.push((false, ids)),
                _ => {}
            }
        }
        for (open, ids) in sockets {
            let addrs = if open {
                host.open_extra(&ids)
            } else {
                host.close_extra(&ids)
            };
            self.out.extend(
                addrs
                    .into_iter()
                    .map(|addr| Effect::Bind { addr, bound: open }),
            );
        }
        // After the events: they may have opened the sockets these use.
        for t in extra {
            self.out.push(Effect::Send {
                src: host.socket_addr(t.socket),
                to: t.to,
                payload: t.payload,
                app: false,
                ttl: t.ttl.unwrap_or(DEFAULT_TTL),
            });
        }
        self.schedule_wake();
    }

    /// Makes sure a wakeup is queued no later than the node's deadline.
    fn schedule_wake(&mut self) {
        let now = self.now;
        let base = self.base;
        let host = &mut *self.host;
        let Some(deadline) = host.node.as_mut().and_then(|n| n.poll_timeout()) else {
            return;
        };
        let mut at = SimTime::from_duration(deadline.saturating_duration_since(base)).max(now);
        if host.spins >= MAX_SPINS {
            if host.spins == MAX_SPINS {
                self.out.push(Effect::Violation(Violation::TimerLivelock {
                    at: now,
                    host: self.h,
                    count: MAX_SPINS,
                }));
            }
            at = now + Duration::from_millis(1);
        }
        if host.wake.is_some_and(|w| w <= at) {
            return;
        }
        host.wake_gen += 1;
        host.wake = Some(at);
        self.out.push(Effect::Wake {
            at,
            gen: host.wake_gen,
        });
    }
}

impl World {
    /// What partitions and cuts say of datagram `d` at host `h`.
    pub(super) fn verdict(&self, h: HostId, d: &Datagram) -> Option<NetDrop> {
        if self.hosts[d.origin.index()].group != self.hosts[h.index()].group {
            return Some(NetDrop::Partition);
        }
        if !self.cuts.is_empty() && self.cuts.contains(&super::run::ordered(h, d.origin)) {
            return Some(NetDrop::Cut);
        }
        None
    }

    /// Runs host `h`'s step for `input` now and applies its effects.
    pub(super) fn step_now(&mut self, h: HostId, input: Input<'_>) {
        let mut out = std::mem::take(&mut self.effects);
        let mut step = Step {
            h,
            host: &mut self.hosts[h.index()],
            now: self.now,
            base: self.base,
            scratch: &mut self.scratch,
            out: &mut out,
        };
        step.run(input);
        self.apply(h, out.drain(..));
        self.effects = out;
    }

    /// After any input that did not go through a step (a start, an app
    /// packet): drains the node and schedules its wakeup.
    pub(super) fn after_input(&mut self, h: HostId) {
        let mut out = std::mem::take(&mut self.effects);
        Step {
            h,
            host: &mut self.hosts[h.index()],
            now: self.now,
            base: self.base,
            scratch: &mut self.scratch,
            out: &mut out,
        }
        .after_input();
        self.apply(h, out.drain(..));
        self.effects = out;
    }

    /// Applies the effects of a step of host `h`, in order.
    pub(super) fn apply(&mut self, h: HostId, effects: impl Iterator<Item = Effect>) {
        for effect in effects {
            match effect {
                Effect::Send {
                    src,
                    to,
                    payload,
                    app,
                    ttl,
                } => self.send_from_addr(h, src, to, payload, app, ttl),
                Effect::Bind { addr, bound } => {
                    if bound {
                        self.hosts_by_addr.insert(addr, h);
                    } else {
                        self.hosts_by_addr.remove(&addr);
                    }
                }
                Effect::Lose {
                    why,
                    src,
                    dst,
                    origin,
                    len,
                } => {
                    tracing::trace!(t_ms = self.now.as_millis(), ?why, %src, %dst, %origin, len, "network drop");
                    self.stats.drop(why);
                }
                Effect::Deliver(packet) => {
                    let hosts = &self.hosts;
                    self.ledger
                        .deliver(self.now, h, &packet, |x| hosts[x.index()].ipv6);
                }
                Effect::Wake { at, gen } => {
                    self.queue.push(at, super::Event::Wake { host: h, gen })
                }
                Effect::Violation(v) => self.ledger.violation(v),
                Effect::CountTimeout => self.stats.timeouts += 1,
                Effect::CountDatagramIn => self.stats.datagrams_in += 1,
                Effect::CountSession => self.stats.sessions += 1,
            }
        }
    }
}
