//! Stream framing: `len u32 | type u8 | body`, where `len` counts the type
//! byte and the body, and a decoder that cuts a byte stream into frames.

use super::forget::Forget;
use super::learn::Learn;
use super::message::Message;
use super::names::{self, Claim, Unclaim};
use super::pair::Pair;
use super::scope_answer::ScopeAnswerFrame;
use super::scope_gone::ScopeGone;
use super::scope_probe::ScopeProbe;
use super::scope_push::ScopePush;
use super::scope_query::ScopeQueryFrame;
use super::{Reader, WireError};

/// Bytes of the length and type prefix.
pub const HEADER_LEN: usize = 5;

/// The type byte of each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameType {
    /// [`Learn`].
    Learn = 1,
    /// [`Forget`].
    Forget = 2,
    /// [`Pair`].
    Pair = 3,
    /// [`Message`].
    Message = 4,
    /// A [`Claim`] to a name.
    NameRegister = 5,
    /// An [`Unclaim`].
    NameUnregister = 6,
    /// Every claim of the sending node's engines.
    NameClaims = 7,
    /// A [`ScopeQueryFrame`].
    ScopeQuery = 8,
    /// A [`ScopeAnswerFrame`].
    ScopeAnswer = 9,
    /// A [`ScopePush`].
    ScopePush = 10,
    /// A [`ScopeGone`].
    ScopeGone = 11,
    /// A [`ScopeProbe`].
    ScopeProbe = 12,
}

impl FrameType {
    /// Decodes a type byte.
    ///
    /// # Errors
    /// [`WireError::UnknownType`].
    pub fn from_u8(b: u8) -> Result<Self, WireError> {
        Ok(match b {
            1 => Self::Learn,
            2 => Self::Forget,
            3 => Self::Pair,
            4 => Self::Message,
            5 => Self::NameRegister,
            6 => Self::NameUnregister,
            7 => Self::NameClaims,
            8 => Self::ScopeQuery,
            9 => Self::ScopeAnswer,
            10 => Self::ScopePush,
            11 => Self::ScopeGone,
            12 => Self::ScopeProbe,
            x => return Err(WireError::UnknownType(x)),
        })
    }
}

/// A parsed frame of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Learn an engine.
    Learn(Learn),
    /// Forget an engine.
    Forget(Forget),
    /// A pair key offer.
    Pair(Pair),
    /// An engine-to-engine message.
    Message(Message),
    /// A name claim.
    NameRegister(Claim),
    /// A name release.
    NameUnregister(Unclaim),
    /// All claims of the sender's engines.
    NameClaims(Vec<Claim>),
    /// A scope query.
    ScopeQuery(ScopeQueryFrame),
    /// The answer to a scope query.
    ScopeAnswer(ScopeAnswerFrame),
    /// Scope records for a cluster member.
    ScopePush(ScopePush),
    /// A runtime left a cluster's view.
    ScopeGone(ScopeGone),
    /// A ping or pong before sending to a scope.
    ScopeProbe(ScopeProbe),
}

impl Frame {
    /// Parses a frame body of type `ty`.
    ///
    /// # Errors
    /// An unknown type or the body's own errors.
    pub fn parse(ty: u8, body: &[u8]) -> Result<Self, WireError> {
        Ok(match FrameType::from_u8(ty)? {
            FrameType::Learn => Self::Learn(Learn::parse(body)?),
            FrameType::Forget => Self::Forget(Forget::parse(body)?),
            FrameType::Pair => Self::Pair(Pair::parse(body)?),
            FrameType::Message => Self::Message(Message::parse(body)?),
            FrameType::NameRegister => Self::NameRegister(Claim::parse(body)?),
            FrameType::NameUnregister => Self::NameUnregister(Unclaim::parse(body)?),
            FrameType::NameClaims => Self::NameClaims(names::parse_claims(body)?),
            FrameType::ScopeQuery => Self::ScopeQuery(ScopeQueryFrame::parse(body)?),
            FrameType::ScopeAnswer => Self::ScopeAnswer(ScopeAnswerFrame::parse(body)?),
            FrameType::ScopePush => Self::ScopePush(ScopePush::parse(body)?),
            FrameType::ScopeGone => Self::ScopeGone(ScopeGone::parse(body)?),
            FrameType::ScopeProbe => Self::ScopeProbe(ScopeProbe::parse(body)?),
        })
    }

    /// Parses one whole frame, header included.
    ///
    /// # Errors
    /// A length that disagrees with the bytes, or the body's errors.
    pub fn parse_whole(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let len = r.u32()? as usize;
        if len == 0 {
            return Err(WireError::InvalidField("frame length"));
        }
        let ty = r.u8()?;
        let body = r.take(len - 1)?;
        r.finish()?;
        Self::parse(ty, body)
    }

    /// The frame's type.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Self::Learn(_) => FrameType::Learn,
            Self::Forget(_) => FrameType::Forget,
            Self::Pair(_) => FrameType::Pair,
            Self::Message(_) => FrameType::Message,
            Self::NameRegister(_) => FrameType::NameRegister,
            Self::NameUnregister(_) => FrameType::NameUnregister,
            Self::NameClaims(_) => FrameType::NameClaims,
            Self::ScopeQuery(_) => FrameType::ScopeQuery,
            Self::ScopeAnswer(_) => FrameType::ScopeAnswer,
            Self::ScopePush(_) => FrameType::ScopePush,
            Self::ScopeGone(_) => FrameType::ScopeGone,
            Self::ScopeProbe(_) => FrameType::ScopeProbe,
        }
    }

    fn body_len(&self) -> usize {
        match self {
            Self::Learn(v) => v.encoded_len(),
            Self::Forget(v) => v.encoded_len(),
            Self::Pair(v) => v.encoded_len(),
            Self::Message(v) => v.encoded_len(),
            Self::NameRegister(v) => v.encoded_len(),
            Self::NameUnregister(v) => v.encoded_len(),
            Self::NameClaims(v) => names::claims_len(v),
            Self::ScopeQuery(v) => v.encoded_len(),
            Self::ScopeAnswer(v) => v.encoded_len(),
            Self::ScopePush(v) => v.encoded_len(),
            Self::ScopeGone(v) => v.encoded_len(),
            Self::ScopeProbe(v) => v.encoded_len(),
        }
    }

    /// Bytes [`Self::write`] appends, header included.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.body_len()
    }

    /// Appends the frame with its header.
    ///
    /// # Errors
    /// A body that its format cannot hold (names too long, too many claims).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.push(self.frame_type() as u8);
        let written = match self {
            Self::Learn(v) => {
                v.write(out);
                Ok(())
            }
            Self::Forget(v) => {
                v.write(out);
                Ok(())
            }
            Self::Pair(v) => {
                v.write(out);
                Ok(())
            }
            Self::Message(v) => {
                v.write(out);
                Ok(())
            }
            Self::NameRegister(v) => v.write(out),
            Self::NameUnregister(v) => v.write(out),
            Self::NameClaims(v) => names::write_claims(out, v),
            Self::ScopeQuery(v) => v.write(out),
            Self::ScopeAnswer(v) => v.write(out),
            Self::ScopePush(v) => v.write(out),
            Self::ScopeGone(v) => {
                v.write(out);
                Ok(())
            }
            Self::ScopeProbe(v) => {
                v.write(out);
                Ok(())
            }
        };
        if let Err(e) = written {
            out.truncate(start);
            return Err(e);
        }
        patch_len(out, start)
    }

    /// The frame as bytes.
    ///
    /// # Errors
    /// As [`Self::write`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.write(&mut v)?;
        Ok(v)
    }
}

/// Starts a frame of type `ty` at the end of `out`; returns where it starts,
/// for [`patch_len`] once the body is appended.
pub fn begin(out: &mut Vec<u8>, ty: FrameType) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(ty as u8);
    start
}

/// Writes the length of the frame that starts at `start` and runs to the end
/// of `out`.
///
/// # Errors
/// [`WireError::TooLong`] for a frame over 4 GiB (then `out` is cut back).
pub fn patch_len(out: &mut Vec<u8>, start: usize) -> Result<(), WireError> {
    let Ok(len) = u32::try_from(out.len() - start - 4) else {
        out.truncate(start);
        return Err(WireError::TooLong("frame"));
    };
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    read: usize,
    max: usize,
}

/// A frame cut from a stream: its type byte and body.
#[derive(Debug, PartialEq, Eq)]
pub struct RawFrame {
    /// The type byte (not yet checked).
    pub ty: u8,
    /// The body.
    pub body: Vec<u8>,
}

impl Deframer {
    /// A decoder refusing frames longer than `max` bytes (type and body).
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            read: 0,
            max,
        }
    }

    /// Appends bytes received on the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.read > 0 && self.read >= self.buf.len() / 2 {
            self.buf.drain(..self.read);
            self.read = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet cut into frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.read
    }

    /// The next complete frame, if any, as its type byte and a borrowed body
    /// (no copy).
    ///
    /// # Errors
    /// A zero or oversized length: the stream cannot be resynchronised and
    /// should be closed.
    pub fn next_frame_ref(&mut self) -> Result<Option<(u8, &[u8])>, WireError> {
        let avail = &self.buf[self.read..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let mut l = [0; 4];
        l.copy_from_slice(&avail[..4]);
        let len = u32::from_le_bytes(l) as usize;
        if len == 0 {
            return Err(WireError::InvalidField("frame length"));
        }
        if len > self.max {
            return Err(WireError::TooLong("frame"));
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let start = self.read;
        self.read += 4 + len;
        Ok(Some((
            self.buf[start + 4],
            &self.buf[start + 5..start + 4 + len],
        )))
    }

    /// The next complete frame, if any, copied out.
    ///
    /// # Errors
    /// As [`Self::next_frame_ref`].
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, WireError> {
        Ok(self.next_frame_ref()?.map(|(ty, body)| RawFrame {
            ty,
            body: body.to_vec(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{EngineAddr, NodeId, Time};
    use proptest::prelude::*;

    fn sample() -> Vec<Frame> {
        let claim = Claim {
            name: "n".into(),
            engine: EngineAddr([1; 32]),
            registered: Time(2),
            sig: [3; 64],
        };
        vec![
            Frame::Learn(Learn {
                engine: EngineAddr([1; 32]),
                node: NodeId([2; 32]),
                expires: Time(3),
                engine_sig: [4; 64],
                node_sig: [5; 64],
            }),
            Frame::Forget(Forget {
                engine: EngineAddr([1; 32]),
                node: NodeId([2; 32]),
                issued: Time(3),
                node_sig: [4; 64],
            }),
            Frame::Pair(Pair {
                src: EngineAddr([1; 32]),
                dst: EngineAddr([2; 32]),
                epoch: 3,
                issued: Time(4),
                key: [5; 32],
                sig: [6; 64],
            }),
            Frame::Message(Message {
                src: EngineAddr([1; 32]),
                dst: EngineAddr([2; 32]),
                epoch: 1,
                seq: 2,
                body: vec![0, 1, 2],
                mac: [3; 32],
            }),
            Frame::NameRegister(claim.clone()),
            Frame::NameUnregister(Unclaim {
                name: "n".into(),
                engine: EngineAddr([1; 32]),
                at: Time(9),
                sig: [3; 64],
            }),
            Frame::NameClaims(vec![claim.clone(), claim]),
            Frame::ScopeQuery(ScopeQueryFrame {
                id: 1,
                query: crate::scope::Query {
                    kind: crate::scope::QueryKind::All,
                    ceiling: 255,
                    scope: crate::scope::ScopePath::root(),
                    service: "fs".into(),
                    cred: crate::scope::Credential::Anonymous,
                },
            }),
            Frame::ScopeAnswer(ScopeAnswerFrame {
                id: 1,
                answer: crate::scope::Answer::NoRoute,
            }),
            Frame::ScopePush(ScopePush {
                forwarded: true,
                generation_request: false,
                sync_request: false,
                records: vec![crate::scope::Record {
                    body: crate::scope::Body::Revocation {
                        target: [1; 32],
                        issued: Time(2),
                    },
                    signer: [3; 32],
                    sig: [4; 64],
                }],
            }),
            Frame::ScopeGone(ScopeGone {
                forwarded: false,
                runtime: NodeId([1; 32]),
                at: Time(5),
            }),
            Frame::ScopeProbe(ScopeProbe { id: 7, pong: false }),
        ]
    }

    #[test]
    fn frames_round_trip_through_the_deframer() {
        let mut stream = Vec::new();
        for f in sample() {
            let b = f.to_bytes().unwrap();
            assert_eq!(b.len(), f.encoded_len());
            assert_eq!(Frame::parse_whole(&b), Ok(f.clone()));
            stream.extend_from_slice(&b);
        }
        // Feed one byte at a time: frames come out whole and in order.
        let mut d = Deframer::new(1 << 16);
        let mut out = Vec::new();
        for b in &stream {
            d.push(std::slice::from_ref(b));
            while let Some(raw) = d.next_frame().unwrap() {
                out.push(Frame::parse(raw.ty, &raw.body).unwrap());
            }
        }
        assert_eq!(out, sample());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut d = Deframer::new(10);
        d.push(&[11, 0, 0, 0, 1]);
        assert_eq!(d.next_frame(), Err(WireError::TooLong("frame")));
        let mut d = Deframer::new(10);
        d.push(&[0, 0, 0, 0]);
        assert!(d.next_frame().is_err());
        assert_eq!(Frame::parse(0x99, &[]), Err(WireError::UnknownType(0x99)));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(ty in any::<u8>(), b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Frame::parse(ty, &b);
            let _ = Frame::parse_whole(&b);
            let mut d = Deframer::new(256);
            d.push(&b);
            while let Ok(Some(_)) = d.next_frame() {}
        }

        #[test]
        fn whole_frames_round_trip(i in 0usize..12) {
            let f = sample().swap_remove(i);
            let b = f.to_bytes().unwrap();
            prop_assert_eq!(f.encoded_len(), b.len());
            prop_assert_eq!(Frame::parse_whole(&b), Ok(f));
        }
    }
}
