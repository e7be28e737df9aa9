//! Subscribe and unsubscribe bodies: a subscriber engine asks a publisher
//! engine for the events that pass a filter.
//!
//! ```text
//! subscribe:   | id u64 | topic_prefix str8 | fields |
//! unsubscribe: | id u64 |
//! ```
//!
//! `id` is chosen by the subscriber's node; `fields` is as in
//! [`super::event`].

use super::event::{fields_len, read_fields, write_fields};
use super::{put_str8, Reader, WireError};
use crate::filter::Filter;

/// A subscribe body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The subscription, unique per subscriber node.
    pub id: u64,
    /// Which events to forward.
    pub filter: Filter,
}

impl Subscribe {
    /// Parses a subscribe body.
    ///
    /// # Errors
    /// Truncation, bad UTF-8, bad fields or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let id = r.u64()?;
        let topic_prefix = r.str8("topic prefix")?;
        let fields = read_fields(&mut r)?;
        r.finish()?;
        Ok(Self {
            id,
            filter: Filter {
                topic_prefix,
                fields,
            },
        })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        8 + 1 + self.filter.topic_prefix.len() + fields_len(&self.filter.fields)
    }

    /// Appends the body.
    ///
    /// # Errors
    /// A prefix, name or value too long, or too many fields.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        out.extend_from_slice(&self.id.to_le_bytes());
        put_str8(out, &self.filter.topic_prefix, "topic prefix")?;
        write_fields(out, &self.filter.fields)
    }
}

/// An unsubscribe body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The subscription to end.
    pub id: u64,
}

impl Unsubscribe {
    /// Parses an unsubscribe body.
    ///
    /// # Errors
    /// Anything but exactly 8 bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let id = r.u64()?;
        r.finish()?;
        Ok(Self { id })
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        8
    }

    /// Appends the body.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::strategies;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn subscribe_round_trip(id in any::<u64>(), filter in strategies::filter()) {
            let v = Subscribe { id, filter };
            let mut b = Vec::new();
            v.write(&mut b).unwrap();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Subscribe::parse(&b), Ok(v));
        }

        #[test]
        fn unsubscribe_round_trip(id in any::<u64>()) {
            let v = Unsubscribe { id };
            let mut b = Vec::new();
            v.write(&mut b);
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Unsubscribe::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(s) = Subscribe::parse(&b) {
                let mut again = Vec::new();
                s.write(&mut again).unwrap();
                prop_assert_eq!(again, b.clone());
            }
            prop_assert_eq!(Unsubscribe::parse(&b).is_ok(), b.len() == 8);
        }
    }
}
