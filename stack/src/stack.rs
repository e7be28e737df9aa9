//! [`Stack`]: the task that owns the smoltcp interface, the device and every
//! socket.
//!
//! One turn of [`Stack::run`]:
//! 1. take every queued command, and up to [`limits::INBOUND_BATCH`] packets
//!    from the node; each packet is checked ([`crate::inbound`]) and each SYN
//!    shown to its listener before it joins the device's inbound queue;
//!    each valid Destination Unreachable is kept for step 2;
//! 2. poll the interface; fail the connection attempts that those
//!    Destination Unreachable messages are about and that are still in
//!    SYN-SENT after the poll (a SYN-ACK that came first wins); then service
//!    the socket tables (bytes between pipes and socket buffers, connection
//!    attempts, accepts, datagrams, pings), polling again while servicing
//!    queued anything, for a few rounds at most;
//! 3. hand outbound packets to the node, as many as its channel takes;
//! 4. publish the counters;
//! 5. sleep until a command, a packet, a notification from a socket, room in
//!    the node's channel, or the earliest deadline: smoltcp's
//!    `poll_delay`, a connect timeout, a close linger, a ping timeout.
//!
//! While the node's channel is full and the outbound queue at its limit,
//! smoltcp's own deadline is ignored: nothing can be sent until the node
//! reads, and room in its channel wakes the task.

use std::collections::hash_map::RandomState;
use std::future;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::command::Command;
use crate::config::StackConfig;
use crate::device::Device;
use crate::icmp::Pings;
use crate::stats::StackStats;
use crate::unreachable::Unreachable;
use crate::{inbound, limits, tcp, udp};

/// Rounds of "service the sockets, poll the interface" in one turn.
const SERVICE_ROUNDS: usize = 4;

/// The stack task. Made by [`crate::new`]; run it with
/// `tokio::spawn(stack.run())`.
pub struct Stack {
    config: Arc<StackConfig>,
    clock: Clock,
    iface: Interface,
    device: Device,
    sockets: SocketSet<'static>,
    tcp: tcp::Table,
    udp: udp::Table,
    pings: Pings,
    /// Destination Unreachable messages to act on after the next poll: at
    /// most one turn's packets.
    unreachables: Vec<Unreachable>,
    stats: StackStats,
    io: Io,
}

/// The task's channels.
struct Io {
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    from_node: mpsc::Receiver<Vec<u8>>,
    from_node_open: bool,
    to_node: mpsc::Sender<Vec<u8>>,
    to_node_open: bool,
    /// Notified by sockets when they need the task.
    wake: Arc<Notify>,
    stats: watch::Sender<StackStats>,
}

/// The channels a [`Stack`] is made with.
pub(crate) struct Channels {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) from_node: mpsc::Receiver<Vec<u8>>,
    pub(crate) to_node: mpsc::Sender<Vec<u8>>,
    pub(crate) wake: Arc<Notify>,
    pub(crate) stats: watch::Sender<StackStats>,
}

impl Stack {
    pub(crate) fn new(config: Arc<StackConfig>, channels: Channels) -> Self {
        let seed = RandomState::new().hash_one(0u64);
        let clock = Clock::start();
        let mut device = Device::new(config.mtu, limits::OUTBOUND_BACKLOG);
        let mut iface_config = Config::new(HardwareAddress::Ip);
        iface_config.random_seed = seed;
        let mut iface = Interface::new(iface_config, &mut device, clock.to_smoltcp(clock.now()));
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::Ipv6(config.ipv6), 128))
                .expect("room for two addresses");
            addrs
                .push(IpCidr::new(IpAddress::Ipv4(config.ipv4), 32))
                .expect("room for two addresses");
        });
        // Every destination is reached through the node: the gateway is a
        // formality on an IP medium.
        iface
            .routes_mut()
            .add_default_ipv6_route(config.ipv6)
            .expect("room for two routes");
        iface
            .routes_mut()
            .add_default_ipv4_route(config.ipv4)
            .expect("room for two routes");
        Self {
            clock,
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            tcp: tcp::Table::new(seed, config.memory_limit),
            udp: udp::Table::new(seed >> 16),
            pings: Pings::new(seed >> 32),
            unreachables: Vec::new(),
            stats: StackStats::default(),
            io: Io {
                commands: channels.commands,
                commands_open: true,
                from_node: channels.from_node,
                from_node_open: true,
                to_node: channels.to_node,
                to_node_open: true,
                wake: channels.wake,
                stats: channels.stats,
            },
            config,
        }
    }

    /// Runs the stack until every [`crate::StackHandle`] and every socket is
    /// dropped; see the module doc for one turn of the loop.
    pub async fn run(mut self) {
        loop {
            let more = self.turn();
            if self.finished() {
                break;
            }
            if more {
                tokio::task::yield_now().await;
            } else {
                self.wait().await;
            }
        }
    }

    /// One turn; returns whether work remains that no event will announce.
    fn turn(&mut self) -> bool {
        let now = self.clock.now();
        self.take_commands(now);
        self.take_packets();
        let more = self.step(now);
        self.flush();
        self.publish();
        more
    }

    fn finished(&self) -> bool {
        !self.io.commands_open
            && self.tcp.connection_count() == 0
            && self.tcp.listening_count() == 0
            && self.udp.count() == 0
            && self.pings.count() == 0
    }

    fn take_commands(&mut self, now: Instant) {
        while self.io.commands_open {
            match self.io.commands.try_recv() {
                Ok(command) => self.handle_command(command, now),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.io.commands_open = false,
            }
        }
    }

    fn take_packets(&mut self) {
        for _ in 0..limits::INBOUND_BATCH {
            match self.io.from_node.try_recv() {
                Ok(packet) => self.handle_packet(packet),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.io.from_node_open = false;
                    break;
                }
            }
        }
    }

    fn handle_command(&mut self, command: Command, now: Instant) {
        let (config, sockets, wake) = (&self.config, &mut self.sockets, &self.io.wake);
        match command {
            Command::Connect {
                remote,
                buffers,
                reply,
            } => {
                let config = &config.with_buffers(buffers);
                self.tcp
                    .connect(&mut self.iface, sockets, config, now, remote, reply);
            }
            Command::Listen {
                port,
                buffers,
                reply,
            } => self.tcp.listen(sockets, config, wake, port, buffers, reply),
            Command::Bind { port, reply } => self.udp.bind(sockets, config, wake, port, reply),
            Command::Ping { request, reply } => {
                self.pings.start(sockets, config, now, request, reply);
            }
        }
    }

    fn handle_packet(&mut self, packet: Vec<u8>) {
        let accepted = match inbound::check(&packet, self.config.ipv4, self.config.ipv6) {
            Ok(accepted) => accepted,
            Err(reason) => return self.stats.record_drop(reason),
        };
        if let Some((port, source)) = accepted.syn {
            let admitted = self
                .tcp
                .admit_syn(port, source, &mut self.sockets, &self.config);
            if let Err(reason) = admitted {
                return self.stats.record_drop(reason);
            }
        }
        if let Some(unreachable) = accepted.unreachable {
            self.unreachables.push(unreachable);
        }
        self.stats.packets_in += 1;
        self.stats.bytes_in += packet.len() as u64;
        self.device.push_inbound(packet);
    }

    /// Fails the connection attempts that Destination Unreachable messages
    /// are about; counts the others.
    fn take_unreachables(&mut self) {
        for report in self.unreachables.drain(..) {
            if self.tcp.unreachable(&mut self.sockets, &report) {
                self.stats.unreachable_failed_connects += 1;
            } else {
                self.stats.unreachable_ignored += 1;
            }
        }
    }

    /// Polls the interface and services the sockets; returns whether work
    /// remains.
    fn step(&mut self, now: Instant) -> bool {
        let timestamp = self.clock.to_smoltcp(now);
        self.iface
            .poll(timestamp, &mut self.device, &mut self.sockets);
        self.tcp.end_turn();
        self.take_unreachables();
        for _ in 0..SERVICE_ROUNDS {
            let moved = self.service(now);
            if !moved || self.device.outbound_full() {
                // Nothing new for smoltcp, or no room to send it: room in
                // the node's channel will wake the task.
                return false;
            }
            self.iface
                .poll(timestamp, &mut self.device, &mut self.sockets);
        }
        true
    }

    fn service(&mut self, now: Instant) -> bool {
        let (config, sockets, wake) = (&self.config, &mut self.sockets, &self.io.wake);
        let mut moved = self.tcp.service(sockets, config, wake, now);
        moved |= self.udp.service(sockets, &mut self.stats);
        self.pings.service(sockets, config, now);
        moved
    }

    /// Hands outbound packets to the node while its channel has room.
    fn flush(&mut self) {
        while let Some(packet) = self.device.pop_outbound() {
            if !self.io.to_node_open {
                self.stats.dropped_outbound += 1;
                continue;
            }
            let len = packet.len() as u64;
            match self.io.to_node.try_send(packet) {
                Ok(()) => {
                    self.stats.packets_out += 1;
                    self.stats.bytes_out += len;
                }
                Err(TrySendError::Full(packet)) => {
                    self.device.unpop_outbound(packet);
                    break;
                }
                Err(TrySendError::Closed(_)) => {
                    self.io.to_node_open = false;
                    self.stats.dropped_outbound += 1;
                }
            }
        }
    }

    fn publish(&mut self) {
        self.stats.tcp_connections = self.tcp.connection_count();
        self.stats.tcp_listening = self.tcp.listening_count();
        self.stats.tcp_memory = self.tcp.memory_used();
        self.stats.udp_sockets = self.udp.count();
        self.stats.icmp_sockets = self.pings.count();
        let current = self.stats;
        self.io.stats.send_if_modified(|published| {
            let changed = *published != current;
            *published = current;
            changed
        });
    }

    /// The earliest time the task must wake without an event.
    fn deadline(&mut self) -> Option<Instant> {
        let now = self.clock.now();
        let mut deadline = self
            .tcp
            .deadline()
            .into_iter()
            .chain(self.pings.deadline())
            .min();
        if !self.device.outbound_full() {
            let timestamp = self.clock.to_smoltcp(now);
            if let Some(delay) = self.iface.poll_delay(timestamp, &self.sockets) {
                let at = now + delay.into();
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        deadline
    }

    /// Sleeps until something happens; handles that one event.
    async fn wait(&mut self) {
        let deadline = self.deadline();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => future::pending().await,
            }
        };
        let may_send = self.device.has_outbound() && self.io.to_node_open;
        let event = tokio::select! {
            biased;
            command = self.io.commands.recv(), if self.io.commands_open => Event::Command(command),
            packet = self.io.from_node.recv(), if self.io.from_node_open => Event::Packet(packet),
            // The permit is dropped at once: the room it shows is taken by
            // the next flush.
            permit = self.io.to_node.reserve(), if may_send => Event::Room(permit.is_ok()),
            () = self.io.wake.notified() => Event::Other,
            () = sleep => Event::Other,
        };
        match event {
            Event::Command(Some(command)) => self.handle_command(command, self.clock.now()),
            Event::Command(None) => self.io.commands_open = false,
            Event::Packet(Some(packet)) => self.handle_packet(packet),
            Event::Packet(None) => self.io.from_node_open = false,
            Event::Room(open) => self.io.to_node_open = open,
            Event::Other => {}
        }
    }
}

/// What ended a wait.
enum Event {
    /// A command, or `None` once every handle is dropped.
    Command(Option<Command>),
    /// A packet, or `None` once the node dropped its sender.
    Packet(Option<Vec<u8>>),
    /// Room in the node's channel (`true`), or the node stopped reading.
    Room(bool),
    /// A notification from a socket, or a deadline.
    Other,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("ipv6", &IpAddr::V6(self.config.ipv6))
            .field("ipv4", &IpAddr::V4(self.config.ipv4))
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
