//! Signals: small messages from one member to another that travel inside
//! the encrypted sessions of the members between them, hop by hop, signed
//! end to end by the sender's node key (and their bodies sealed for the
//! recipient, [`super::signal_seal`]). Hole punching uses them to swap
//! candidate endpoints through any member that both sides reach.
//!
//! ```text
//! 0           1           2           3          4       36      68            76            78
//! | kind 0x02 | hop_limit | body_kind | reserved | src 32 | dst 32 | timestamp u64 | body_len u16 | body | signature 64 |
//! ```
//! The ed25519 signature of `src` covers [`SIGNING_CONTEXT`] followed by the
//! bytes from `body_kind` to the end of the body: everything but the kind
//! and the hop limit, which each forwarder decrements. The timestamp
//! (sender's milliseconds since the Unix epoch, strictly increasing per
//! sender) lets the recipient drop replays.
//!
//! Body kind 2 is sealed for the recipient ([`super::signal_seal`]): only
//! sender and recipient can read it; the signature covers the sealed bytes.
//! Body kind 1 was the same candidates in plaintext, which forwarders could
//! read; nodes refuse it now. The candidates, once opened ([`Candidates`]):
//! ```text
//! | flags u8 | punch_id u64 | mapping u8 | allocation u8 | step i16 | last_port u16 | extra u16 | count u8 | count × (kind u8 | endpoint) |
//! ```
//! Integers little-endian; endpoints as in [`super::endpoint`].

use std::net::SocketAddr;

use super::kind::{checked, Size};
use super::{endpoint, need, read_u64, InnerKind, WireError};

/// Bytes before the body.
pub const HEADER_LEN: usize = 78;
/// Bytes of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Prefix of the signed bytes, so a signature means nothing elsewhere.
pub const SIGNING_CONTEXT: &[u8] = b"tessel signal v1";
/// Most candidates one message carries.
pub const MAX_CANDIDATES: usize = 16;

/// Body kinds.
pub mod body_kind {
    /// Candidate endpoints for hole punching, in plaintext: what nodes sent
    /// before bodies were sealed. Refused now.
    pub const CANDIDATES: u8 = 1;
    /// Candidate endpoints for hole punching ([`super::Candidates`]), sealed
    /// for the recipient ([`crate::wire::signal_seal`]).
    pub const SEALED_CANDIDATES: u8 = 2;
}

/// A checked view over a signal.
#[derive(Debug)]
pub struct Envelope<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Envelope<T> {
    /// Checks the kind and that the body and signature fit exactly.
    ///
    /// # Errors
    /// Returns an error for a wrong kind or inconsistent lengths.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let buffer = checked(
            buffer,
            Size::AtLeast(HEADER_LEN + SIGNATURE_LEN),
            &[InnerKind::Signal],
        )?;
        let b = buffer.as_ref();
        let body_len = usize::from(u16::from_le_bytes([b[76], b[77]]));
        let expected = HEADER_LEN + body_len + SIGNATURE_LEN;
        if b.len() != expected {
            return Err(WireError::WrongLength {
                len: b.len(),
                expected,
            });
        }
        Ok(Self { buffer })
    }

    /// Hops left before the signal is dropped.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// What the body holds.
    pub fn body_kind(&self) -> u8 {
        self.buffer.as_ref()[2]
    }

    /// The sender's node ID bytes.
    pub fn src(&self) -> [u8; 32] {
        self.id_at(4)
    }

    /// The recipient's node ID bytes.
    pub fn dst(&self) -> [u8; 32] {
        self.id_at(36)
    }

    /// The sender's timestamp.
    pub fn timestamp_ms(&self) -> u64 {
        read_u64(self.buffer.as_ref(), 68)
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..b.len() - SIGNATURE_LEN]
    }

    /// The bytes the signature covers, after [`SIGNING_CONTEXT`].
    pub fn signed_part(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[2..b.len() - SIGNATURE_LEN]
    }

    /// The signature.
    pub fn signature(&self) -> [u8; SIGNATURE_LEN] {
        let b = self.buffer.as_ref();
        let mut s = [0u8; SIGNATURE_LEN];
        s.copy_from_slice(&b[b.len() - SIGNATURE_LEN..]);
        s
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn id_at(&self, at: usize) -> [u8; 32] {
        let mut id = [0u8; 32];
        id.copy_from_slice(&self.buffer.as_ref()[at..at + 32]);
        id
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Envelope<T> {
    /// Sets the hop limit (forwarders decrement it).
    pub fn set_hop_limit(&mut self, hops: u8) {
        self.buffer.as_mut()[1] = hops;
    }
}

/// The fields of a signal other than its signature.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// Hops the signal may travel.
    pub hop_limit: u8,
    /// What the body holds.
    pub body_kind: u8,
    /// Sender.
    pub src: &'a [u8; 32],
    /// Recipient.
    pub dst: &'a [u8; 32],
    /// Sender's timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
}

/// Appends a signal with a plaintext body; `sign` gets the bytes to sign
/// (context included). Nodes send only sealed bodies
/// ([`super::signal_seal::emit`]); this writes the others.
///
/// # Errors
/// Returns an error (and appends nothing) if the body is longer than a u16
/// can say.
pub fn emit(
    h: &Header<'_>,
    body: &[u8],
    sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    emit_header(h, body.len(), out)?;
    out.extend_from_slice(body);
    finish(start, sign, out);
    Ok(())
}

/// Appends the header of a signal whose body will be `body_len` bytes, and
/// makes room for the body and the signature.
pub(super) fn emit_header(
    h: &Header<'_>,
    body_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let len = u16::try_from(body_len).map_err(|_| WireError::InvalidField("body length"))?;
    out.reserve(HEADER_LEN + body_len + SIGNATURE_LEN);
    out.extend_from_slice(&[InnerKind::Signal.into(), h.hop_limit, h.body_kind, 0]);
    out.extend_from_slice(h.src);
    out.extend_from_slice(h.dst);
    out.extend_from_slice(&h.timestamp_ms.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Appends the signature to the signal that starts at `start` in `out`,
/// written up to the end of its body.
pub(super) fn finish(
    start: usize,
    sign: impl FnOnce(&[u8]) -> [u8; SIGNATURE_LEN],
    out: &mut Vec<u8>,
) {
    let mut signed = Vec::with_capacity(SIGNING_CONTEXT.len() + out.len() - start);
    signed.extend_from_slice(SIGNING_CONTEXT);
    signed.extend_from_slice(&out[start + 2..]);
    out.extend_from_slice(&sign(&signed));
}

/// How a member's NAT maps ports, as far as it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatHint {
    /// 0 unknown, 1 endpoint-independent, 2 endpoint-dependent.
    pub mapping: u8,
    /// 0 unknown, 1 port preserved, 2 sequential, 3 random.
    pub allocation: u8,
    /// Step between successive mapped ports (sequential allocation).
    pub step: i16,
    /// The last mapped port seen by a reflector.
    pub last_port: u16,
}

/// What kind of address a candidate is.
pub mod candidate_kind {
    /// An address of one of the member's interfaces.
    pub const LOCAL: u8 = 1;
    /// Its address as seen by another member or a STUN server.
    pub const REFLEXIVE: u8 = 2;
    /// A port mapped on its router (PCP, NAT-PMP, UPnP).
    pub const MAPPED: u8 = 3;
}

/// One candidate endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// See [`candidate_kind`].
    pub kind: u8,
    /// The endpoint.
    pub addr: SocketAddr,
}

/// Body kind 1: a member's candidate endpoints, for hole punching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// The sender asks for the recipient's candidates in return.
    pub request: bool,
    /// `nat.last_port` was read just now, for this punch: the sender's NAT
    /// gave that port to a new mapping, and gives the sender's next new
    /// mappings (its probes toward the recipient's predicted ports) the ports
    /// that follow it. Both sides behind NATs that allocate in sequence
    /// aim their probes from these readings (flag bit 1).
    pub fresh: bool,
    /// Names the punching attempt (echoed in the reply).
    pub punch_id: u64,
    /// The sender's NAT, as far as it knows.
    pub nat: NatHint,
    /// Extra sockets the sender opened for this attempt (random-port NATs).
    pub extra_sockets: u16,
    /// The endpoints, best first.
    pub list: Vec<Candidate>,
}

const CANDIDATES_FIXED: usize = 18;

impl Candidates {
    /// Parses a candidates body.
    ///
    /// # Errors
    /// Returns an error for a truncated body, too many candidates or a bad endpoint.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        need(b, CANDIDATES_FIXED)?;
        let count = usize::from(b[17]);
        if count > MAX_CANDIDATES {
            return Err(WireError::InvalidField("candidate count"));
        }
        let mut list = Vec::with_capacity(count);
        let mut rest = &b[CANDIDATES_FIXED..];
        for _ in 0..count {
            need(rest, 1)?;
            let kind = rest[0];
            let (addr, n) = endpoint::parse(&rest[1..])?;
            list.push(Candidate { kind, addr });
            rest = &rest[1 + n..];
        }
        if !rest.is_empty() {
            return Err(WireError::InvalidField("trailing bytes"));
        }
        Ok(Self {
            request: b[0] & 1 != 0,
            fresh: b[0] & 2 != 0,
            punch_id: read_u64(b, 1),
            nat: NatHint {
                mapping: b[9],
                allocation: b[10],
                step: i16::from_le_bytes([b[11], b[12]]),
                last_port: u16::from_le_bytes([b[13], b[14]]),
            },
            extra_sockets: u16::from_le_bytes([b[15], b[16]]),
            list,
        })
    }

    /// Appends the body (at most [`MAX_CANDIDATES`] candidates).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let list = &self.list[..self.list.len().min(MAX_CANDIDATES)];
        out.reserve(CANDIDATES_FIXED + list.len() * 20);
        let b = out;
        b.push(u8::from(self.request) | u8::from(self.fresh) << 1);
        b.extend_from_slice(&self.punch_id.to_le_bytes());
        b.push(self.nat.mapping);
        b.push(self.nat.allocation);
        b.extend_from_slice(&self.nat.step.to_le_bytes());
        b.extend_from_slice(&self.nat.last_port.to_le_bytes());
        b.extend_from_slice(&self.extra_sockets.to_le_bytes());
        b.push(list.len() as u8);
        for c in list {
            b.push(c.kind);
            endpoint::emit(&c.addr, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;

    fn sample() -> Candidates {
        Candidates {
            request: true,
            fresh: true,
            punch_id: 42,
            nat: NatHint {
                mapping: 2,
                allocation: 2,
                step: -2,
                last_port: 40_000,
            },
            extra_sockets: 256,
            list: vec![
                Candidate {
                    kind: candidate_kind::LOCAL,
                    addr: "198.18.0.2:9740".parse().unwrap(),
                },
                Candidate {
                    kind: candidate_kind::REFLEXIVE,
                    addr: "[2001:db8::1]:9740".parse().unwrap(),
                },
            ],
        }
    }

    #[test]
    fn candidates_round_trip() {
        let c = sample();
        assert_eq!(Candidates::parse(&to_vec(|o| c.emit(o))).unwrap(), c);
    }

    #[test]
    fn candidates_reject_truncation_and_trailing_bytes() {
        let b = to_vec(|o| sample().emit(o));
        for n in 0..b.len() {
            assert!(Candidates::parse(&b[..n]).is_err(), "prefix {n}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(Candidates::parse(&long).is_err());
    }

    #[test]
    fn envelope_round_trip_and_signed_part() {
        let body = to_vec(|o| sample().emit(o));
        let h = Header {
            hop_limit: 4,
            body_kind: body_kind::CANDIDATES,
            src: &[1; 32],
            dst: &[2; 32],
            timestamp_ms: 7,
        };
        let mut seen = Vec::new();
        let mut b = Vec::new();
        let sign = |m: &[u8]| {
            seen = m.to_vec();
            [9; SIGNATURE_LEN]
        };
        emit(&h, &body, sign, &mut b).unwrap();
        let mut e = Envelope::new_checked(b).unwrap();
        assert_eq!(e.hop_limit(), 4);
        assert_eq!(e.body_kind(), 1);
        assert_eq!(e.src(), [1; 32]);
        assert_eq!(e.dst(), [2; 32]);
        assert_eq!(e.timestamp_ms(), 7);
        assert_eq!(e.body(), &body[..]);
        assert_eq!(e.signature(), [9; SIGNATURE_LEN]);
        assert_eq!(&seen[..SIGNING_CONTEXT.len()], SIGNING_CONTEXT);
        assert_eq!(&seen[SIGNING_CONTEXT.len()..], e.signed_part());
        e.set_hop_limit(3);
        assert_eq!(e.hop_limit(), 3);
        assert_eq!(&seen[SIGNING_CONTEXT.len()..], e.signed_part());
        let bytes = e.as_bytes().to_vec();
        assert!(Envelope::new_checked(&bytes[..bytes.len() - 1]).is_err());
    }
}
