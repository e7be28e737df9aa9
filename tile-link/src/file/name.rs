//! Managed file names: safe to use as a single path component everywhere.
//!
//! A name is 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `.`,
//! `_`, `-` and `+`; it does not start with `.` and does not contain `..`.
//! So it has no path separators, is never `.` or `..`, and never collides
//! with the hidden working files of a store.

use std::fmt;

/// The longest file name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Why a string is not a managed file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("empty file name")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    #[error("file name of {0} bytes exceeds {MAX_NAME_LEN}")]
    TooLong(usize),
    /// A byte outside the allowed set (separators included).
    #[error("file name contains {0:?}")]
    BadByte(char),
    /// Starts with `.`.
    #[error("file name starts with '.'")]
    LeadingDot,
    /// Contains `..`.
    #[error("file name contains '..'")]
    DotDot,
}

/// A validated managed file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(String);

impl FileName {
    /// Validates `bytes` as a name.
    ///
    /// # Errors
    /// The first rule the bytes break.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NameError> {
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(bytes.len()));
        }
        if let Some(b) = bytes
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+')))
        {
            return Err(NameError::BadByte(char::from(*b)));
        }
        if bytes[0] == b'.' {
            return Err(NameError::LeadingDot);
        }
        if bytes.windows(2).any(|w| w == b"..") {
            return Err(NameError::DotDot);
        }
        // Every byte is ASCII.
        Ok(Self(bytes.iter().map(|b| char::from(*b)).collect()))
    }

    /// Validates a string as a name.
    ///
    /// # Errors
    /// As [`FileName::from_bytes`].
    pub fn new(s: &str) -> Result<Self, NameError> {
        Self::from_bytes(s.as_bytes())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for FileName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_names_refuses_paths() {
        for ok in ["physics.mfz", "a", "v1.2-rc_3+x", &"x".repeat(64)] {
            assert_eq!(FileName::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(FileName::new(""), Err(NameError::Empty));
        assert_eq!(FileName::new(&"x".repeat(65)), Err(NameError::TooLong(65)));
        assert_eq!(FileName::new("a/b"), Err(NameError::BadByte('/')));
        assert_eq!(FileName::new("a\\b"), Err(NameError::BadByte('\\')));
        assert_eq!(FileName::new(".."), Err(NameError::LeadingDot));
        assert_eq!(FileName::new(".hidden"), Err(NameError::LeadingDot));
        assert_eq!(FileName::new("a..b"), Err(NameError::DotDot));
        assert_eq!(FileName::new("a b"), Err(NameError::BadByte(' ')));
        assert!(FileName::from_bytes(&[b'a', 0xc3, 0xa9]).is_err());
    }

    proptest! {
        #[test]
        fn valid_names_are_single_safe_components(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(n) = FileName::from_bytes(&bytes) {
                let p = std::path::Path::new(n.as_str());
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
                prop_assert_eq!(n.as_bytes(), &bytes[..]);
            }
        }
    }
}
