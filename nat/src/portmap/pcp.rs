//! PCP messages (RFC 6887): the MAP and ANNOUNCE opcodes, sent to the
//! gateway's UDP port 5351.
//!
//! All integers are big-endian; addresses are 16 bytes, IPv4 addresses in
//! their IPv4-mapped form `::ffff:a.b.c.d` (and `::ffff:0.0.0.0` for "any
//! IPv4 address").
//!
//! ```text
//! request header (24)   | ver 2 | R=0, opcode 7 bits | reserved 2 | requested lifetime 4 |
//!                       | client IP address 16 |
//! response header (24)  | ver 2 | R=1, opcode | reserved 1 | result code 1 | lifetime 4 |
//!                       | epoch 4 | reserved 12 |
//! MAP payload (36)      | nonce 12 | protocol 1 | reserved 3 | internal port 2 |
//!                       | suggested/assigned external port 2 | suggested/assigned external IP 16 |
//! options               | code 1 | reserved 1 | length 2 | data, padded to 4 |
//! ```
//!
//! ANNOUNCE (opcode 0) has no payload. A message is at most 1100 bytes and
//! a multiple of 4. A MAP request with lifetime 0 deletes the mapping
//! of its nonce, protocol and internal port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{be16, be32, need, WireError};

/// The protocol version this module speaks.
pub const VERSION: u8 = 2;

/// Bytes of a request or response header.
pub const HEADER_LEN: usize = 24;

/// Bytes of the MAP opcode's payload.
pub const MAP_LEN: usize = 36;

/// Longest PCP message.
pub const MAX_LEN: usize = 1100;

/// IANA protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

const RESPONSE_BIT: u8 = 0x80;

/// The opcodes this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    /// "Are you there; did you restart?" (no payload).
    Announce = 0,
    /// Create, renew or delete a mapping.
    Map = 1,
    /// A mapping toward one remote peer (not used here; parsed as opaque).
    Peer = 2,
}

impl Opcode {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Announce),
            1 => Some(Self::Map),
            2 => Some(Self::Peer),
            _ => None,
        }
    }
}

/// The result code of a response (RFC 6887 section 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// Success.
    Success,
    /// The server does not speak this version.
    UnsupportedVersion,
    /// Refused by policy.
    NotAuthorized,
    /// The request could not be parsed.
    MalformedRequest,
    /// The opcode is not supported.
    UnsupportedOpcode,
    /// A mandatory option is not supported.
    UnsupportedOption,
    /// An option could not be parsed.
    MalformedOption,
    /// The server has no external address yet.
    NetworkFailure,
    /// No ports or table entries left.
    NoResources,
    /// The protocol is not supported.
    UnsupportedProtocol,
    /// The client's quota is used up.
    UserExceededQuota,
    /// The suggested external address or port cannot be given.
    CannotProvideExternal,
    /// The client address field does not match the request's source.
    AddressMismatch,
    /// Too many remote peers (PEER).
    ExcessiveRemotePeers,
    /// A code this module does not know.
    Other(u8),
}

impl ResultCode {
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::UnsupportedVersion => 1,
            Self::NotAuthorized => 2,
            Self::MalformedRequest => 3,
            Self::UnsupportedOpcode => 4,
            Self::UnsupportedOption => 5,
            Self::MalformedOption => 6,
            Self::NetworkFailure => 7,
            Self::NoResources => 8,
            Self::UnsupportedProtocol => 9,
            Self::UserExceededQuota => 10,
            Self::CannotProvideExternal => 11,
            Self::AddressMismatch => 12,
            Self::ExcessiveRemotePeers => 13,
            Self::Other(c) => c,
        }
    }

    /// The code from the wire.
    pub fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::UnsupportedVersion,
            2 => Self::NotAuthorized,
            3 => Self::MalformedRequest,
            4 => Self::UnsupportedOpcode,
            5 => Self::UnsupportedOption,
            6 => Self::MalformedOption,
            7 => Self::NetworkFailure,
            8 => Self::NoResources,
            9 => Self::UnsupportedProtocol,
            10 => Self::UserExceededQuota,
            11 => Self::CannotProvideExternal,
            12 => Self::AddressMismatch,
            13 => Self::ExcessiveRemotePeers,
            c => Self::Other(c),
        }
    }

    /// The RFC's "short lifetime" errors: asking again later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::NetworkFailure
                | Self::NoResources
                | Self::UserExceededQuota
                | Self::CannotProvideExternal
                | Self::ExcessiveRemotePeers
        )
    }
}

/// An address in PCP's 16-byte form (IPv4 as `::ffff:a.b.c.d`).
pub fn addr_to_wire(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// An address from PCP's 16-byte form (IPv4-mapped becomes IPv4).
pub fn addr_from_wire(b: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(b);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// "Any address of this family", as a suggested external address.
pub fn any_addr_like(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The MAP opcode's payload, in a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapPayload {
    /// Chosen by the client; ties responses and later requests to the mapping.
    pub nonce: [u8; 12],
    /// IANA protocol number (17 for UDP).
    pub protocol: u8,
    /// The client's port.
    pub internal_port: u16,
    /// Suggested (request) or assigned (response) external port.
    pub external_port: u16,
    /// Suggested (request) or assigned (response) external address.
    pub external_addr: IpAddr,
}

impl MapPayload {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.nonce);
        out.push(self.protocol);
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.internal_port.to_be_bytes());
        out.extend_from_slice(&self.external_port.to_be_bytes());
        out.extend_from_slice(&addr_to_wire(self.external_addr));
    }

    fn read(b: &[u8]) -> Self {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&b[0..12]);
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&b[20..36]);
        Self {
            nonce,
            protocol: b[12],
            internal_port: be16(b, 16),
            external_port: be16(b, 18),
            external_addr: addr_from_wire(addr),
        }
    }
}

/// Writes a request: `map` is the payload of a MAP request, `None` an
/// ANNOUNCE.
pub fn emit_request(lifetime: u32, client: IpAddr, map: Option<&MapPayload>) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + MAP_LEN);
    v.push(VERSION);
    v.push(match map {
        Some(_) => Opcode::Map as u8,
        None => Opcode::Announce as u8,
    });
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&lifetime.to_be_bytes());
    v.extend_from_slice(&addr_to_wire(client));
    if let Some(m) = map {
        m.write(&mut v);
    }
    v
}

/// Writes a response (a server's side; used by tests and the fuzz target).
pub fn emit_response(
    opcode: Opcode,
    result: ResultCode,
    lifetime: u32,
    epoch: u32,
    map: Option<&MapPayload>,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + MAP_LEN);
    v.push(VERSION);
    v.push(opcode as u8 | RESPONSE_BIT);
    v.push(0);
    v.push(result.code());
    v.extend_from_slice(&lifetime.to_be_bytes());
    v.extend_from_slice(&epoch.to_be_bytes());
    v.extend_from_slice(&[0; 12]);
    if let Some(m) = map {
        m.write(&mut v);
    }
    v
}

/// Checks the common framing: length, version, R bit, opcode, options.
/// Returns the opcode and where the options start.
fn check_frame(b: &[u8], response: bool) -> Result<(Opcode, usize), WireError> {
    need(b, HEADER_LEN)?;
    if b.len() > MAX_LEN {
        return Err(WireError::TooLong {
            len: b.len(),
            max: MAX_LEN,
        });
    }
    if !b.len().is_multiple_of(4) {
        return Err(WireError::InvalidField("length not a multiple of 4"));
    }
    if b[0] != VERSION {
        return Err(WireError::InvalidField("version"));
    }
    if (b[1] & RESPONSE_BIT != 0) != response {
        return Err(WireError::InvalidField("R bit"));
    }
    let opcode = Opcode::from_u8(b[1] & !RESPONSE_BIT).ok_or(WireError::InvalidField("opcode"))?;
    let payload = match opcode {
        Opcode::Announce => 0,
        Opcode::Map => MAP_LEN,
        Opcode::Peer => MAP_LEN + 20,
    };
    Ok((opcode, HEADER_LEN + payload))
}

/// Checks that the options from `at` on are well framed.
fn check_options(b: &[u8], mut at: usize) -> Result<(), WireError> {
    while at < b.len() {
        need(b, at + 4)?;
        let len = usize::from(be16(b, at + 2));
        let padded = len.div_ceil(4) * 4;
        need(b, at + 4 + padded)?;
        at += 4 + padded;
    }
    Ok(())
}

/// Iterates over the options from `at` on (already checked).
fn options(b: &[u8], mut at: usize) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        if at + 4 > b.len() {
            return None;
        }
        let code = b[at];
        let len = usize::from(be16(b, at + 2));
        let data = b.get(at + 4..at + 4 + len)?;
        at += 4 + len.div_ceil(4) * 4;
        Some((code, data))
    })
}

/// A view over a PCP response.
#[derive(Debug)]
pub struct Response<T: AsRef<[u8]>> {
    buffer: T,
    options_at: usize,
}

impl<T: AsRef<[u8]>> Response<T> {
    /// Checks framing, version, opcode and options; the only constructor
    /// for untrusted input. A successful MAP response must carry its
    /// payload; an error response may stop after the header.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a PCP response.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let (_, options_at) = check_frame(b, true)?;
        if b[3] == 0 || b.len() >= options_at {
            need(b, options_at)?;
            check_options(b, options_at)?;
        }
        Ok(Self { buffer, options_at })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The opcode of the request this answers.
    pub fn opcode(&self) -> Opcode {
        Opcode::from_u8(self.b()[1] & !RESPONSE_BIT).unwrap_or(Opcode::Announce)
    }

    /// The result code.
    pub fn result(&self) -> ResultCode {
        ResultCode::from_code(self.b()[3])
    }

    /// On success the mapping's lifetime; on error how long the error holds,
    /// in seconds.
    pub fn lifetime(&self) -> u32 {
        be32(self.b(), 4)
    }

    /// Seconds since the server's mapping state was last reset.
    pub fn epoch(&self) -> u32 {
        be32(self.b(), 8)
    }

    /// The MAP payload, if this is a MAP response that carries one.
    pub fn map(&self) -> Option<MapPayload> {
        let b = self.b();
        (self.opcode() == Opcode::Map && b.len() >= HEADER_LEN + MAP_LEN)
            .then(|| MapPayload::read(&b[HEADER_LEN..]))
    }

    /// The options, as (code, data).
    pub fn options(&self) -> impl Iterator<Item = (u8, &[u8])> {
        let b = self.b();
        let at = if b.len() >= self.options_at {
            self.options_at
        } else {
            b.len()
        };
        options(b, at)
    }
}

/// A request as a server reads it (used by tests that play the gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The opcode (MAP or ANNOUNCE; PEER is reported without its payload).
    pub opcode: Opcode,
    /// Requested lifetime in seconds.
    pub lifetime: u32,
    /// The client's address as it wrote it.
    pub client: IpAddr,
    /// The MAP payload.
    pub map: Option<MapPayload>,
}

/// Parses a request.
///
/// # Errors
/// Returns an error if the buffer is not a well-framed PCP request.
pub fn parse_request(b: &[u8]) -> Result<Request, WireError> {
    let (opcode, options_at) = check_frame(b, false)?;
    need(b, options_at)?;
    check_options(b, options_at)?;
    let mut client = [0u8; 16];
    client.copy_from_slice(&b[8..24]);
    Ok(Request {
        opcode,
        lifetime: be32(b, 4),
        client: addr_from_wire(client),
        map: (opcode == Opcode::Map).then(|| MapPayload::read(&b[HEADER_LEN..])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> MapPayload {
        MapPayload {
            nonce: [7; 12],
            protocol: PROTO_UDP,
            internal_port: 9740,
            external_port: 9740,
            external_addr: Ipv4Addr::UNSPECIFIED.into(),
        }
    }

    #[test]
    fn map_request_layout() {
        let client: IpAddr = Ipv4Addr::new(198, 18, 1, 2).into();
        let b = emit_request(7200, client, Some(&payload()));
        assert_eq!(b.len(), HEADER_LEN + MAP_LEN);
        assert_eq!(&b[..8], &[2, 1, 0, 0, 0, 0, 0x1c, 0x20]);
        assert_eq!(
            &b[8..24],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 1, 2]
        );
        assert_eq!(&b[24..36], &[7; 12]);
        assert_eq!(&b[36..40], &[17, 0, 0, 0]);
        assert_eq!(&b[40..44], &[0x26, 0x0c, 0x26, 0x0c]);
        assert_eq!(
            &b[44..60],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
        );
        let r = parse_request(&b).unwrap();
        assert_eq!(r.client, client);
        assert_eq!(r.lifetime, 7200);
        assert_eq!(r.map, Some(payload()));
        let a = emit_request(0, client, None);
        assert_eq!(a.len(), HEADER_LEN);
        assert_eq!(parse_request(&a).unwrap().opcode, Opcode::Announce);
    }

    #[test]
    fn map_response_round_trip() {
        let mut p = payload();
        p.external_addr = Ipv4Addr::new(203, 0, 113, 1).into();
        p.external_port = 40000;
        let v = emit_response(Opcode::Map, ResultCode::Success, 120, 33, Some(&p));
        let r = Response::new_checked(&v[..]).unwrap();
        assert_eq!(r.opcode(), Opcode::Map);
        assert_eq!(r.result(), ResultCode::Success);
        assert_eq!((r.lifetime(), r.epoch()), (120, 33));
        assert_eq!(r.map(), Some(p));
        assert_eq!(r.options().count(), 0);
    }

    #[test]
    fn options_are_framed() {
        let mut v = emit_response(Opcode::Map, ResultCode::Success, 1, 1, Some(&payload()));
        // THIRD_PARTY-like option of 5 bytes, padded to 8.
        v.extend_from_slice(&[1, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
        let r = Response::new_checked(&v[..]).unwrap();
        let opts: Vec<_> = r.options().collect();
        assert_eq!(opts, vec![(1u8, &[1u8, 2, 3, 4, 5][..])]);
        // The option claims more than is there.
        let n = v.len();
        v[n - 9] = 9;
        assert!(Response::new_checked(&v[..]).is_err());
    }

    #[test]
    fn error_responses_may_be_short() {
        let v = emit_response(Opcode::Map, ResultCode::NotAuthorized, 30, 5, None);
        let r = Response::new_checked(&v[..]).unwrap();
        assert_eq!(r.result(), ResultCode::NotAuthorized);
        assert!(!r.result().is_transient());
        assert_eq!(r.map(), None);
        let ok_without_payload = emit_response(Opcode::Map, ResultCode::Success, 30, 5, None);
        assert!(Response::new_checked(&ok_without_payload[..]).is_err());
    }

    #[test]
    fn rejects_malformed() {
        let good = emit_response(Opcode::Announce, ResultCode::Success, 0, 1, None);
        assert!(Response::new_checked(&good[..]).is_ok());
        let mut bad = good.clone();
        bad[0] = 0;
        assert!(Response::new_checked(&bad[..]).is_err());
        let mut bad = good.clone();
        bad[1] = 0;
        assert!(Response::new_checked(&bad[..]).is_err());
        let mut bad = good.clone();
        bad[1] = 0x80 | 9;
        assert!(Response::new_checked(&bad[..]).is_err());
        assert!(Response::new_checked(&good[..23]).is_err());
        let mut long = good.clone();
        long.extend_from_slice(&[0; 2]);
        assert!(Response::new_checked(&long[..]).is_err());
        assert!(Response::new_checked(&vec![0u8; 1104][..]).is_err());
    }

    #[test]
    fn ipv4_mapped_form() {
        let a: IpAddr = Ipv4Addr::new(192, 0, 2, 7).into();
        assert_eq!(addr_from_wire(addr_to_wire(a)), a);
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(addr_from_wire(addr_to_wire(b)), b);
        assert_eq!(any_addr_like(a), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
