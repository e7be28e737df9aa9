//! The DNS TXT record that names a root runtime of the scopes, for the
//! bootstrap (`docs/scopes.md` §10): with nothing known, a runtime looks up
//! the TXT records at a configured name and asks the runtimes they name.
//!
//! ```text
//! _tessel-root.example.org. 3600 IN TXT "tessel-root=tessel-node-4y7y2yaq…"
//! ```
//!
//! One record per root runtime. Its text (the record's character-strings
//! joined, so a value split into several strings reads as one) is exactly
//! [`PREFIX`] followed by the runtime's node ID in its text form, as `tessel
//! status` prints it, whose checksum catches a mistyped ID. Parsing is
//! strict: no spaces, no other fields, lowercase, the canonical text of a
//! valid ed25519 key; anything else is a typed [`TxtError`]. A record that
//! does not start with `tessel-` is another service's
//! ([`TxtError::NotOurs`]), which a resolver skips.

use crate::identity::node_key::NodeIdParseError;
use crate::identity::NodeId;

/// What every bootstrap record starts with.
pub const PREFIX: &str = "tessel-root=";
/// Longest record text: the prefix and a node ID's text form.
pub const MAX_LEN: usize = 128;

/// Why a TXT record is not a bootstrap record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxtError {
    /// Not a Tessel record at all (another service's TXT at the same name).
    #[error("not a tessel record")]
    NotOurs,
    /// A Tessel record of another kind, or with a mistyped prefix.
    #[error("expected `{PREFIX}` at the start")]
    WrongPrefix,
    /// Longer than any bootstrap record.
    #[error("too long: {len} bytes, at most {MAX_LEN}")]
    TooLong {
        /// The record's length.
        len: usize,
    },
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotText,
    /// The node ID does not parse (a typo is a checksum mismatch).
    #[error("{0}")]
    NodeId(#[from] NodeIdParseError),
    /// The node ID parses but is not written as `tessel status` writes it
    /// (spaces, uppercase).
    #[error("the node ID is not in its canonical form (spaces or uppercase?)")]
    NotCanonical,
}

/// Parses one TXT record, given as its character-strings joined.
///
/// # Errors
/// A [`TxtError`] naming what is wrong.
pub fn parse(txt: &[u8]) -> Result<NodeId, TxtError> {
    if !txt.starts_with(b"tessel-") {
        return Err(TxtError::NotOurs);
    }
    if txt.len() > MAX_LEN {
        return Err(TxtError::TooLong { len: txt.len() });
    }
    let text = std::str::from_utf8(txt).map_err(|_| TxtError::NotText)?;
    let id_text = text.strip_prefix(PREFIX).ok_or(TxtError::WrongPrefix)?;
    let id = NodeId::parse(id_text)?;
    if id.to_string() != id_text {
        return Err(TxtError::NotCanonical);
    }
    Ok(id)
}

/// Parses a TXT record given as its character-strings.
///
/// # Errors
/// As [`parse`].
pub fn parse_strings<S: AsRef<[u8]>>(strings: &[S]) -> Result<NodeId, TxtError> {
    let len = strings.iter().map(|s| s.as_ref().len()).sum();
    if len > MAX_LEN {
        // Still tell another service's record from a long one of ours.
        let starts = strings.first().map(AsRef::as_ref).unwrap_or_default();
        return Err(if starts.starts_with(b"tessel-") {
            TxtError::TooLong { len }
        } else {
            TxtError::NotOurs
        });
    }
    let mut joined = Vec::with_capacity(len);
    for s in strings {
        joined.extend_from_slice(s.as_ref());
    }
    parse(&joined)
}

/// The record text naming `node` as a root runtime.
pub fn write(node: &NodeId) -> String {
    format!("{PREFIX}{node}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use proptest::prelude::*;

    fn node(seed: u8) -> NodeId {
        NodeKey::from_seed([seed; 32]).id()
    }

    #[test]
    fn a_written_record_parses_back_and_fits_one_string() {
        let id = node(1);
        let text = write(&id);
        assert!(text.len() <= 255 && text.len() <= MAX_LEN);
        assert_eq!(parse(text.as_bytes()), Ok(id));
        let (a, b) = text.as_bytes().split_at(20);
        assert_eq!(parse_strings(&[a, b]), Ok(id));
    }

    #[test]
    fn every_deviation_is_a_typed_error() {
        let id = node(2).to_string();
        let cases: Vec<(String, TxtError)> = vec![
            ("v=spf1 -all".into(), TxtError::NotOurs),
            (String::new(), TxtError::NotOurs),
            (format!("tessel-roots={id}"), TxtError::WrongPrefix),
            (format!("tessel-root= {id}"), TxtError::NotCanonical),
            (format!("tessel-root={id} "), TxtError::NotCanonical),
            (
                format!("tessel-root=tessel-node-{}", id[12..].to_uppercase()),
                TxtError::NotCanonical,
            ),
            (
                "tessel-root=".into(),
                TxtError::NodeId(NodeIdParseError::Text(
                    crate::identity::text::TextError::WrongPrefix {
                        expected: "tessel-node-",
                    },
                )),
            ),
            (
                format!("tessel-root={id}{id}"),
                TxtError::TooLong {
                    len: 12 + 2 * id.len(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text.as_bytes()), Err(want), "{text:?}");
        }
        let mut typo = write(&node(3)).into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
        assert!(matches!(parse(&typo), Err(TxtError::NodeId(_))));
        assert_eq!(parse(b"tessel-root=\xff"), Err(TxtError::NotText));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_what_parses_is_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..160),
        ) {
            if let Ok(id) = parse(&bytes) {
                let text = write(&id);
                prop_assert_eq!(text.as_bytes(), &bytes[..]);
            }
        }

        #[test]
        fn any_split_into_strings_reads_as_the_whole(seed in any::<u8>(), cut in 0usize..90) {
            let text = write(&node(seed));
            let cut = cut.min(text.len());
            let (a, b) = text.as_bytes().split_at(cut);
            prop_assert_eq!(parse_strings(&[a, b]), parse(text.as_bytes()));
        }
    }
}
