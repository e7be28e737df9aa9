//! Tile Event Packets: how the local tile tells its MFM channel that a
//! neighbour came or went.
//!
//! ```text
//! TEP          := TEP_PKT_TYPE + EVENT_TYPE + OPT_ARGS
//! TEP_PKT_TYPE := 0xc4            (standard, local, type 4)
//! OPT_ARGS     := BYTE*
//! EVENT_TYPE   := 0x00 illegal | 0x01 connect | 0x02 disconnect
//!               | 0x03-0xff reserved
//! ```
//!
//! A TEP carries no direction: the frame it is delivered in says which
//! neighbour it is about. Only the local tile generates TEPs; one arriving
//! over a link, or with an illegal or reserved event, is dropped and
//! counted.

use super::{check_len, WireError};

mod field {
    pub(super) const HEADER: usize = 0;
    pub(super) const EVENT: usize = 1;
    pub(super) const ARGS: usize = 2;
}

/// Byte 0 of every TEP.
pub const TEP_PKT_TYPE: u8 = 0xc4;
/// Bytes before the optional arguments.
pub const HEADER_LEN: usize = field::ARGS;

/// A tile event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Event {
    /// The neighbour is now present (0x01).
    Connect = 1,
    /// The neighbour is gone (0x02).
    Disconnect = 2,
}

impl Event {
    /// The event byte's meaning.
    ///
    /// # Errors
    /// [`WireError::IllegalEvent`] for 0x00, [`WireError::ReservedEvent`]
    /// for 0x03 and above.
    pub fn from_byte(b: u8) -> Result<Self, WireError> {
        match b {
            0 => Err(WireError::IllegalEvent),
            1 => Ok(Self::Connect),
            2 => Ok(Self::Disconnect),
            n => Err(WireError::ReservedEvent(n)),
        }
    }
}

/// A view over a Tile Event Packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks byte 0 is `0xc4` and the event is connect or disconnect; the
    /// only constructor for untrusted input.
    ///
    /// # Errors
    /// A length error, [`WireError::WrongFormat`], or the event's error.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        check_len(b, 1)?;
        if b[field::HEADER] != TEP_PKT_TYPE {
            return Err(WireError::WrongFormat {
                expected: "tile event",
                byte0: b[field::HEADER],
            });
        }
        check_len(b, HEADER_LEN)?;
        Event::from_byte(b[field::EVENT])?;
        Ok(Self { buffer })
    }

    /// The event.
    pub fn event(&self) -> Event {
        if self.buffer.as_ref()[field::EVENT] == Event::Connect as u8 {
            Event::Connect
        } else {
            Event::Disconnect
        }
    }

    /// The optional argument bytes.
    pub fn args(&self) -> &[u8] {
        &self.buffer.as_ref()[field::ARGS..]
    }
}

/// A TEP's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Connect or disconnect.
    pub event: Event,
    /// Optional arguments (at most 253 bytes).
    pub args: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Self {
        Self {
            event: packet.event(),
            args: packet.args(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.args.len()
    }

    /// Writes the packet into exactly [`Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If `buf` has another length.
    pub fn emit(&self, buf: &mut [u8]) {
        assert_eq!(buf.len(), self.buffer_len(), "tile event buffer");
        buf[field::HEADER] = TEP_PKT_TYPE;
        buf[field::EVENT] = self.event as u8;
        buf[field::ARGS..].copy_from_slice(self.args);
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
    fn seed_byte_layout() {
        let connect = Repr {
            event: Event::Connect,
            args: &[],
        };
        assert_eq!(connect.to_vec(), [0xc4, 0x01]);
        let disconnect = Repr {
            event: Event::Disconnect,
            args: &[0xaa],
        };
        assert_eq!(disconnect.to_vec(), [0xc4, 0x02, 0xaa]);
        let p = Packet::new_checked(&[0xc4u8, 0x02, 0xaa][..]).unwrap();
        assert_eq!(Repr::parse(&p), disconnect);
        assert_eq!(
            Packet::new_checked(&[0xc4u8, 0x00][..]).unwrap_err(),
            WireError::IllegalEvent
        );
        assert_eq!(
            Packet::new_checked(&[0xc4u8, 0x03][..]).unwrap_err(),
            WireError::ReservedEvent(3)
        );
        assert_eq!(
            Packet::new_checked(&[0xc4u8, 0xff][..]).unwrap_err(),
            WireError::ReservedEvent(0xff)
        );
        assert!(matches!(
            Packet::new_checked(&[0xc4u8][..]),
            Err(WireError::Truncated { .. })
        ));
        assert!(matches!(
            Packet::new_checked(&[0xc5u8, 1][..]),
            Err(WireError::WrongFormat { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip(connect: bool, args in proptest::collection::vec(any::<u8>(), 0..=253)) {
            let event = if connect { Event::Connect } else { Event::Disconnect };
            let r = Repr { event, args: &args };
            let buf = r.to_vec();
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), r);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(Repr::parse(&p).to_vec(), bytes);
            }
        }
    }
}
