//! Intertile packet formats, exactly as the T2 tile notes draw them: one
//! module per format, each a typed view over bytes (`Packet<T: AsRef<[u8]>>`)
//! whose `new_checked` is the only way in for untrusted input, and a `Repr`
//! with `parse`, `emit` and `buffer_len`.
//!
//! After `new_checked` succeeds no accessor panics; `emit` writes into a
//! buffer of exactly `buffer_len()` bytes and panics otherwise (callers size
//! their buffers). Parsing never panics.
//!
//! Byte 0 of every packet (bit 7 first):
//!
//! ```text
//!  Standard routed packet          Standard local packet
//!   STND LOCL MFMT                  STND LOCL
//!  +---------------------------+   +---------------------------+
//!  | 1 | 0 |MFMT|OVRN|EROR|DIR |   | 1 | 1 | 0 |    TYPE       |
//!  +---------------------------+   +---------------------------+
//!    7   6   5    4    3   2..0      7   6   5     4..0
//! ```
//!
//! A routed packet with MFMT=1 is MFM traffic; with MFMT=0 it is a service
//! packet ([`service`]). `111xxxxx` and `0xxxxxxx` name no format Tessel
//! knows: they are refused.

pub mod local;
pub mod routed;
pub mod service;
pub mod tep;

pub use service::Service;

/// The largest intertile packet, header included, as on T2's links.
pub const MAX_PACKET_LEN: usize = 255;

/// Bit 7 of byte 0: a standard packet.
pub const STND: u8 = 0x80;
/// Bit 6 of byte 0: a local (not routed) packet.
pub const LOCL: u8 = 0x40;

/// Why bytes are not a packet of the expected format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// No bytes at all.
    #[error("empty packet")]
    Empty,
    /// Longer than [`MAX_PACKET_LEN`].
    #[error("packet of {len} bytes exceeds {max}", max = MAX_PACKET_LEN)]
    TooLong {
        /// Bytes given.
        len: usize,
    },
    /// Shorter than the format's header.
    #[error("truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes the format needs.
        need: usize,
    },
    /// STND is 0: not a standard packet.
    #[error("not a standard packet (byte 0 {0:#04x})")]
    NotStandard(u8),
    /// `111xxxxx`: a local packet with its reserved bit set.
    #[error("local packet with reserved bit 5 set (byte 0 {0:#04x})")]
    ReservedLocal(u8),
    /// A valid packet of another format than the view expects.
    #[error("not a {expected} packet (byte 0 {byte0:#04x})")]
    WrongFormat {
        /// The format the caller asked for.
        expected: &'static str,
        /// Byte 0 as received.
        byte0: u8,
    },
    /// Service packet with RSV1 or RSV0 set.
    #[error("service packet with reserved bits set (byte 1 {0:#04x})")]
    ReservedBits(u8),
    /// Service packet for service 0, the null service.
    #[error("service 0 is the null service")]
    NullService,
    /// Tile Event Packet with event 0x00.
    #[error("illegal tile event 0x00")]
    IllegalEvent,
    /// Tile Event Packet with a reserved event (0x03 to 0xff).
    #[error("reserved tile event {0:#04x}")]
    ReservedEvent(u8),
}

/// Checks the overall length of a packet.
pub(crate) fn check_len(b: &[u8], need: usize) -> Result<(), WireError> {
    if b.is_empty() {
        return Err(WireError::Empty);
    }
    if b.len() > MAX_PACKET_LEN {
        return Err(WireError::TooLong { len: b.len() });
    }
    if b.len() < need {
        return Err(WireError::Truncated { len: b.len(), need });
    }
    Ok(())
}

/// What byte 0 (and byte 1 of a service packet) says a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A standard routed packet with MFMT=1.
    Mfm,
    /// A standard routed packet with MFMT=0 for this service.
    Service(Service),
    /// A standard local packet of this type (0 to 31; 4 is the TEP).
    Local(u8),
}

/// Classifies a packet by its header, checking only what the header says.
///
/// # Errors
/// Any [`WireError`] of length, STND, reserved local bit, or service byte.
pub fn classify(bytes: &[u8]) -> Result<Kind, WireError> {
    check_len(bytes, 1)?;
    let b0 = bytes[0];
    if b0 & STND == 0 {
        return Err(WireError::NotStandard(b0));
    }
    if b0 & LOCL != 0 {
        return local::Packet::new_checked(bytes).map(|p| Kind::Local(p.kind()));
    }
    let r = routed::Packet::new_checked(bytes)?;
    if r.header().mfmt {
        Ok(Kind::Mfm)
    } else {
        service::Packet::new_checked(bytes).map(|p| Kind::Service(p.service()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_header() {
        assert_eq!(classify(&[0xa2, 9]), Ok(Kind::Mfm));
        assert_eq!(
            classify(&[0x82, 0x08, 1]),
            Ok(Kind::Service(Service::new(8).unwrap()))
        );
        assert_eq!(classify(&[0xc4, 1]), Ok(Kind::Local(4)));
        assert_eq!(classify(&[0xdf]), Ok(Kind::Local(31)));
        assert_eq!(classify(&[0x7f]), Err(WireError::NotStandard(0x7f)));
        assert_eq!(classify(&[0xe0]), Err(WireError::ReservedLocal(0xe0)));
        assert_eq!(classify(&[]), Err(WireError::Empty));
        assert_eq!(classify(&[0xa0; 256]), Err(WireError::TooLong { len: 256 }));
        assert_eq!(classify(&[0x80, 0x00]), Err(WireError::NullService));
        assert_eq!(classify(&[0x80, 0x48]), Err(WireError::ReservedBits(0x48)));
        assert_eq!(
            classify(&[0x80]),
            Err(WireError::Truncated { len: 1, need: 2 })
        );
    }

    proptest::proptest! {
        #[test]
        fn classify_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = classify(&bytes);
        }
    }
}
