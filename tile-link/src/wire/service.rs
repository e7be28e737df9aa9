//! Service packets: standard routed packets with MFMT=0 and a second
//! header byte naming the service.
//!
//! ```text
//!   BYTE 0                                   BYTE 1
//!   STND LOCL MFMT
//!  +----------------------------------------++---------------------------------------+
//!  |  1 |  0 | 0  |OVRN|EROR|DIR2|DIR1|DIR0||RSV1|RSV0|SVC5|SVC4|SVC3|SVC2|SVC1|SVC0|
//!  +----------------------------------------++---------------------------------------+
//! ```
//!
//! Services run 1 to 63; service 0 is null and RSV1/RSV0 must be zero.
//! Services are peer to peer: there are no source ports, and the sender is
//! told apart by DIR alone.

use super::routed::Header;
use super::{check_len, WireError};
use crate::dir::Dir;

mod field {
    pub(super) const HEADER: usize = 0;
    pub(super) const SERVICE: usize = 1;
    pub(super) const PAYLOAD: usize = 2;
    pub(super) const RSV: u8 = 0xc0;
    pub(super) const SVC: u8 = 0x3f;
}

/// Bytes of the service header (byte 0 and byte 1).
pub const HEADER_LEN: usize = field::PAYLOAD;
/// The largest service payload.
pub const MAX_PAYLOAD_LEN: usize = super::MAX_PACKET_LEN - HEADER_LEN;

/// A service number, 1 to 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Service(u8);

impl Service {
    /// The largest service number.
    pub const MAX: u8 = 63;
    /// The managed file update service.
    pub const FILE_UPDATE: Self = Self(8);
    /// Change physics announcements (Tessel's choice; the notes leave it open).
    pub const PHYSICS: Self = Self(9);

    /// The service numbered `n`.
    ///
    /// # Errors
    /// [`WireError::NullService`] for 0, [`WireError::ReservedBits`] above 63.
    pub fn new(n: u8) -> Result<Self, WireError> {
        if n & field::RSV != 0 {
            return Err(WireError::ReservedBits(n));
        }
        if n == 0 {
            return Err(WireError::NullService);
        }
        Ok(Self(n))
    }

    /// The number, 1 to 63.
    pub fn number(self) -> u8 {
        self.0
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A view over a service packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks length, byte 0 (routed, MFMT=0) and byte 1 (reserved bits
    /// zero, service not null); the only constructor for untrusted input.
    ///
    /// # Errors
    /// The first check that fails.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_len(b, 1)?;
        let h = Header::parse(b[field::HEADER])?;
        if h.mfmt {
            return Err(WireError::WrongFormat {
                expected: "service",
                byte0: b[field::HEADER],
            });
        }
        check_len(b, HEADER_LEN)?;
        Service::new(b[field::SERVICE])?;
        Ok(Self { buffer })
    }

    /// Byte 0.
    pub fn header(&self) -> Header {
        let b = self.buffer.as_ref()[field::HEADER];
        Header {
            mfmt: false,
            ovrn: b & 0x10 != 0,
            eror: b & 0x08 != 0,
            dir: Dir::from_bits(b),
        }
    }

    /// The service number from byte 1.
    pub fn service(&self) -> Service {
        Service(self.buffer.as_ref()[field::SERVICE] & field::SVC)
    }

    /// The bytes after the two header bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

/// A service packet's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Byte 0 (MFMT is always 0 here).
    pub header: Header,
    /// Byte 1.
    pub service: Service,
    /// At most [`MAX_PAYLOAD_LEN`] bytes.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Self {
        Self {
            header: packet.header(),
            service: packet.service(),
            payload: packet.payload(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes the packet into exactly [`Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If `buf` has another length.
    pub fn emit(&self, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.buffer_len(), "service packet buffer");
        let header = Header {
            mfmt: false,
            ..self.header
        };
        buf[field::HEADER] = header.to_byte();
        buf[field::SERVICE] = self.service.0;
        buf[field::PAYLOAD..].copy_from_slice(self.payload);
    }

    /// The packet as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_bit_layout() {
        let mut buf = [0xa5u8; 4];
        Repr {
            header: Header::service(Dir::SouthWest),
            service: Service::FILE_UPDATE,
            payload: &[1, 2],
        }
        .emit(&mut buf);
        // 1 0 0 0 0 101 | 00 001000
        assert_eq!(buf, [0b1000_0101, 0b0000_1000, 1, 2]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.service().number(), 8);
        assert_eq!(p.header().dir, Dir::SouthWest);
        assert_eq!(
            Packet::new_checked(&[0x85u8, 0x80][..]).unwrap_err(),
            WireError::ReservedBits(0x80)
        );
        assert_eq!(
            Packet::new_checked(&[0x85u8, 0x00][..]).unwrap_err(),
            WireError::NullService
        );
        assert!(matches!(
            Packet::new_checked(&[0xa5u8, 0x08][..]),
            Err(WireError::WrongFormat { .. })
        ));
        assert_eq!(
            Packet::new_checked(&[0x85u8, 63][..])
                .unwrap()
                .service()
                .number(),
            63
        );
    }

    proptest! {
        #[test]
        fn roundtrip(ovrn: bool, eror: bool, d in 0u8..8, svc in 1u8..64,
                     payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD_LEN)) {
            let r = Repr {
                header: Header { mfmt: false, ovrn, eror, dir: Dir::from_bits(d) },
                service: Service::new(svc).unwrap(),
                payload: &payload,
            };
            let buf = r.to_vec();
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), r);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let r = Repr::parse(&p);
                prop_assert_eq!(r.to_vec(), bytes);
            }
        }
    }
}
