//! The registry of message kinds: every number that names a message on the
//! wire is written here, once.
//!
//! [`MessageType`] is the first byte of a datagram; [`InnerKind`] the first
//! byte of a control message inside a session (the plaintext of a data
//! message, `wire/inner.rs`). Constant assertions below refuse two kinds
//! with one number, and a test checks that `docs/protocol.md` lists every
//! kind with its number. [`checked`] is the start of every checked
//! constructor: the length and the kind byte.

use super::WireError;

/// A registry enum: its kinds, their numbers and how errors name its byte.
pub(crate) trait Kind: Copy + Into<u8> {
    /// What an error calls the kind byte when it names another kind.
    const FIELD: &'static str;
}

/// Declares a registry enum: the variants with their numbers, `ALL`,
/// conversions to and from the byte, and a constant assertion that no two
/// variants share a number.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        $name:ident, field $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every kind, in the order of their numbers.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The kind a byte names.
            ///
            /// # Errors
            /// [`WireError::UnknownType`] for a byte that names no kind.
            pub const fn from_byte(byte: u8) -> Result<Self, WireError> {
                match byte {
                    $( $value => Ok(Self::$variant), )+
                    other => Err(WireError::UnknownType(other)),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(kind: $name) -> u8 {
                kind as u8
            }
        }

        impl Kind for $name {
            const FIELD: &'static str = $field;
        }

        const _: () = assert!(
            all_distinct(&[$($value),+]),
            concat!("two ", stringify!($name), " kinds share a number")
        );
    };
}

registry! {
    /// The first byte of every datagram on the overlay port (and of a LAN
    /// beacon on the discovery port), followed by three reserved bytes.
    MessageType, field "type" {
        /// Noise IKpsk2 first message.
        HandshakeInit = 1,
        /// Noise IKpsk2 second message.
        HandshakeResp = 2,
        /// Encrypted transport data.
        Data = 3,
        /// A member asking an address for its node ID (bootstrap).
        Hello = 4,
        /// The answer to a hello.
        HelloAck = 5,
        /// A path probe (hole punching).
        Probe = 6,
        /// The answer to a path probe.
        ProbeAck = 7,
        /// A responder under load asking an initiator to retry with a cookie.
        CookieReply = 8,
        /// A LAN beacon: sent only to the discovery port, never to the
        /// overlay port (where it is dropped as malformed).
        Beacon = 16,
    }
}

registry! {
    /// The first byte of a control message inside a session. IP packets
    /// share the plaintext and start with a version nibble of 4 or 6, so
    /// every kind stays below 0x40.
    InnerKind, field "kind" {
        /// Members a node knows (`wire/gossip.rs`).
        Gossip = 0x01,
        /// A signal to forward or consume (`wire/signal.rs`).
        Signal = 0x02,
        /// A relay frame (`wire/relay.rs`).
        Relay = 0x03,
        /// An overlay ping (`wire/ping.rs`).
        Ping = 0x04,
        /// The answer to an overlay ping.
        Pong = 0x05,
        /// A lookup request or answer (`wire/lookup.rs`).
        Lookup = 0x06,
        /// A record store, fetch or answer (`wire/record.rs`).
        Record = 0x07,
        /// The network's new key (`wire/key_update.rs`).
        KeyUpdate = 0x08,
        /// The network owner's revocation list (`wire/revocations.rs`).
        Revocations = 0x09,
        /// A member's name claim (`wire/name_claim.rs`).
        NameClaim = 0x0a,
        /// A part of a long revocation list, or a want of parts
        /// (`wire/revocation_part.rs`).
        RevocationPart = 0x0b,
        /// The network owner handing the network to a new owner key
        /// (`wire/owner_handover.rs`).
        OwnerHandover = 0x0c,
    }
}

const _: () = {
    let mut i = 0;
    while i < InnerKind::ALL.len() {
        assert!(
            (InnerKind::ALL[i] as u8) < 0x40,
            "an inner kind collides with IP"
        );
        i += 1;
    }
};

impl MessageType {
    /// Classifies a datagram by its first byte.
    ///
    /// # Errors
    /// Returns an error for an empty datagram or an unknown type byte.
    pub fn of(datagram: &[u8]) -> Result<Self, WireError> {
        match datagram.first() {
            None => Err(WireError::Truncated { len: 0, need: 1 }),
            Some(&byte) => Self::from_byte(byte),
        }
    }
}

/// Whether no two of `values` are equal.
const fn all_distinct(values: &[u8]) -> bool {
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() {
            if values[i] == values[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// How long a message of a kind must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// At least this many bytes (the fixed part).
    AtLeast(usize),
    /// Exactly this many bytes.
    Exactly(usize),
}

/// The start of every checked constructor: checks that `buffer` has the
/// size and that its first byte is one of `kinds`; returns the buffer to
/// wrap in the view.
///
/// # Errors
/// [`WireError::Truncated`] or [`WireError::WrongLength`] for a wrong size,
/// [`WireError::InvalidField`] (naming the kind's byte) for another kind.
pub(crate) fn checked<T: AsRef<[u8]>, K: Kind>(
    buffer: T,
    size: Size,
    kinds: &[K],
) -> Result<T, WireError> {
    let b = buffer.as_ref();
    match size {
        Size::AtLeast(need) => super::need(b, need.max(1))?,
        Size::Exactly(len) => super::exact(b, len)?,
    }
    let first = b.first().copied();
    if !kinds.iter().any(|&k| first == Some(k.into())) {
        return Err(WireError::InvalidField(K::FIELD));
    }
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the table after `heading` in `docs/protocol.md`: each
    /// row's first cell, and the rest of the row.
    fn doc_rows(heading: &str) -> Vec<(String, String)> {
        let doc = include_str!("../../../docs/protocol.md");
        let at = doc.find(heading).expect("heading in docs/protocol.md");
        doc[at..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .filter_map(|l| {
                let mut cells = l.trim_matches('|').splitn(2, '|');
                Some((cells.next()?.trim().to_owned(), cells.next()?.to_owned()))
            })
            .collect()
    }

    /// Numbers in a first cell: decimal (`3`) or hexadecimal (`` `0x03` ``).
    fn numbers(cell: &str) -> Vec<u8> {
        cell.split(|c: char| c == ',' || c.is_whitespace())
            .map(|t| t.trim_matches('`'))
            .filter_map(|t| match t.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16).ok(),
                None => t.parse().ok(),
            })
            .collect()
    }

    fn documented(heading: &str) -> Vec<u8> {
        doc_rows(heading)
            .iter()
            .flat_map(|(first, _)| numbers(first))
            .collect()
    }

    #[test]
    fn every_datagram_type_has_its_row_in_the_protocol_doc() {
        let rows = documented("Every datagram on the node's UDP port");
        for kind in MessageType::ALL {
            assert!(rows.contains(&(*kind as u8)), "{kind:?} not in the table");
        }
        for number in rows {
            assert!(
                MessageType::from_byte(number).is_ok(),
                "{number} documented"
            );
        }
    }

    #[test]
    fn every_inner_kind_has_its_row_in_the_protocol_doc() {
        let rows = documented("The plaintext is one of");
        for kind in InnerKind::ALL {
            assert!(rows.contains(&(*kind as u8)), "{kind:?} not in the table");
        }
        for number in rows {
            assert!(
                InnerKind::from_byte(number).is_ok(),
                "{number:#04x} documented"
            );
        }
    }

    #[test]
    fn bytes_name_their_kinds_and_nothing_else() {
        for byte in 0..=u8::MAX {
            if let Ok(kind) = MessageType::from_byte(byte) {
                assert_eq!(u8::from(kind), byte);
            }
            if let Ok(kind) = InnerKind::from_byte(byte) {
                assert_eq!(u8::from(kind), byte);
            }
        }
        assert_eq!(
            MessageType::of(&[]),
            Err(WireError::Truncated { len: 0, need: 1 })
        );
        assert_eq!(MessageType::of(&[9]), Err(WireError::UnknownType(9)));
        assert_eq!(
            InnerKind::from_byte(0x0d),
            Err(WireError::UnknownType(0x0d))
        );
    }

    #[test]
    fn checked_tests_size_then_kind() {
        let relay = [InnerKind::Relay];
        assert_eq!(
            checked(&[3u8, 0][..], Size::AtLeast(3), &relay),
            Err(WireError::Truncated { len: 2, need: 3 })
        );
        assert_eq!(
            checked(&[3u8, 0][..], Size::Exactly(3), &relay),
            Err(WireError::WrongLength {
                len: 2,
                expected: 3
            })
        );
        assert_eq!(
            checked(&[2u8, 0, 0][..], Size::AtLeast(3), &relay),
            Err(WireError::InvalidField("kind"))
        );
        assert_eq!(
            checked(&[4u8; 5][..], Size::Exactly(5), &[MessageType::Hello]),
            Ok(&[4u8; 5][..])
        );
        assert_eq!(
            checked(&[5u8; 5][..], Size::Exactly(5), &[MessageType::Hello]),
            Err(WireError::InvalidField("type"))
        );
        assert!(checked(&[0u8; 0][..], Size::AtLeast(0), &relay).is_err());
    }
}
