//! The neighbour model: one tile's view of its up to eight neighbours, as a
//! sans-IO machine.
//!
//! Inputs from the host (the daemon, which carries each direction over an
//! overlay session): [`Tile::handle_link_up`], [`Tile::handle_link_down`],
//! [`Tile::handle_link_credit`] (the link can take more packets),
//! [`Tile::handle_packet`] (a packet arrived) and
//! [`Tile::handle_rx_overrun`]. Inputs from programs: [`Tile::open_mfm`],
//! [`Tile::send_mfm`], [`Tile::bind`], [`Tile::send_service`].
//!
//! Outputs: [`Tile::poll_transmit`] (packets for the links, strictly MFM
//! first, then service packets, then bulk file traffic, round robin over
//! directions) and [`Tile::poll_event`] (what programs receive). After any
//! input, drain both until they return `None`.
//!
//! Rules:
//! - A direction is present or absent; link up and down flip it, and each
//!   flip becomes a Tile Event Packet on the MFM channel (`0xc4 0x01`
//!   connect, `0xc4 0x02` disconnect) and an [`Event::Neighbour`].
//! - Received packets are demultiplexed: MFM packets (MFMT=1) and standard
//!   local packets other than the TEP go to the MFM channel with their
//!   direction (local ones counted by type); service packets go to their
//!   bound service; a TEP from a link, or anything malformed, is dropped
//!   and counted ([`Counters`]). A received MFM packet's DIR is rewritten to
//!   the direction it arrived from; OVRN or EROR set on the wire is a
//!   malformed packet, and the tile itself sets OVRN (or EROR) on the next
//!   MFM packet from a direction after an overrun (or a dropped packet)
//!   there.
//! - The MFM program sends only with credit, granted per direction
//!   ([`Event::MfmCredit`]) from that direction's queue space, so a slow
//!   neighbour holds back only its own direction. A send without credit is
//!   refused with an error, never silently dropped. A disconnect voids the
//!   direction's credit; the queue is discarded and counted, and the TEP
//!   tells the program.

mod counters;
pub mod program;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

pub use counters::Counters;
pub use program::{Program, Role};

use crate::channel::{Frame, Refusal};
use crate::dir::{Dir, ALL};
use crate::wire::{self, local, routed, service, tep, Kind, Service, WireError};

/// Limits of one tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileConfig {
    /// MFM packets that may wait per direction: the credit window.
    pub mfm_window: u16,
    /// Service packets of normal priority that may wait per direction.
    pub service_queue: usize,
    /// Bulk (file) packets that may wait per direction.
    pub bulk_queue: usize,
}

impl Default for TileConfig {
    fn default() -> Self {
        Self {
            mfm_window: 16,
            service_queue: 64,
            bulk_queue: 512,
        }
    }
}

/// How urgently a service packet should go out. MFM traffic always comes
/// before both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Ordinary service traffic.
    Normal,
    /// Background transfers (the file update service): yields to everything.
    Bulk,
}

/// A packet for the link to the neighbour in `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The direction.
    pub dir: Dir,
    /// The whole packet.
    pub packet: Vec<u8>,
}

/// What programs on the tile receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// For the MFM channel: a packet (MFM, TEP or another local type) and
    /// the direction it concerns.
    Mfm {
        /// Where it came from.
        dir: Dir,
        /// The whole packet.
        packet: Vec<u8>,
    },
    /// For the MFM channel: `grant` more packets may be sent in `dir`.
    MfmCredit {
        /// The direction.
        dir: Dir,
        /// Added credit.
        grant: u16,
    },
    /// For the program bound to `service`.
    Service {
        /// The service.
        service: Service,
        /// Where it came from.
        dir: Dir,
        /// The payload after the two header bytes.
        payload: Vec<u8>,
    },
    /// For service programs: a neighbour came or went.
    Neighbour {
        /// The direction.
        dir: Dir,
        /// Whether it is present now.
        present: bool,
    },
}

impl Event {
    /// The local channel frame that carries this event to its program.
    pub fn frame(&self) -> Frame<'_> {
        match self {
            Self::Mfm { dir, packet } => Frame::Packet { dir: *dir, packet },
            Self::MfmCredit { dir, grant } => Frame::Credit {
                dir: *dir,
                grant: *grant,
            },
            Self::Service {
                service,
                dir,
                payload,
            } => Frame::Service {
                dir: *dir,
                service: *service,
                payload,
            },
            Self::Neighbour { dir, present } => Frame::Neighbour {
                dir: *dir,
                present: *present,
            },
        }
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No credit left in the direction.
    #[error("no credit toward {0}")]
    NoCredit(Dir),
    /// No neighbour in the direction.
    #[error("no neighbour toward {0}")]
    Absent(Dir),
    /// The packet breaks a format rule.
    #[error("invalid packet: {0}")]
    Invalid(&'static str),
    /// The packet does not parse.
    #[error("invalid packet: {0}")]
    Wire(#[from] WireError),
    /// The direction's queue for this priority is full.
    #[error("queue toward {0} is full")]
    QueueFull(Dir),
    /// The MFM channel is not open, or the service not bound.
    #[error("not open or not bound")]
    NotOpen,
    /// The service or MFM channel is already held.
    #[error("already taken")]
    Taken,
}

impl SendError {
    /// The refusal reported on the local channel.
    pub fn refusal(&self) -> Refusal {
        match self {
            Self::NoCredit(_) => Refusal::NoCredit,
            Self::Absent(_) => Refusal::Absent,
            Self::Invalid(_) | Self::Wire(_) => Refusal::InvalidPacket,
            Self::QueueFull(_) => Refusal::QueueFull,
            Self::NotOpen => Refusal::NotAllowed,
            Self::Taken => Refusal::Taken,
        }
    }
}

#[derive(Debug, Default)]
struct DirState {
    present: bool,
    /// Packets the link can take now.
    link_credit: u32,
    /// MFM credit granted to the program and not yet spent.
    credit: u32,
    mfm: VecDeque<Vec<u8>>,
    service: VecDeque<Vec<u8>>,
    bulk: VecDeque<Vec<u8>>,
    overrun: bool,
    error: bool,
    counters: Counters,
}

impl DirState {
    fn queued(&self) -> usize {
        self.mfm.len() + self.service.len() + self.bulk.len()
    }
}

/// One tile's neighbour model.
#[derive(Debug)]
pub struct Tile {
    config: TileConfig,
    dirs: [DirState; 8],
    mfm_open: bool,
    bound: u64,
    events: VecDeque<Event>,
    next_dir: usize,
}

impl Tile {
    /// A tile with every direction absent.
    pub fn new(config: TileConfig) -> Self {
        Self {
            config,
            dirs: Default::default(),
            mfm_open: false,
            bound: 0,
            events: VecDeque::new(),
            next_dir: 0,
        }
    }

    /// Whether the neighbour in `dir` is present.
    pub fn is_present(&self, dir: Dir) -> bool {
        self.dirs[dir.index()].present
    }

    /// The present directions, in DIR order.
    pub fn present(&self) -> impl Iterator<Item = Dir> + '_ {
        ALL.into_iter().filter(|d| self.is_present(*d))
    }

    /// The counters of `dir`.
    pub fn counters(&self, dir: Dir) -> &Counters {
        &self.dirs[dir.index()].counters
    }

    /// Packets waiting for the link in `dir`.
    pub fn queued(&self, dir: Dir) -> usize {
        self.dirs[dir.index()].queued()
    }

    /// Bulk packets waiting for the link in `dir`.
    pub fn bulk_queued(&self, dir: Dir) -> usize {
        self.dirs[dir.index()].bulk.len()
    }

    /// Call when the link to `dir` comes up. It starts with no link credit.
    pub fn handle_link_up(&mut self, dir: Dir) {
        let d = &mut self.dirs[dir.index()];
        if d.present {
            return;
        }
        d.present = true;
        d.link_credit = 0;
        d.counters.connects += 1;
        tracing::debug!(%dir, "neighbour connected");
        self.tile_event(dir, tep::Event::Connect);
    }

    /// Call when the link to `dir` goes down. Queued packets are discarded
    /// and counted; MFM credit is void.
    pub fn handle_link_down(&mut self, dir: Dir) {
        let d = &mut self.dirs[dir.index()];
        if !d.present {
            return;
        }
        d.present = false;
        d.link_credit = 0;
        d.credit = 0;
        d.counters.disconnects += 1;
        d.counters.tx_flushed += d.queued() as u64;
        d.mfm.clear();
        d.service.clear();
        d.bulk.clear();
        d.overrun = false;
        d.error = false;
        tracing::debug!(%dir, "neighbour disconnected");
        self.tile_event(dir, tep::Event::Disconnect);
    }

    /// Call when the link to `dir` can take `packets` more packets now
    /// (its free send space): this replaces the previous figure, it does not
    /// add to it. [`Tile::poll_transmit`] hands out at most that many.
    pub fn handle_link_credit(&mut self, dir: Dir, packets: u32) {
        let d = &mut self.dirs[dir.index()];
        if d.present {
            d.link_credit = packets;
        }
    }

    /// Call when the host had to drop packets arriving from `dir`: the next
    /// MFM packet from there carries OVRN.
    pub fn handle_rx_overrun(&mut self, dir: Dir) {
        let d = &mut self.dirs[dir.index()];
        d.overrun = true;
        d.counters.rx_overruns += 1;
    }

    /// Call with each packet that arrives from the link to `dir`.
    pub fn handle_packet(&mut self, dir: Dir, bytes: &[u8]) {
        let mfm_open = self.mfm_open;
        let bound = self.bound;
        let d = &mut self.dirs[dir.index()];
        d.counters.rx_packets += 1;
        d.counters.rx_bytes += bytes.len() as u64;
        if !d.present {
            d.counters.rx_absent += 1;
            return;
        }
        let kind = match wire::classify(bytes) {
            Ok(k) => k,
            Err(e) => {
                tracing::trace!(%dir, error = %e, "malformed packet dropped");
                d.counters.rx_malformed += 1;
                d.error = true;
                return;
            }
        };
        match kind {
            Kind::Local(local::TYPE_TEP) => {
                d.counters.rx_tep += 1;
                if tep::Packet::new_checked(bytes).is_err() {
                    d.counters.rx_tep_bad_event += 1;
                }
            }
            Kind::Local(t) => {
                if !mfm_open {
                    d.counters.rx_no_mfm += 1;
                    return;
                }
                d.counters.rx_local[usize::from(t)] += 1;
                self.events.push_back(Event::Mfm {
                    dir,
                    packet: bytes.to_vec(),
                });
            }
            Kind::Mfm | Kind::Service(_) => {
                let header = routed::Header::parse(bytes[0]).unwrap_or(routed::Header::mfm(dir));
                if header.ovrn || header.eror {
                    d.counters.rx_flags_set += 1;
                    d.error = true;
                    return;
                }
                if let Kind::Service(s) = kind {
                    if bound & (1 << s.number()) == 0 {
                        d.counters.rx_unbound += 1;
                        return;
                    }
                    d.counters.rx_service += 1;
                    self.events.push_back(Event::Service {
                        service: s,
                        dir,
                        payload: bytes[service::HEADER_LEN..].to_vec(),
                    });
                    return;
                }
                if !mfm_open {
                    d.counters.rx_no_mfm += 1;
                    return;
                }
                d.counters.rx_mfm += 1;
                let mut packet = bytes.to_vec();
                packet[0] = routed::Header {
                    mfmt: true,
                    ovrn: std::mem::take(&mut d.overrun),
                    eror: std::mem::take(&mut d.error),
                    dir,
                }
                .to_byte();
                self.events.push_back(Event::Mfm { dir, packet });
            }
        }
    }

    /// Opens the MFM channel. Each direction already present is reported
    /// as if it had just connected (a connect TEP), and its credit follows.
    ///
    /// # Errors
    /// [`SendError::Taken`] if it is already open.
    pub fn open_mfm(&mut self) -> Result<(), SendError> {
        if self.mfm_open {
            return Err(SendError::Taken);
        }
        self.mfm_open = true;
        for dir in ALL {
            if self.is_present(dir) {
                let packet = tep::Repr {
                    event: tep::Event::Connect,
                    args: &[],
                }
                .to_vec();
                self.events.push_back(Event::Mfm { dir, packet });
            }
        }
        Ok(())
    }

    /// Closes the MFM channel; unspent credit is void, queued packets still go.
    pub fn close_mfm(&mut self) {
        self.mfm_open = false;
        for d in &mut self.dirs {
            d.credit = 0;
        }
        self.events
            .retain(|e| !matches!(e, Event::Mfm { .. } | Event::MfmCredit { .. }));
    }

    /// Whether the MFM channel is open.
    pub fn mfm_open(&self) -> bool {
        self.mfm_open
    }

    /// Sends a packet from the MFM program toward `dir`: an MFM packet whose
    /// DIR is `dir` with OVRN and EROR clear, or a standard local packet
    /// other than the TEP. Spends one credit.
    ///
    /// # Errors
    /// Why it was refused; the refusal is counted.
    pub fn send_mfm(&mut self, dir: Dir, packet: &[u8]) -> Result<(), SendError> {
        let r = self.check_mfm(dir, packet);
        let d = &mut self.dirs[dir.index()];
        if let Err(e) = r {
            d.counters.tx_refused += 1;
            return Err(e);
        }
        d.credit -= 1;
        d.mfm.push_back(packet.to_vec());
        Ok(())
    }

    fn check_mfm(&self, dir: Dir, packet: &[u8]) -> Result<(), SendError> {
        if !self.mfm_open {
            return Err(SendError::NotOpen);
        }
        match wire::classify(packet)? {
            Kind::Mfm => {
                let h = routed::Header::parse(packet[0])?;
                if h.ovrn || h.eror {
                    return Err(SendError::Invalid("OVRN and EROR are set only by the link"));
                }
                if h.dir != dir {
                    return Err(SendError::Invalid("DIR disagrees with the direction"));
                }
            }
            Kind::Local(local::TYPE_TEP) => {
                return Err(SendError::Invalid("only the tile generates tile events"))
            }
            Kind::Local(_) => {}
            Kind::Service(_) => return Err(SendError::Invalid("service packets need a binding")),
        }
        let d = &self.dirs[dir.index()];
        if !d.present {
            return Err(SendError::Absent(dir));
        }
        if d.credit == 0 {
            return Err(SendError::NoCredit(dir));
        }
        Ok(())
    }

    /// Binds `service` for a program (or a built-in service).
    ///
    /// # Errors
    /// [`SendError::Taken`] if it is already bound.
    pub fn bind(&mut self, service: Service) -> Result<(), SendError> {
        let bit = 1u64 << service.number();
        if self.bound & bit != 0 {
            return Err(SendError::Taken);
        }
        self.bound |= bit;
        Ok(())
    }

    /// Releases `service`.
    pub fn unbind(&mut self, service: Service) {
        self.bound &= !(1u64 << service.number());
    }

    /// Queues a service packet toward `dir`; the tile writes both header
    /// bytes.
    ///
    /// # Errors
    /// Why it was refused; the refusal is counted.
    pub fn send_service(
        &mut self,
        dir: Dir,
        service: Service,
        payload: &[u8],
        priority: Priority,
    ) -> Result<(), SendError> {
        let bound = self.bound & (1u64 << service.number()) != 0;
        let config = self.config;
        let d = &mut self.dirs[dir.index()];
        let (queue, cap) = match priority {
            Priority::Normal => (&mut d.service, config.service_queue),
            Priority::Bulk => (&mut d.bulk, config.bulk_queue),
        };
        let r = if !bound {
            Err(SendError::NotOpen)
        } else if payload.len() > service::MAX_PAYLOAD_LEN {
            Err(SendError::Invalid("service payload above 253 bytes"))
        } else if !d.present {
            Err(SendError::Absent(dir))
        } else if queue.len() >= cap {
            Err(SendError::QueueFull(dir))
        } else {
            Ok(())
        };
        if r.is_err() {
            d.counters.tx_refused += 1;
            return r;
        }
        queue.push_back(
            service::Repr {
                header: routed::Header::service(dir),
                service,
                payload,
            }
            .to_vec(),
        );
        Ok(())
    }

    /// The next packet for a link: the first direction in round-robin order
    /// that has link credit and something queued, MFM before service before
    /// bulk.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        for i in 0..8 {
            let idx = (self.next_dir + i) % 8;
            let d = &mut self.dirs[idx];
            if !d.present || d.link_credit == 0 {
                continue;
            }
            let Some(packet) = d
                .mfm
                .pop_front()
                .or_else(|| d.service.pop_front())
                .or_else(|| d.bulk.pop_front())
            else {
                continue;
            };
            d.link_credit -= 1;
            d.counters.tx_packets += 1;
            d.counters.tx_bytes += packet.len() as u64;
            self.next_dir = (idx + 1) % 8;
            return Some(Transmit {
                dir: ALL[idx],
                packet,
            });
        }
        None
    }

    /// The next event for programs. Credit grants are derived when asked
    /// for: each present direction's window less what is queued or already
    /// granted.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        if !self.mfm_open {
            return None;
        }
        let window = u32::from(self.config.mfm_window);
        for (i, d) in self.dirs.iter_mut().enumerate() {
            if !d.present {
                continue;
            }
            let used = d.mfm.len() as u32 + d.credit;
            if used < window {
                let grant = window - used;
                d.credit += grant;
                return Some(Event::MfmCredit {
                    dir: ALL[i],
                    grant: u16::try_from(grant).unwrap_or(u16::MAX),
                });
            }
        }
        None
    }

    fn tile_event(&mut self, dir: Dir, event: tep::Event) {
        if self.mfm_open {
            let packet = tep::Repr { event, args: &[] }.to_vec();
            self.events.push_back(Event::Mfm { dir, packet });
        }
        self.events.push_back(Event::Neighbour {
            dir,
            present: event == tep::Event::Connect,
        });
    }
}
