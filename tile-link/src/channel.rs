//! The local channel framing: how programs on a tile talk to the daemon
//! over a Unix stream socket. Any language can speak it.
//!
//! Every frame is a big-endian `u16` length, then that many bytes: a kind
//! byte and the kind's body.
//!
//! ```text
//! | len (u16, BE) | kind (u8) | body (len - 1 bytes) |
//! ```
//!
//! | kind | name        | way              | body                                      |
//! |------|-------------|------------------|-------------------------------------------|
//! | 0x01 | `PACKET`    | both             | dir (u8), packet (1..=255 bytes)          |
//! | 0x02 | `SERVICE`   | both             | dir (u8), service (u8), payload (0..=253) |
//! | 0x03 | `CREDIT`    | daemon → program | dir (u8), grant (u16, BE)                 |
//! | 0x04 | `OPEN_MFM`  | program → daemon | (empty)                                   |
//! | 0x05 | `BIND`      | program → daemon | service (u8, 1..=63)                      |
//! | 0x06 | `NEIGHBOUR` | daemon → program | dir (u8), present (u8: 0 or 1)            |
//! | 0x07 | `REFUSED`   | daemon → program | reason (u8), dir (u8)                     |
//!
//! - The MFM program sends `OPEN_MFM` once. From then on it receives every
//!   intertile MFM packet and every Tile Event Packet as `PACKET` frames,
//!   with the direction the packet came from. It sends `PACKET` frames with
//!   the direction to send to (the packet's own DIR bits must agree).
//! - Sending needs credit: the daemon grants it per direction in `CREDIT`
//!   frames (grants add up), and each `PACKET` sent spends one. A
//!   disconnect TEP voids a direction's credit; the connect TEP is followed
//!   by a fresh grant. A `PACKET` sent without credit is answered with
//!   `REFUSED`, never silently dropped.
//! - Other programs send `BIND` with a service number and then exchange
//!   `SERVICE` frames: payload only, the daemon writes the two header
//!   bytes. They learn which neighbours are present from `NEIGHBOUR`
//!   frames (one per present direction right after binding, then one per
//!   change).
//! - The direction byte is the seed's DIR value (see [`crate::dir`]).

use crate::dir::Dir;
use crate::wire::{Service, MAX_PACKET_LEN};

/// Bytes of the length prefix.
pub const LEN_PREFIX: usize = 2;
/// The largest value of the length prefix (a `PACKET` of 255 bytes).
pub const MAX_FRAME_LEN: usize = 2 + MAX_PACKET_LEN;

mod kind {
    pub(super) const PACKET: u8 = 0x01;
    pub(super) const SERVICE: u8 = 0x02;
    pub(super) const CREDIT: u8 = 0x03;
    pub(super) const OPEN_MFM: u8 = 0x04;
    pub(super) const BIND: u8 = 0x05;
    pub(super) const NEIGHBOUR: u8 = 0x06;
    pub(super) const REFUSED: u8 = 0x07;
}

/// Why the daemon refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Refusal {
    /// No credit left in that direction.
    NoCredit = 1,
    /// No neighbour in that direction.
    Absent = 2,
    /// The packet breaks the format rules (bad header, OVRN/EROR set, a TEP,
    /// DIR disagreeing with the frame).
    InvalidPacket = 3,
    /// Another program holds the service (or the MFM channel).
    Taken = 4,
    /// The direction's queue is full; retry later.
    QueueFull = 5,
    /// A frame this channel may not send (for example `SERVICE` before `BIND`).
    NotAllowed = 6,
}

impl Refusal {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::NoCredit,
            2 => Self::Absent,
            3 => Self::InvalidPacket,
            4 => Self::Taken,
            5 => Self::QueueFull,
            6 => Self::NotAllowed,
            _ => return None,
        })
    }
}

/// One frame of the local channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An intertile packet and its direction.
    Packet {
        /// Where it came from, or where to send it.
        dir: Dir,
        /// The whole packet, 1 to 255 bytes.
        packet: &'a [u8],
    },
    /// A service payload and its direction.
    Service {
        /// Where it came from, or where to send it.
        dir: Dir,
        /// The service.
        service: Service,
        /// At most 253 bytes.
        payload: &'a [u8],
    },
    /// The program may send `grant` more packets in `dir`.
    Credit {
        /// The direction.
        dir: Dir,
        /// Packets added to the direction's credit.
        grant: u16,
    },
    /// Makes this channel the MFM channel.
    OpenMfm,
    /// Binds this channel to a service.
    Bind {
        /// The service.
        service: Service,
    },
    /// A neighbour's presence.
    Neighbour {
        /// The direction.
        dir: Dir,
        /// Present (true) or absent.
        present: bool,
    },
    /// The daemon refused the program's last frame for `dir`.
    Refused {
        /// Why.
        reason: Refusal,
        /// The direction of the refused frame (0 for `BIND`/`OPEN_MFM`).
        dir: Dir,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix is 0 or above [`MAX_FRAME_LEN`].
    #[error("frame length {0} out of range 1..={max}", max = MAX_FRAME_LEN)]
    BadLength(usize),
    /// The kind byte names no frame.
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
    /// The body does not fit the kind.
    #[error("malformed {0} frame")]
    Malformed(&'static str),
}

impl<'a> Frame<'a> {
    /// Decodes the first frame of `buf`, a stream's unread bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds no whole frame yet, else the
    /// frame and the bytes it used. An error means the stream is corrupt
    /// (the reader should close it).
    ///
    /// # Errors
    /// [`FrameError`] for a bad length, kind or body.
    pub fn decode(buf: &'a [u8]) -> Result<Option<(Self, usize)>, FrameError> {
        let Some(prefix) = buf.get(..LEN_PREFIX) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if len == 0 || len > MAX_FRAME_LEN {
            return Err(FrameError::BadLength(len));
        }
        let Some(frame) = buf.get(LEN_PREFIX..LEN_PREFIX + len) else {
            return Ok(None);
        };
        Self::parse_body(frame[0], &frame[1..]).map(|f| Some((f, LEN_PREFIX + len)))
    }

    fn parse_body(kind: u8, body: &'a [u8]) -> Result<Self, FrameError> {
        let dir_at = |i: usize, name| {
            body.get(i)
                .and_then(|b| Dir::from_value(*b))
                .ok_or(FrameError::Malformed(name))
        };
        match kind {
            kind::PACKET => {
                let dir = dir_at(0, "PACKET")?;
                let packet = &body[1..];
                if packet.is_empty() || packet.len() > MAX_PACKET_LEN {
                    return Err(FrameError::Malformed("PACKET"));
                }
                Ok(Self::Packet { dir, packet })
            }
            kind::SERVICE => {
                let dir = dir_at(0, "SERVICE")?;
                let service = body
                    .get(1)
                    .and_then(|s| Service::new(*s).ok())
                    .ok_or(FrameError::Malformed("SERVICE"))?;
                let payload = &body[2..];
                if payload.len() > crate::wire::service::MAX_PAYLOAD_LEN {
                    return Err(FrameError::Malformed("SERVICE"));
                }
                Ok(Self::Service {
                    dir,
                    service,
                    payload,
                })
            }
            kind::CREDIT => match body {
                [d, hi, lo] => Ok(Self::Credit {
                    dir: Dir::from_value(*d).ok_or(FrameError::Malformed("CREDIT"))?,
                    grant: u16::from_be_bytes([*hi, *lo]),
                }),
                _ => Err(FrameError::Malformed("CREDIT")),
            },
            kind::OPEN_MFM if body.is_empty() => Ok(Self::OpenMfm),
            kind::OPEN_MFM => Err(FrameError::Malformed("OPEN_MFM")),
            kind::BIND => match body {
                [s] => Ok(Self::Bind {
                    service: Service::new(*s).map_err(|_| FrameError::Malformed("BIND"))?,
                }),
                _ => Err(FrameError::Malformed("BIND")),
            },
            kind::NEIGHBOUR => match body {
                [d, p @ (0 | 1)] => Ok(Self::Neighbour {
                    dir: Dir::from_value(*d).ok_or(FrameError::Malformed("NEIGHBOUR"))?,
                    present: *p == 1,
                }),
                _ => Err(FrameError::Malformed("NEIGHBOUR")),
            },
            kind::REFUSED => match body {
                [r, d] => Ok(Self::Refused {
                    reason: Refusal::from_byte(*r).ok_or(FrameError::Malformed("REFUSED"))?,
                    dir: Dir::from_value(*d).ok_or(FrameError::Malformed("REFUSED"))?,
                }),
                _ => Err(FrameError::Malformed("REFUSED")),
            },
            k => Err(FrameError::UnknownKind(k)),
        }
    }

    /// Bytes [`Frame::encode`] appends, length prefix included.
    pub fn encoded_len(&self) -> usize {
        LEN_PREFIX
            + 1
            + match self {
                Self::Packet { packet, .. } => 1 + packet.len(),
                Self::Service { payload, .. } => 2 + payload.len(),
                Self::Credit { .. } => 3,
                Self::OpenMfm => 0,
                Self::Bind { .. } => 1,
                Self::Neighbour { .. } | Self::Refused { .. } => 2,
            }
    }

    /// Appends the frame to `out`.
    ///
    /// # Errors
    /// [`FrameError::Malformed`] if a packet is empty or too long, or a
    /// payload too long: such a frame could not be decoded.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        match self {
            Self::Packet { packet, .. } if packet.is_empty() || packet.len() > MAX_PACKET_LEN => {
                return Err(FrameError::Malformed("PACKET"))
            }
            Self::Service { payload, .. }
                if payload.len() > crate::wire::service::MAX_PAYLOAD_LEN =>
            {
                return Err(FrameError::Malformed("SERVICE"))
            }
            _ => {}
        }
        let len = u16::try_from(self.encoded_len() - LEN_PREFIX)
            .map_err(|_| FrameError::BadLength(self.encoded_len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        match self {
            Self::Packet { dir, packet } => {
                out.extend_from_slice(&[kind::PACKET, dir.value()]);
                out.extend_from_slice(packet);
            }
            Self::Service {
                dir,
                service,
                payload,
            } => {
                out.extend_from_slice(&[kind::SERVICE, dir.value(), service.number()]);
                out.extend_from_slice(payload);
            }
            Self::Credit { dir, grant } => {
                out.extend_from_slice(&[kind::CREDIT, dir.value()]);
                out.extend_from_slice(&grant.to_be_bytes());
            }
            Self::OpenMfm => out.push(kind::OPEN_MFM),
            Self::Bind { service } => out.extend_from_slice(&[kind::BIND, service.number()]),
            Self::Neighbour { dir, present } => {
                out.extend_from_slice(&[kind::NEIGHBOUR, dir.value(), u8::from(*present)]);
            }
            Self::Refused { reason, dir } => {
                out.extend_from_slice(&[kind::REFUSED, *reason as u8, dir.value()]);
            }
        }
        Ok(())
    }

    /// The frame as a new vector.
    ///
    /// # Errors
    /// As [`Frame::encode`].
    pub fn to_vec(&self) -> Result<Vec<u8>, FrameError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn byte_layouts() {
        let f = Frame::Packet {
            dir: Dir::East,
            packet: &[0xa2, 0x55],
        };
        assert_eq!(f.to_vec().unwrap(), [0, 4, 0x01, 2, 0xa2, 0x55]);
        let f = Frame::Credit {
            dir: Dir::NorthWest,
            grant: 0x0102,
        };
        assert_eq!(f.to_vec().unwrap(), [0, 4, 0x03, 7, 1, 2]);
        let f = Frame::Service {
            dir: Dir::North,
            service: Service::new(12).unwrap(),
            payload: b"hi",
        };
        assert_eq!(f.to_vec().unwrap(), [0, 5, 0x02, 0, 12, b'h', b'i']);
        assert_eq!(Frame::OpenMfm.to_vec().unwrap(), [0, 1, 0x04]);
        let f = Frame::Refused {
            reason: Refusal::NoCredit,
            dir: Dir::South,
        };
        assert_eq!(f.to_vec().unwrap(), [0, 3, 0x07, 1, 4]);
    }

    #[test]
    fn the_session_in_the_docs() {
        // docs/tile-link.md, section 3, byte by byte.
        let session: [(&[u8], Frame); 6] = [
            (&[0x00, 0x01, 0x04], Frame::OpenMfm),
            (
                &[0x00, 0x04, 0x01, 0x02, 0xc4, 0x01],
                Frame::Packet {
                    dir: Dir::East,
                    packet: &[0xc4, 0x01],
                },
            ),
            (
                &[0x00, 0x04, 0x03, 0x02, 0x00, 0x10],
                Frame::Credit {
                    dir: Dir::East,
                    grant: 16,
                },
            ),
            (
                &[0x00, 0x04, 0x01, 0x02, 0xa2, 0x2a],
                Frame::Packet {
                    dir: Dir::East,
                    packet: &[0xa2, 0x2a],
                },
            ),
            (
                &[0x00, 0x04, 0x01, 0x02, 0xa2, 0x07],
                Frame::Packet {
                    dir: Dir::East,
                    packet: &[0xa2, 0x07],
                },
            ),
            (
                &[0x00, 0x04, 0x01, 0x02, 0xc4, 0x02],
                Frame::Packet {
                    dir: Dir::East,
                    packet: &[0xc4, 0x02],
                },
            ),
        ];
        for (bytes, frame) in session {
            assert_eq!(frame.to_vec().unwrap(), bytes);
            assert_eq!(Frame::decode(bytes), Ok(Some((frame, bytes.len()))));
        }
    }

    #[test]
    fn decode_waits_for_a_whole_frame_and_reports_its_size() {
        let bytes = [0, 3, 0x06, 5, 1, 0, 1];
        assert_eq!(Frame::decode(&bytes[..1]), Ok(None));
        assert_eq!(Frame::decode(&bytes[..4]), Ok(None));
        assert_eq!(
            Frame::decode(&bytes),
            Ok(Some((
                Frame::Neighbour {
                    dir: Dir::SouthWest,
                    present: true
                },
                5
            )))
        );
        assert_eq!(Frame::decode(&[0, 0]), Err(FrameError::BadLength(0)));
        assert_eq!(Frame::decode(&[1, 2]), Err(FrameError::BadLength(258)));
        assert_eq!(
            Frame::decode(&[0, 1, 0x09]),
            Err(FrameError::UnknownKind(9))
        );
        assert!(Frame::decode(&[0, 2, 0x01, 3]).is_err()); // empty packet
        assert!(Frame::decode(&[0, 2, 0x05, 0]).is_err()); // null service
        assert!(Frame::decode(&[0, 3, 0x06, 8, 1]).is_err()); // dir 8
        assert!(Frame::Packet {
            dir: Dir::North,
            packet: &[]
        }
        .to_vec()
        .is_err());
    }

    fn frame_parts() -> impl Strategy<Value = (u8, u8, u8, u16, Vec<u8>)> {
        (
            0u8..7,
            0u8..8,
            1u8..64,
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 1..=253),
        )
    }

    fn build(k: u8, d: u8, s: u8, g: u16, bytes: &[u8]) -> Frame<'_> {
        let dir = Dir::from_bits(d);
        let service = Service::new(s).unwrap();
        match k {
            0 => Frame::Packet { dir, packet: bytes },
            1 => Frame::Service {
                dir,
                service,
                payload: bytes,
            },
            2 => Frame::Credit { dir, grant: g },
            3 => Frame::OpenMfm,
            4 => Frame::Bind { service },
            5 => Frame::Neighbour {
                dir,
                present: g % 2 == 1,
            },
            _ => Frame::Refused {
                reason: Refusal::from_byte(1 + (g % 6) as u8).unwrap(),
                dir,
            },
        }
    }

    proptest! {
        #[test]
        fn roundtrip((k, d, s, g, bytes) in frame_parts()) {
            let f = build(k, d, s, g, &bytes);
            let mut v = f.to_vec().unwrap();
            prop_assert_eq!(v.len(), f.encoded_len());
            v.extend_from_slice(&[0xa5, 0xa5]);
            let (back, used) = Frame::decode(&v).unwrap().unwrap();
            prop_assert_eq!(used, f.encoded_len());
            prop_assert_eq!(back, f);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some((f, used))) = Frame::decode(&bytes) {
                prop_assert_eq!(f.to_vec().unwrap(), bytes[..used].to_vec());
            }
        }
    }
}
