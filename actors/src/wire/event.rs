//! Event bodies, and the field map that events and filters share.
//!
//! ```text
//! event:  | topic str8 | fields | payload ... |
//! fields: | count u8 | (name str8 | value str16) * count |
//! ```
//!
//! `str8`/`str16` are UTF-8 with a one- or two-byte length. Field names are
//! strictly ascending (so each map has one encoding) and at most
//! [`MAX_FIELDS`] are allowed.

use std::collections::BTreeMap;

use super::{put_str16, put_str8, Reader, WireError};
use crate::filter::{Event, MAX_FIELDS};

/// Reads a field map.
///
/// # Errors
/// Truncation, bad UTF-8, too many fields or names out of order.
pub fn read_fields(r: &mut Reader<'_>) -> Result<BTreeMap<String, String>, WireError> {
    let n = usize::from(r.u8()?);
    if n > MAX_FIELDS {
        return Err(WireError::TooLong("fields"));
    }
    let mut map = BTreeMap::new();
    let mut last: Option<String> = None;
    for _ in 0..n {
        let k = r.str8("field name")?;
        let v = r.str16("field value")?;
        if last.as_ref().is_some_and(|l| *l >= k) {
            return Err(WireError::InvalidField("field order"));
        }
        last = Some(k.clone());
        map.insert(k, v);
    }
    Ok(map)
}

/// Bytes [`write_fields`] appends.
pub fn fields_len(fields: &BTreeMap<String, String>) -> usize {
    1 + fields
        .iter()
        .map(|(k, v)| 3 + k.len() + v.len())
        .sum::<usize>()
}

/// Appends a field map.
///
/// # Errors
/// Too many fields, or a name or value too long.
pub fn write_fields(out: &mut Vec<u8>, fields: &BTreeMap<String, String>) -> Result<(), WireError> {
    if fields.len() > MAX_FIELDS {
        return Err(WireError::TooLong("fields"));
    }
    // MAX_FIELDS fits in a byte.
    out.push(fields.len() as u8);
    for (k, v) in fields {
        put_str8(out, k, "field name")?;
        put_str16(out, v, "field value")?;
    }
    Ok(())
}

/// Parses an event body.
///
/// # Errors
/// See [`read_fields`]; also a truncated or invalid topic.
pub fn parse(b: &[u8]) -> Result<Event, WireError> {
    let mut r = Reader::new(b);
    let topic = r.str8("topic")?;
    let fields = read_fields(&mut r)?;
    Ok(Event {
        topic,
        fields,
        payload: r.rest().to_vec(),
    })
}

/// Bytes [`write()`] appends.
pub fn encoded_len(e: &Event) -> usize {
    1 + e.topic.len() + fields_len(&e.fields) + e.payload.len()
}

/// Appends an event body.
///
/// # Errors
/// A topic, name or value too long, or too many fields.
pub fn write(out: &mut Vec<u8>, e: &Event) -> Result<(), WireError> {
    put_str8(out, &e.topic, "topic")?;
    write_fields(out, &e.fields)?;
    out.extend_from_slice(&e.payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::strategies;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(e in strategies::event()) {
            let mut b = Vec::new();
            write(&mut b, &e).unwrap();
            prop_assert_eq!(encoded_len(&e), b.len());
            prop_assert_eq!(parse(&b), Ok(e));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(e) = parse(&b) {
                let mut again = Vec::new();
                write(&mut again, &e).unwrap();
                prop_assert_eq!(again, b);
            }
        }
    }

    #[test]
    fn rejects_unordered_and_too_many_fields() {
        let b = [0, 2, 1, b'b', 0, 0, 1, b'a', 0, 0];
        assert_eq!(parse(&b), Err(WireError::InvalidField("field order")));
        let mut e = Event::default();
        for i in 0..=MAX_FIELDS {
            e.fields.insert(format!("f{i:02}"), String::new());
        }
        assert!(write(&mut Vec::new(), &e).is_err());
    }
}
