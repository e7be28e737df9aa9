//! Standard local packets: `110TTTTT`, the type in the low five bits.
//!
//! ```text
//!   STND LOCL
//!  +----------------------------------------+
//!  |  1 |  1 |  0 | T4 | T3 | T2 | T1 | T0 |
//!  +----------------------------------------+
//! ```
//!
//! Types 0 to 3 were in use on T2; type 4 is the Tile Event Packet
//! ([`super::tep`]). Local packets carry no DIR: the link they arrive on is
//! their direction.

use super::{check_len, WireError, LOCL, STND};

mod field {
    pub(super) const HEADER: usize = 0;
    pub(super) const PAYLOAD: usize = 1;
    pub(super) const RESERVED: u8 = 0x20;
    pub(super) const TYPE: u8 = 0x1f;
}

/// The Tile Event Packet's local type.
pub const TYPE_TEP: u8 = 4;
/// The largest local type.
pub const MAX_TYPE: u8 = 31;

/// A view over a standard local packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks length and the `110` prefix; the only constructor for
    /// untrusted input.
    ///
    /// # Errors
    /// A length error, [`WireError::NotStandard`], [`WireError::WrongFormat`]
    /// (a routed packet) or [`WireError::ReservedLocal`] (`111xxxxx`).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_len(b, 1)?;
        let b0 = b[field::HEADER];
        if b0 & STND == 0 {
            return Err(WireError::NotStandard(b0));
        }
        if b0 & LOCL == 0 {
            return Err(WireError::WrongFormat {
                expected: "local",
                byte0: b0,
            });
        }
        if b0 & field::RESERVED != 0 {
            return Err(WireError::ReservedLocal(b0));
        }
        Ok(Self { buffer })
    }

    /// The local type, 0 to 31.
    pub fn kind(&self) -> u8 {
        self.buffer.as_ref()[field::HEADER] & field::TYPE
    }

    /// The bytes after byte 0.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

/// A local packet's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The type, 0 to 31.
    pub kind: u8,
    /// At most 254 bytes.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Self {
        Self {
            kind: packet.kind(),
            payload: packet.payload(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        field::PAYLOAD + self.payload.len()
    }

    /// Writes the packet into exactly [`Repr::buffer_len`] bytes; types
    /// above 31 are cut to their low five bits.
    ///
    /// # Panics
    /// If `buf` has another length.
    pub fn emit(&self, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.buffer_len(), "local packet buffer");
        buf[field::HEADER] = STND | LOCL | (self.kind & field::TYPE);
        buf[field::PAYLOAD..].copy_from_slice(self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_bit_layout() {
        let mut buf = [0xa5u8; 2];
        Repr {
            kind: TYPE_TEP,
            payload: &[1],
        }
        .emit(&mut buf);
        assert_eq!(buf, [0b1100_0100, 1]);
        assert_eq!(Packet::new_checked(&[0xdfu8][..]).unwrap().kind(), 31);
        assert_eq!(Packet::new_checked(&[0xc0u8][..]).unwrap().kind(), 0);
        assert_eq!(
            Packet::new_checked(&[0xe4u8][..]).unwrap_err(),
            WireError::ReservedLocal(0xe4)
        );
        assert!(Packet::new_checked(&[0xa4u8][..]).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(kind in 0u8..32, payload in proptest::collection::vec(any::<u8>(), 0..255)) {
            let r = Repr { kind, payload: &payload };
            let mut buf = vec![0xa5; r.buffer_len()];
            r.emit(&mut buf);
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), r);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(bytes[0] & 0xe0, 0xc0);
                prop_assert!(p.kind() <= MAX_TYPE);
            }
        }
    }
}
