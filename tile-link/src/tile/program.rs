//! One program's connection to the local channel, as a sans-IO adapter
//! between decoded [`Frame`]s and the [`Tile`].
//!
//! A connection starts unbound. `OPEN_MFM` makes it the MFM channel (one
//! per tile), `BIND` makes it a service's channel (one per service); either
//! happens once. [`Program::handle_frame`] applies what the program sends
//! and returns the frames to answer with (refusals, and the neighbours
//! present at binding). [`Program::wants`] says which tile events belong
//! to this connection; [`Event::frame`] encodes them. [`Program::close`]
//! releases the channel when the socket closes.

use super::{Event, Priority, SendError, Tile};
use crate::channel::{Frame, Refusal};
use crate::dir::Dir;
use crate::wire::Service;

/// What a connection has become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Neither `OPEN_MFM` nor `BIND` yet.
    Unbound,
    /// The tile's MFM channel.
    Mfm,
    /// The channel of this service.
    Service(Service),
}

/// One local channel connection.
#[derive(Debug, Clone)]
pub struct Program {
    role: Role,
}

impl Default for Program {
    fn default() -> Self {
        Self::new()
    }
}

fn refused(reason: Refusal, dir: Dir) -> Frame<'static> {
    Frame::Refused { reason, dir }
}

fn refusal(e: SendError, dir: Dir) -> Frame<'static> {
    refused(e.refusal(), dir)
}

impl Program {
    /// A new, unbound connection.
    pub fn new() -> Self {
        Self {
            role: Role::Unbound,
        }
    }

    /// What the connection is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Applies a frame from the program; returns the frames to send back.
    pub fn handle_frame(&mut self, tile: &mut Tile, frame: &Frame<'_>) -> Vec<Frame<'static>> {
        match (*frame, self.role) {
            (Frame::OpenMfm, Role::Unbound) => match tile.open_mfm() {
                Ok(()) => {
                    self.role = Role::Mfm;
                    Vec::new()
                }
                Err(e) => vec![refusal(e, Dir::North)],
            },
            (Frame::Bind { service }, Role::Unbound) => match tile.bind(service) {
                Ok(()) => {
                    self.role = Role::Service(service);
                    tile.present()
                        .map(|dir| Frame::Neighbour { dir, present: true })
                        .collect()
                }
                Err(e) => vec![refusal(e, Dir::North)],
            },
            (Frame::Packet { dir, packet }, Role::Mfm) => match tile.send_mfm(dir, packet) {
                Ok(()) => Vec::new(),
                Err(e) => vec![refusal(e, dir)],
            },
            (
                Frame::Service {
                    dir,
                    service,
                    payload,
                },
                Role::Service(mine),
            ) if service == mine => {
                match tile.send_service(dir, service, payload, Priority::Normal) {
                    Ok(()) => Vec::new(),
                    Err(e) => vec![refusal(e, dir)],
                }
            }
            (Frame::Packet { dir, .. } | Frame::Service { dir, .. }, _) => {
                vec![refused(Refusal::NotAllowed, dir)]
            }
            _ => vec![refused(Refusal::NotAllowed, Dir::North)],
        }
    }

    /// Whether `event` goes to this connection.
    pub fn wants(&self, event: &Event) -> bool {
        match (event, self.role) {
            (Event::Mfm { .. } | Event::MfmCredit { .. }, Role::Mfm) => true,
            (Event::Service { service, .. }, Role::Service(mine)) => *service == mine,
            (Event::Neighbour { .. }, Role::Service(_)) => true,
            _ => false,
        }
    }

    /// Releases the MFM channel or the service.
    pub fn close(self, tile: &mut Tile) {
        match self.role {
            Role::Unbound => {}
            Role::Mfm => tile.close_mfm(),
            Role::Service(s) => tile.unbind(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::TileConfig;

    #[test]
    fn mfm_and_service_programs_share_a_tile() {
        let mut tile = Tile::new(TileConfig::default());
        tile.handle_link_up(Dir::South);
        let mut mfm = Program::new();
        let mut other = Program::new();
        let mut svc = Program::new();
        let s = Service::new(20).unwrap();
        assert!(mfm.handle_frame(&mut tile, &Frame::OpenMfm).is_empty());
        assert_eq!(
            other.handle_frame(&mut tile, &Frame::OpenMfm),
            vec![refused(Refusal::Taken, Dir::North)]
        );
        assert_eq!(
            svc.handle_frame(&mut tile, &Frame::Bind { service: s }),
            vec![Frame::Neighbour {
                dir: Dir::South,
                present: true
            }]
        );
        assert_eq!(
            other.handle_frame(&mut tile, &Frame::Bind { service: s }),
            vec![refused(Refusal::Taken, Dir::North)]
        );
        // The MFM program has no credit until it reads its grant.
        let pkt = Frame::Packet {
            dir: Dir::South,
            packet: &[0xa4, 1],
        };
        assert_eq!(
            mfm.handle_frame(&mut tile, &pkt),
            vec![refused(Refusal::NoCredit, Dir::South)]
        );
        let events: Vec<Event> = std::iter::from_fn(|| tile.poll_event()).collect();
        assert!(events
            .iter()
            .any(|e| mfm.wants(e) && matches!(e, Event::MfmCredit { .. })));
        assert!(mfm.handle_frame(&mut tile, &pkt).is_empty());
        // Frames for the wrong role are refused.
        assert_eq!(
            svc.handle_frame(&mut tile, &pkt),
            vec![refused(Refusal::NotAllowed, Dir::South)]
        );
        let wrong_service = Frame::Service {
            dir: Dir::South,
            service: Service::new(21).unwrap(),
            payload: b"x",
        };
        assert_eq!(
            svc.handle_frame(&mut tile, &wrong_service),
            vec![refused(Refusal::NotAllowed, Dir::South)]
        );
        let ok = Frame::Service {
            dir: Dir::South,
            service: s,
            payload: b"x",
        };
        assert!(svc.handle_frame(&mut tile, &ok).is_empty());
        // Received traffic goes to the right connection.
        tile.handle_packet(Dir::South, &[0x80, 20, 7]);
        tile.handle_packet(Dir::South, &[0xa0, 8]);
        let events: Vec<Event> = std::iter::from_fn(|| tile.poll_event()).collect();
        assert_eq!(events.len(), 2);
        assert!(svc.wants(&events[0]) && !mfm.wants(&events[0]));
        assert!(mfm.wants(&events[1]) && !svc.wants(&events[1]));
        // Closing frees the channel for another program.
        mfm.close(&mut tile);
        svc.close(&mut tile);
        assert!(other.handle_frame(&mut tile, &Frame::OpenMfm).is_empty());
        let mut again = Program::new();
        assert_eq!(
            again
                .handle_frame(&mut tile, &Frame::Bind { service: s })
                .len(),
            1
        );
    }
}
