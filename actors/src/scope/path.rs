//! Scope paths: `/`, `/org`, `/org/team/data`.
//!
//! A path is absolute, its segments are 1 to [`MAX_SEGMENT`] bytes of
//! `[a-z0-9_-]` (lower case only, so two spellings never name one scope),
//! at most [`MAX_DEPTH`] segments deep and at most [`MAX_PATH`] bytes long.
//! `.`, `..` and empty segments cannot occur: a segment must hold a letter,
//! digit, `_` or `-` only.

use std::fmt;
use std::str::FromStr;

/// Most segments in a path.
pub const MAX_DEPTH: usize = 16;
/// Longest segment in bytes.
pub const MAX_SEGMENT: usize = 63;
/// Longest path in bytes, including the slashes.
pub const MAX_PATH: usize = 255;

/// Why a string is not a scope path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("scope path must start with '/'")]
    NotAbsolute,
    /// Two slashes in a row or a trailing slash.
    #[error("empty segment in scope path")]
    EmptySegment,
    /// A segment holds a byte outside `[a-z0-9_-]`.
    #[error("invalid character {0:?} in scope path")]
    BadChar(char),
    /// A segment is longer than [`MAX_SEGMENT`].
    #[error("segment longer than {MAX_SEGMENT} bytes")]
    SegmentTooLong,
    /// More than [`MAX_DEPTH`] segments.
    #[error("scope path deeper than {MAX_DEPTH} segments")]
    TooDeep,
    /// More than [`MAX_PATH`] bytes.
    #[error("scope path longer than {MAX_PATH} bytes")]
    TooLong,
}

/// A validated scope path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopePath {
    segs: Vec<String>,
}

fn check_segment(s: &str) -> Result<(), PathError> {
    if s.is_empty() {
        return Err(PathError::EmptySegment);
    }
    if s.len() > MAX_SEGMENT {
        return Err(PathError::SegmentTooLong);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(PathError::BadChar(c));
    }
    Ok(())
}

impl ScopePath {
    /// The root scope `/`.
    pub fn root() -> Self {
        Self { segs: Vec::new() }
    }

    /// Parses a path.
    ///
    /// # Errors
    /// Any [`PathError`].
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        let rest = s.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
        if rest.is_empty() {
            return Ok(Self::root());
        }
        let mut segs = Vec::new();
        for seg in rest.split('/') {
            check_segment(seg)?;
            if segs.len() == MAX_DEPTH {
                return Err(PathError::TooDeep);
            }
            segs.push(seg.to_owned());
        }
        Ok(Self { segs })
    }

    /// The child `self/seg`.
    ///
    /// # Errors
    /// An invalid segment, or a result too deep or too long.
    pub fn child(&self, seg: &str) -> Result<Self, PathError> {
        check_segment(seg)?;
        if self.segs.len() == MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        if self.encoded_len() + 1 + seg.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        let mut segs = self.segs.clone();
        segs.push(seg.to_owned());
        Ok(Self { segs })
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.segs.is_empty()
    }

    /// Number of segments (0 for `/`).
    pub fn depth(&self) -> usize {
        self.segs.len()
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segs
    }

    /// The parent, or `None` for `/`.
    pub fn parent(&self) -> Option<Self> {
        let n = self.segs.len().checked_sub(1)?;
        Some(Self {
            segs: self.segs[..n].to_vec(),
        })
    }

    /// The prefix of the first `depth` segments (`self` when `depth` is at
    /// least [`Self::depth`]).
    pub fn prefix(&self, depth: usize) -> Self {
        Self {
            segs: self.segs[..depth.min(self.segs.len())].to_vec(),
        }
    }

    /// `/` and every scope down to `self`, outermost first, `self` included.
    pub fn lineage(&self) -> Vec<Self> {
        (0..=self.segs.len()).map(|d| self.prefix(d)).collect()
    }

    /// Whether `self` is `other` or one of its ancestors.
    pub fn is_prefix_of(&self, other: &Self) -> bool {
        other.segs.len() >= self.segs.len() && other.segs[..self.segs.len()] == self.segs[..]
    }

    /// Length of the text form in bytes.
    pub fn encoded_len(&self) -> usize {
        if self.segs.is_empty() {
            1
        } else {
            self.segs.iter().map(|s| 1 + s.len()).sum()
        }
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segs.is_empty() {
            return f.write_str("/");
        }
        for s in &self.segs {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scope:{self}")
    }
}

impl FromStr for ScopePath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, PathError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> ScopePath {
        ScopePath::parse(s).unwrap()
    }

    #[test]
    fn parses_and_refuses() {
        assert!(p("/").is_root());
        assert_eq!(p("/org/team/data").depth(), 3);
        assert_eq!(p("/org/team").to_string(), "/org/team");
        assert_eq!(ScopePath::parse("org"), Err(PathError::NotAbsolute));
        assert_eq!(ScopePath::parse("/a//b"), Err(PathError::EmptySegment));
        assert_eq!(ScopePath::parse("/a/"), Err(PathError::EmptySegment));
        assert_eq!(ScopePath::parse("/a/."), Err(PathError::BadChar('.')));
        assert_eq!(ScopePath::parse("/a/.."), Err(PathError::BadChar('.')));
        assert_eq!(ScopePath::parse("/A"), Err(PathError::BadChar('A')));
        assert_eq!(
            ScopePath::parse(&format!("/{}", "a".repeat(64))),
            Err(PathError::SegmentTooLong)
        );
        assert_eq!(ScopePath::parse(&"/a".repeat(17)), Err(PathError::TooDeep));
        assert_eq!(
            ScopePath::parse(&format!("/{}", "a/".repeat(200))),
            Err(PathError::TooLong)
        );
        assert_eq!(p("/").child("x").unwrap(), p("/x"));
        assert!(p(&"/a".repeat(16)).child("b").is_err());
    }

    #[test]
    fn ancestry() {
        let x = p("/org/team/data");
        assert_eq!(x.parent(), Some(p("/org/team")));
        assert_eq!(p("/").parent(), None);
        assert_eq!(
            x.lineage(),
            vec![p("/"), p("/org"), p("/org/team"), p("/org/team/data")]
        );
        assert!(p("/org").is_prefix_of(&x));
        assert!(p("/").is_prefix_of(&x));
        assert!(!p("/or").is_prefix_of(&x));
        assert!(!x.is_prefix_of(&p("/org")));
    }

    proptest! {
        #[test]
        fn display_round_trips(segs in proptest::collection::vec("[a-z0-9_-]{1,12}", 0..10)) {
            let s = if segs.is_empty() { "/".to_owned() } else { segs.iter().map(|s| format!("/{s}")).collect() };
            let v = ScopePath::parse(&s).unwrap();
            prop_assert_eq!(v.to_string(), s.clone());
            prop_assert_eq!(v.encoded_len(), s.len());
        }

        #[test]
        fn parse_never_panics(s in ".{0,300}") {
            if let Ok(v) = ScopePath::parse(&s) {
                prop_assert_eq!(v.to_string(), s);
            }
        }
    }
}
