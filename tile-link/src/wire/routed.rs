//! Byte 0 of a standard routed packet.
//!
//! ```text
//!   STND LOCL MFMT
//!  +----------------------------------------+
//!  |  1 |  0 |MFMT|OVRN|EROR|DIR2|DIR1|DIR0|
//!  +----------------------------------------+
//! ```
//!
//! MFMT=1 marks MFM traffic. OVRN and EROR are set only by the link, to
//! report an overrun or an error; a program sends them as zero. When a
//! program sends, DIR names the direction to send to; on receipt the link
//! rewrites it to the direction the packet came from.

use super::{check_len, WireError, LOCL, STND};
use crate::dir::Dir;

mod field {
    pub(super) const HEADER: usize = 0;
    pub(super) const PAYLOAD: usize = 1;
    pub(super) const MFMT: u8 = 0x20;
    pub(super) const OVRN: u8 = 0x10;
    pub(super) const EROR: u8 = 0x08;
    pub(super) const DIR: u8 = 0x07;
}

/// Bytes of the routed header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The fields of byte 0 of a routed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// MFM traffic (MFMT bit).
    pub mfmt: bool,
    /// The link reports an overrun (OVRN bit).
    pub ovrn: bool,
    /// The link reports an error (EROR bit).
    pub eror: bool,
    /// The direction (DIR2..DIR0).
    pub dir: Dir,
}

impl Header {
    /// An MFM header with OVRN and EROR clear, as a program sends it.
    pub fn mfm(dir: Dir) -> Self {
        Self {
            mfmt: true,
            ovrn: false,
            eror: false,
            dir,
        }
    }

    /// A service header (MFMT=0) with OVRN and EROR clear.
    pub fn service(dir: Dir) -> Self {
        Self {
            mfmt: false,
            ..Self::mfm(dir)
        }
    }

    /// Reads byte 0.
    ///
    /// # Errors
    /// [`WireError::NotStandard`] or [`WireError::WrongFormat`] (a local packet).
    pub fn parse(byte0: u8) -> Result<Self, WireError> {
        if byte0 & STND == 0 {
            return Err(WireError::NotStandard(byte0));
        }
        if byte0 & LOCL != 0 {
            return Err(WireError::WrongFormat {
                expected: "routed",
                byte0,
            });
        }
        Ok(Self {
            mfmt: byte0 & field::MFMT != 0,
            ovrn: byte0 & field::OVRN != 0,
            eror: byte0 & field::EROR != 0,
            dir: Dir::from_bits(byte0 & field::DIR),
        })
    }

    /// Byte 0 for these fields.
    pub fn to_byte(self) -> u8 {
        let mut b = STND | self.dir.value();
        if self.mfmt {
            b |= field::MFMT;
        }
        if self.ovrn {
            b |= field::OVRN;
        }
        if self.eror {
            b |= field::EROR;
        }
        b
    }
}

/// A view over a standard routed packet (MFM or service).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks length (1 to 255 bytes) and byte 0; the only constructor for
    /// untrusted input.
    ///
    /// # Errors
    /// A length error, or byte 0 not a standard routed header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_len(b, HEADER_LEN)?;
        Header::parse(b[field::HEADER])?;
        Ok(Self { buffer })
    }

    /// The header fields.
    pub fn header(&self) -> Header {
        // new_checked proved byte 0 parses; the bits are re-read as-is.
        let b = self.buffer.as_ref()[field::HEADER];
        Header {
            mfmt: b & field::MFMT != 0,
            ovrn: b & field::OVRN != 0,
            eror: b & field::EROR != 0,
            dir: Dir::from_bits(b),
        }
    }

    /// The bytes after byte 0.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Rewrites byte 0.
    pub fn set_header(&mut self, header: Header) {
        self.buffer.as_mut()[field::HEADER] = header.to_byte();
    }
}

/// A routed packet as a program hands it over: header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Byte 0.
    pub header: Header,
    /// Everything after byte 0 (at most 254 bytes).
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Self {
        Self {
            header: packet.header(),
            payload: packet.payload(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes the packet into `buf`, which must be exactly
    /// [`Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If `buf` has another length.
    pub fn emit(&self, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.buffer_len(), "routed packet buffer");
        buf[field::HEADER] = self.header.to_byte();
        buf[field::PAYLOAD..].copy_from_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_bit_layout() {
        // 1 0 1 0 0 | 0 1 0: MFM, no overrun, no error, DIR 2 (east).
        let mut buf = [0xa5u8; 3];
        Repr {
            header: Header::mfm(Dir::East),
            payload: &[0x11, 0x22],
        }
        .emit(&mut buf);
        assert_eq!(buf, [0b1010_0010, 0x11, 0x22]);
        let h = Header {
            mfmt: false,
            ovrn: true,
            eror: true,
            dir: Dir::NorthWest,
        };
        assert_eq!(h.to_byte(), 0b1001_1111);
        assert_eq!(Header::parse(0b1001_1111), Ok(h));
        assert_eq!(Header::parse(0b1011_1000).unwrap().dir, Dir::North);
        assert!(Header::parse(0x40).is_err());
        assert!(Header::parse(0xc4).is_err());
    }

    #[test]
    fn set_header_rewrites_byte_zero_only() {
        let mut buf = vec![0xa0, 7, 8];
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_header(Header {
            ovrn: true,
            ..Header::mfm(Dir::South)
        });
        assert_eq!(buf, vec![0b1011_0100, 7, 8]);
    }

    fn dir() -> impl Strategy<Value = Dir> {
        (0u8..8).prop_map(Dir::from_bits)
    }

    proptest! {
        #[test]
        fn roundtrip(mfmt: bool, ovrn: bool, eror: bool, d in dir(),
                     payload in proptest::collection::vec(any::<u8>(), 0..255)) {
            let r = Repr { header: Header { mfmt, ovrn, eror, dir: d }, payload: &payload };
            let mut buf = vec![0xa5; r.buffer_len()];
            r.emit(&mut buf);
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), r);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(p.header().to_byte(), bytes[0]);
                prop_assert_eq!(p.payload().len() + 1, bytes.len());
            }
        }
    }
}
