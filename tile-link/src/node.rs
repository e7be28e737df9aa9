//! A whole tile as one sans-IO machine: the neighbour model with the file
//! update service (service 8) and change physics (service 9) bound to it.
//!
//! The host (the daemon, or a simulator) feeds link events and packets in
//! and carries [`Node::poll_transmit`] packets to the neighbours. Programs
//! reach the neighbour model through [`Node::tile_mut`]; the built-in
//! services are wired inside: their packets never leave as events, and
//! their outputs go out as service packets (file chunks at bulk priority,
//! behind MFM and ordinary service traffic).
//!
//! The node's notion of time is the `now` of the latest input.

use std::collections::VecDeque;
use std::time::Instant;

use crate::dir::Dir;
use crate::file::{FileConfig, FileEvent, FileService, PublishError, Store};
use crate::physics::{Announcement, Physics, PhysicsError, PhysicsEvent, Running};
use crate::tile::{Event, Priority, Tile, TileConfig, Transmit};
use crate::wire::Service;

/// How a node runs.
#[derive(Debug, Clone, Default)]
pub struct NodeConfig {
    /// The neighbour model's limits.
    pub tile: TileConfig,
    /// The file update service; its trusted keys also sign physics
    /// announcements.
    pub files: FileConfig,
    /// Seed of every random choice the node makes.
    pub seed: u64,
}

/// What a node reports to its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// For programs: MFM channel traffic, credit, other services' packets,
    /// neighbour presence.
    Tile(Event),
    /// From the file update service.
    File(FileEvent),
    /// Stop the running program and start the configured command on this
    /// file.
    Restart(Running),
}

/// Built-in service output the tile refused (a full queue or a neighbour
/// that just left); the transfer it belonged to times out and retries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// File service payloads refused by the tile.
    pub file_refused: u64,
    /// Physics payloads refused by the tile.
    pub physics_refused: u64,
}

/// One tile with its built-in services.
#[derive(Debug)]
pub struct Node<S: Store> {
    tile: Tile,
    files: FileService<S>,
    physics: Physics,
    events: VecDeque<NodeEvent>,
    counters: NodeCounters,
    now: Instant,
}

impl<S: Store> Node<S> {
    /// A node over `store`; its verified files are loaded.
    pub fn new(config: NodeConfig, store: S, now: Instant) -> Self {
        let mut tile = Tile::new(config.tile);
        // Fresh tile: nothing is bound yet.
        let _ = tile.bind(Service::FILE_UPDATE);
        let _ = tile.bind(Service::PHYSICS);
        let mut physics = Physics::new(config.files.trusted.clone());
        let files = FileService::new(config.files, store, config.seed, now);
        for (name, version, _) in files.files() {
            physics.handle_file(name.clone(), version);
        }
        let mut n = Self {
            tile,
            files,
            physics,
            events: VecDeque::new(),
            counters: NodeCounters::default(),
            now,
        };
        n.pump();
        n
    }

    /// Gives the store back (to restart a node on the same files).
    pub fn into_store(self) -> S
    where
        S: Clone,
    {
        self.files.store().clone()
    }

    /// The neighbour model.
    pub fn tile(&self) -> &Tile {
        &self.tile
    }

    /// The neighbour model, for programs' sends and bindings. Service 8 and
    /// 9 are bound by the node.
    pub fn tile_mut(&mut self) -> &mut Tile {
        &mut self.tile
    }

    /// The file update service.
    pub fn files(&self) -> &FileService<S> {
        &self.files
    }

    /// The physics machine.
    pub fn physics(&self) -> &Physics {
        &self.physics
    }

    /// The node's own counters.
    pub fn counters(&self) -> &NodeCounters {
        &self.counters
    }

    /// See [`Tile::handle_link_up`].
    pub fn handle_link_up(&mut self, now: Instant, dir: Dir) {
        self.now = now;
        self.tile.handle_link_up(dir);
        self.pump();
    }

    /// See [`Tile::handle_link_down`].
    pub fn handle_link_down(&mut self, now: Instant, dir: Dir) {
        self.now = now;
        self.tile.handle_link_down(dir);
        self.pump();
    }

    /// See [`Tile::handle_link_credit`].
    pub fn handle_link_credit(&mut self, dir: Dir, packets: u32) {
        self.tile.handle_link_credit(dir, packets);
    }

    /// See [`Tile::handle_packet`].
    pub fn handle_packet(&mut self, now: Instant, dir: Dir, bytes: &[u8]) {
        self.now = now;
        self.tile.handle_packet(dir, bytes);
        self.pump();
    }

    /// Call when [`Node::poll_timeout`] is reached (or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.files.handle_timeout(now);
        self.pump();
    }

    /// When [`Node::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.files.poll_timeout()
    }

    /// Publishes a signed file from this tile.
    ///
    /// # Errors
    /// As [`FileService::publish`].
    pub fn publish(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        let r = self.files.publish(bytes).map(|_| ());
        self.pump();
        r
    }

    /// Announces which file to run, from this tile.
    ///
    /// # Errors
    /// As [`Physics::announce`].
    pub fn announce(&mut self, a: Announcement) -> Result<(), PhysicsError> {
        let r = self.physics.announce(a);
        self.pump();
        r
    }

    /// The next packet for a link.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pump();
        self.tile.poll_transmit()
    }

    /// The next event for the host or its programs.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.pump();
        self.events.pop_front()
    }

    /// Moves outputs between the tile and the built-in services until
    /// nothing moves.
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(e) = self.tile.poll_event() {
                moved = true;
                match e {
                    Event::Service {
                        service: Service::FILE_UPDATE,
                        dir,
                        payload,
                    } => self.files.handle_message(now, dir, &payload),
                    Event::Service {
                        service: Service::PHYSICS,
                        dir,
                        payload,
                    } => self.physics.handle_message(dir, &payload),
                    Event::Neighbour { dir, present } => {
                        self.files.handle_neighbour(now, dir, present);
                        self.physics.handle_neighbour(dir, present);
                        self.events.push_back(NodeEvent::Tile(e));
                    }
                    other => self.events.push_back(NodeEvent::Tile(other)),
                }
            }
            while let Some(o) = self.files.poll_transmit() {
                moved = true;
                let r = self
                    .tile
                    .send_service(o.dir, Service::FILE_UPDATE, &o.payload, o.priority);
                if r.is_err() {
                    self.counters.file_refused += 1;
                }
            }
            while let Some(e) = self.files.poll_event() {
                moved = true;
                if let FileEvent::Committed { name, version, .. } = &e {
                    self.physics.handle_file(name.clone(), *version);
                }
                self.events.push_back(NodeEvent::File(e));
            }
            while let Some((dir, payload)) = self.physics.poll_transmit() {
                moved = true;
                let r = self
                    .tile
                    .send_service(dir, Service::PHYSICS, &payload, Priority::Normal);
                if r.is_err() {
                    self.counters.physics_refused += 1;
                }
            }
            while let Some(PhysicsEvent::Restart(r)) = self.physics.poll_event() {
                moved = true;
                self.events.push_back(NodeEvent::Restart(r));
            }
            if !moved {
                return;
            }
        }
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::dir::ALL;
    use crate::file::MemStore;
    use crate::wire::{self, Kind};

    proptest! {
        /// Arbitrary packets from every direction: the node never panics,
        /// never hands malformed bytes to the MFM channel, and every
        /// received packet is delivered or counted as dropped.
        #[test]
        fn arbitrary_packets_are_delivered_or_counted(
            packets in proptest::collection::vec(
                (0u8..8, proptest::collection::vec(any::<u8>(), 0..40)),
                0..60,
            ),
        ) {
            let now = Instant::now();
            let mut node = Node::new(NodeConfig::default(), MemStore::new(), now);
            node.tile_mut().open_mfm().unwrap();
            for d in ALL {
                node.handle_link_up(now, d);
                node.handle_link_credit(d, 64);
            }
            for (d, mut p) in packets {
                // Steer some towards the built-in services' headers.
                if p.len() > 2 && p[0] & 1 == 0 {
                    p[0] = 0x80;
                    p[1] = 8 + (p[1] & 1);
                }
                node.handle_packet(now, Dir::from_bits(d), &p);
            }
            node.handle_timeout(now + Duration::from_secs(60));
            while node.poll_transmit().is_some() {}
            while let Some(e) = node.poll_event() {
                if let NodeEvent::Tile(Event::Mfm { packet, .. }) = e {
                    prop_assert!(matches!(
                        wire::classify(&packet),
                        Ok(Kind::Mfm | Kind::Local(_))
                    ));
                }
            }
            for d in ALL {
                let c = node.tile().counters(d);
                let passed = c.rx_mfm + c.rx_service + c.rx_local.iter().sum::<u64>();
                prop_assert_eq!(c.rx_packets, passed + c.rx_dropped());
            }
        }
    }
}
