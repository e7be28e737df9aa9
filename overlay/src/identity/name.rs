//! Node names: what a member may call itself, so that others reach it as
//! `NAME.<domain>` (see [`super::name_claim`] for how a name is claimed).
//!
//! A name is one DNS label of the hostname kind (RFC 1123): 1 to 63
//! lowercase ASCII letters, digits and hyphens, neither starting nor ending
//! with a hyphen. Input is taken in any case and kept in lowercase, so
//! `Web-1` and `web-1` are one name.

use std::fmt;

/// The longest name: one DNS label.
pub const MAX_NAME_LEN: usize = 63;

/// Why a text is not a node name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The text is empty.
    #[error("a name cannot be empty")]
    Empty,
    /// Longer than one DNS label.
    #[error("a name is at most {MAX_NAME_LEN} characters (this one has {len})")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A character outside letters, digits and hyphens.
    #[error("{found:?} cannot be in a name (at position {at}): use letters, digits and hyphens")]
    BadChar {
        /// The character.
        found: char,
        /// Its position, from 1.
        at: usize,
    },
    /// A hyphen first or last.
    #[error("a name cannot start or end with a hyphen")]
    EdgeHyphen,
}

/// A valid node name, in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(String);

impl NodeName {
    /// Checks `text` and makes it lowercase.
    ///
    /// # Errors
    /// [`NameError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        let len = text.chars().count();
        if len > MAX_NAME_LEN {
            return Err(NameError::TooLong { len });
        }
        if let Some((i, c)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(NameError::BadChar {
                found: c,
                at: i + 1,
            });
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(NameError::EdgeHyphen);
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// Takes bytes from the wire: valid only if already lowercase.
    ///
    /// # Errors
    /// Not a valid name, or not in lowercase.
    pub fn from_wire(bytes: &[u8]) -> Result<Self, NameError> {
        let text = std::str::from_utf8(bytes).map_err(|_| NameError::BadChar {
            found: char::REPLACEMENT_CHARACTER,
            at: 1,
        })?;
        let name = Self::parse(text)?;
        if name.0 != text {
            let (i, c) = text
                .chars()
                .enumerate()
                .find(|(_, c)| c.is_ascii_uppercase())
                .expect("only case differs");
            return Err(NameError::BadChar {
                found: c,
                at: i + 1,
            });
        }
        Ok(name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NodeName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_in_lowercase() {
        assert_eq!(NodeName::parse("Web-1").unwrap().as_str(), "web-1");
        assert_eq!(NodeName::parse("a").unwrap().as_str(), "a");
        assert_eq!(NodeName::parse("0db").unwrap().as_str(), "0db");
        let longest = "a".repeat(MAX_NAME_LEN);
        assert_eq!(NodeName::parse(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        assert_eq!(NodeName::parse(""), Err(NameError::Empty));
        assert_eq!(
            NodeName::parse(&"a".repeat(64)),
            Err(NameError::TooLong { len: 64 })
        );
        assert_eq!(
            NodeName::parse("web_1"),
            Err(NameError::BadChar { found: '_', at: 4 })
        );
        assert_eq!(
            NodeName::parse("web.internal"),
            Err(NameError::BadChar { found: '.', at: 4 })
        );
        assert_eq!(
            NodeName::parse("wéb"),
            Err(NameError::BadChar { found: 'é', at: 2 })
        );
        assert_eq!(NodeName::parse("-web"), Err(NameError::EdgeHyphen));
        assert_eq!(NodeName::parse("web-"), Err(NameError::EdgeHyphen));
        let msg = NodeName::parse("a b").unwrap_err().to_string();
        assert!(msg.contains("letters, digits and hyphens"), "{msg}");
    }

    #[test]
    fn the_wire_takes_lowercase_only() {
        assert_eq!(NodeName::from_wire(b"web").unwrap().as_str(), "web");
        assert!(NodeName::from_wire(b"Web").is_err());
        assert!(NodeName::from_wire(&[0xff, 0x41]).is_err());
        assert!(NodeName::from_wire(b"").is_err());
    }
}
