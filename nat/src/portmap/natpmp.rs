//! NAT-PMP messages (RFC 6886), sent to the gateway's UDP port 5351.
//!
//! All integers are big-endian.
//!
//! ```text
//! external address request   | ver 0 | op 0 |
//! map request                | ver 0 | op 1 (UDP) or 2 (TCP) | reserved 2 |
//!                            | internal port 2 | suggested external port 2 | lifetime 4 |
//! response header            | ver 0 | op 128+n | result code 2 | epoch (seconds since start) 4 |
//!   external address (op 128)  header + | external IPv4 address 4 |          = 12 bytes
//!   map (op 129, 130)          header + | internal port 2 | external port 2 | lifetime 4 | = 16
//! ```
//!
//! A response with a non-zero result code may stop after the 8-byte
//! header (an "unsupported version" answer always does). A request with
//! lifetime 0 deletes the mapping of its internal port.

use std::net::Ipv4Addr;

use super::error::{be16, be32, need, WireError};

/// The gateway's NAT-PMP (and PCP) port.
pub const SERVER_PORT: u16 = 5351;

/// The protocol version this module speaks.
pub const VERSION: u8 = 0;

/// Bytes of an external address request.
pub const EXTERNAL_ADDRESS_REQUEST_LEN: usize = 2;

/// Bytes of a map request.
pub const MAP_REQUEST_LEN: usize = 12;

/// Bytes of a response header (all an error response needs).
pub const HEADER_LEN: usize = 8;

/// Bytes of a successful external address response.
pub const EXTERNAL_ADDRESS_RESPONSE_LEN: usize = 12;

/// Bytes of a successful map response.
pub const MAP_RESPONSE_LEN: usize = 16;

/// Added to a request's opcode in its response.
const RESPONSE_BIT: u8 = 128;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    /// The gateway's external IPv4 address.
    ExternalAddress = 0,
    /// A UDP port mapping.
    MapUdp = 1,
    /// A TCP port mapping.
    MapTcp = 2,
}

impl Opcode {
    fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::ExternalAddress),
            1 => Some(Self::MapUdp),
            2 => Some(Self::MapTcp),
            _ => None,
        }
    }
}

/// The result code of a response (RFC 6886 section 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// Success.
    Success,
    /// The gateway does not speak this version (a PCP-only gateway, or a
    /// NAT-PMP gateway answering a PCP request says so).
    UnsupportedVersion,
    /// Mapping is disabled or refused by policy.
    NotAuthorized,
    /// The gateway has no external address yet.
    NetworkFailure,
    /// No ports left.
    OutOfResources,
    /// The opcode is not supported.
    UnsupportedOpcode,
    /// A code this module does not know.
    Other(u16),
}

impl ResultCode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Success => 0,
            Self::UnsupportedVersion => 1,
            Self::NotAuthorized => 2,
            Self::NetworkFailure => 3,
            Self::OutOfResources => 4,
            Self::UnsupportedOpcode => 5,
            Self::Other(c) => c,
        }
    }

    /// The code from the wire.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Success,
            1 => Self::UnsupportedVersion,
            2 => Self::NotAuthorized,
            3 => Self::NetworkFailure,
            4 => Self::OutOfResources,
            5 => Self::UnsupportedOpcode,
            c => Self::Other(c),
        }
    }

    /// Whether asking again later may succeed (the gateway lacks an
    /// address or ports for now).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::NetworkFailure | Self::OutOfResources)
    }
}

/// A map request's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    /// UDP or TCP (`Opcode::MapUdp` or `Opcode::MapTcp`).
    pub opcode: Opcode,
    /// The client's port.
    pub internal_port: u16,
    /// The external port the client would like (0: any; 0 when deleting).
    pub suggested_external_port: u16,
    /// Seconds the mapping should live; 0 deletes it.
    pub lifetime: u32,
}

/// Writes an external address request.
pub fn emit_external_address_request() -> [u8; EXTERNAL_ADDRESS_REQUEST_LEN] {
    [VERSION, Opcode::ExternalAddress as u8]
}

/// Writes a map request.
pub fn emit_map_request(req: &MapRequest) -> [u8; MAP_REQUEST_LEN] {
    let mut b = [0u8; MAP_REQUEST_LEN];
    b[0] = VERSION;
    b[1] = req.opcode as u8;
    b[4..6].copy_from_slice(&req.internal_port.to_be_bytes());
    b[6..8].copy_from_slice(&req.suggested_external_port.to_be_bytes());
    b[8..12].copy_from_slice(&req.lifetime.to_be_bytes());
    b
}

/// A request as a gateway reads it (used by tests that play the gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// An external address request.
    ExternalAddress,
    /// A map request.
    Map(MapRequest),
}

/// Parses a request.
///
/// # Errors
/// Returns an error if the version, opcode or length is wrong.
pub fn parse_request(b: &[u8]) -> Result<Request, WireError> {
    need(b, 2)?;
    if b[0] != VERSION {
        return Err(WireError::InvalidField("version"));
    }
    match Opcode::from_u8(b[1]) {
        Some(Opcode::ExternalAddress) => Ok(Request::ExternalAddress),
        Some(opcode) => {
            need(b, MAP_REQUEST_LEN)?;
            Ok(Request::Map(MapRequest {
                opcode,
                internal_port: be16(b, 4),
                suggested_external_port: be16(b, 6),
                lifetime: be32(b, 8),
            }))
        }
        None => Err(WireError::InvalidField("opcode")),
    }
}

/// A view over a NAT-PMP response.
#[derive(Debug)]
pub struct Response<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Response<T> {
    /// Checks version, opcode and length; the only constructor for
    /// untrusted input. A successful response must carry its whole body.
    ///
    /// # Errors
    /// Returns an error if the buffer is not a NAT-PMP response.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN)?;
        if b[0] != VERSION {
            return Err(WireError::InvalidField("version"));
        }
        if b[1] & RESPONSE_BIT == 0 {
            return Err(WireError::InvalidField("response bit"));
        }
        let Some(op) = Opcode::from_u8(b[1] & !RESPONSE_BIT) else {
            return Err(WireError::InvalidField("opcode"));
        };
        if be16(b, 2) == 0 {
            need(
                b,
                match op {
                    Opcode::ExternalAddress => EXTERNAL_ADDRESS_RESPONSE_LEN,
                    Opcode::MapUdp | Opcode::MapTcp => MAP_RESPONSE_LEN,
                },
            )?;
        }
        Ok(Self { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The opcode of the request this answers.
    pub fn opcode(&self) -> Opcode {
        Opcode::from_u8(self.b()[1] & !RESPONSE_BIT).unwrap_or(Opcode::ExternalAddress)
    }

    /// The result code.
    pub fn result(&self) -> ResultCode {
        ResultCode::from_code(be16(self.b(), 2))
    }

    /// Seconds since the gateway's mapping table was last reset.
    pub fn epoch(&self) -> u32 {
        be32(self.b(), 4)
    }

    /// The external address, in a successful external address response.
    pub fn external_address(&self) -> Option<Ipv4Addr> {
        let b = self.b();
        (self.opcode() == Opcode::ExternalAddress && b.len() >= EXTERNAL_ADDRESS_RESPONSE_LEN)
            .then(|| Ipv4Addr::new(b[8], b[9], b[10], b[11]))
    }

    /// Internal port, external port and lifetime, in a map response that
    /// carries them.
    pub fn mapping(&self) -> Option<(u16, u16, u32)> {
        let b = self.b();
        (self.opcode() != Opcode::ExternalAddress && b.len() >= MAP_RESPONSE_LEN)
            .then(|| (be16(b, 8), be16(b, 10), be32(b, 12)))
    }
}

/// Writes a response header with `result` and `epoch` for `opcode`, and
/// the body if given (a gateway's side; used by tests and the fuzz target).
pub fn emit_response(opcode: Opcode, result: ResultCode, epoch: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + body.len());
    v.push(VERSION);
    v.push(opcode as u8 | RESPONSE_BIT);
    v.extend_from_slice(&result.code().to_be_bytes());
    v.extend_from_slice(&epoch.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// The body of a successful external address response.
pub fn external_address_body(addr: Ipv4Addr) -> [u8; 4] {
    addr.octets()
}

/// The body of a successful map response.
pub fn map_body(internal_port: u16, external_port: u16, lifetime: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&internal_port.to_be_bytes());
    b[2..4].copy_from_slice(&external_port.to_be_bytes());
    b[4..8].copy_from_slice(&lifetime.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_request_layout() {
        let b = emit_map_request(&MapRequest {
            opcode: Opcode::MapUdp,
            internal_port: 9740,
            suggested_external_port: 9741,
            lifetime: 7200,
        });
        assert_eq!(b, [0, 1, 0, 0, 0x26, 0x0c, 0x26, 0x0d, 0, 0, 0x1c, 0x20]);
        assert_eq!(
            parse_request(&b).unwrap(),
            Request::Map(MapRequest {
                opcode: Opcode::MapUdp,
                internal_port: 9740,
                suggested_external_port: 9741,
                lifetime: 7200
            })
        );
        assert_eq!(
            parse_request(&emit_external_address_request()).unwrap(),
            Request::ExternalAddress
        );
        assert!(parse_request(&b[..11]).is_err());
        assert!(parse_request(&[2, 1]).is_err());
    }

    #[test]
    fn responses_as_miniupnpd_sends_them() {
        // Captured from miniupnpd 2.3.1: external address 203.0.113.1, epoch 11.
        let ext = [0, 0x80, 0, 0, 0, 0, 0, 11, 203, 0, 113, 1];
        let r = Response::new_checked(&ext[..]).unwrap();
        assert_eq!(r.opcode(), Opcode::ExternalAddress);
        assert_eq!(r.result(), ResultCode::Success);
        assert_eq!(r.epoch(), 11);
        assert_eq!(r.external_address(), Some(Ipv4Addr::new(203, 0, 113, 1)));
        assert_eq!(r.mapping(), None);
        let map = [
            0, 0x81, 0, 0, 0, 0, 0, 11, 0x26, 0x0c, 0x26, 0x0c, 0, 0, 0, 120,
        ];
        let r = Response::new_checked(&map[..]).unwrap();
        assert_eq!(r.opcode(), Opcode::MapUdp);
        assert_eq!(r.mapping(), Some((9740, 9740, 120)));
        // A network failure: the same 12 bytes with code 3 parse, and so
        // does a bare 8-byte error header.
        let fail = [0, 0x80, 0, 3, 0, 0, 0, 1];
        let r = Response::new_checked(&fail[..]).unwrap();
        assert_eq!(r.result(), ResultCode::NetworkFailure);
        assert!(r.result().is_transient());
        assert_eq!(r.external_address(), None);
    }

    #[test]
    fn rejects_malformed() {
        assert!(Response::new_checked(&[0u8, 0x80, 0, 0, 0, 0, 0, 1][..]).is_err());
        assert!(Response::new_checked(&[0u8, 0x81, 0, 0, 0, 0, 0, 1, 1, 2][..]).is_err());
        assert!(Response::new_checked(&[0u8, 0x01, 0, 3, 0, 0, 0, 1][..]).is_err());
        assert!(Response::new_checked(&[2u8, 0x81, 0, 3, 0, 0, 0, 1][..]).is_err());
        assert!(Response::new_checked(&[0u8, 0x85, 0, 3, 0, 0, 0, 1][..]).is_err());
        assert!(Response::new_checked(&[][..]).is_err());
    }

    #[test]
    fn emit_parses_back() {
        let v = emit_response(Opcode::MapUdp, ResultCode::Success, 7, &map_body(1, 2, 3));
        let r = Response::new_checked(&v[..]).unwrap();
        assert_eq!((r.epoch(), r.mapping()), (7, Some((1, 2, 3))));
        let v = emit_response(
            Opcode::ExternalAddress,
            ResultCode::Success,
            9,
            &external_address_body(Ipv4Addr::new(192, 0, 2, 1)),
        );
        let r = Response::new_checked(&v[..]).unwrap();
        assert_eq!(r.external_address(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    }
}
