//! A problem in a config file, where it is (line and column, from 1) and
//! which key it concerns; and the error that lists a file's problems.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem, at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Problem {
    /// Line, from 1.
    pub(crate) line: usize,
    /// Column (in characters), from 1.
    pub(crate) column: usize,
    /// The key concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    /// What is wrong and what to do.
    pub(crate) message: String,
}

impl Problem {
    /// A problem at byte offset `at` of `text`.
    pub(crate) fn at(text: &str, at: usize, key: Option<&str>, message: impl Into<String>) -> Self {
        let (line, column) = position(text, at);
        Self {
            line,
            column,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A problem at the start of `span` (the start of the file if `None`).
    pub(crate) fn spanning(
        text: &str,
        span: Option<Range<usize>>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self::at(text, span.map_or(0, |s| s.start), key, message)
    }

    /// `FILE:LINE:COLUMN: KEY: MESSAGE`, as compilers print them.
    pub(crate) fn render(&self, path: &Path) -> String {
        match &self.key {
            Some(k) => format!(
                "{}:{}:{}: {k}: {}",
                path.display(),
                self.line,
                self.column,
                self.message
            ),
            None => format!(
                "{}:{}:{}: {}",
                path.display(),
                self.line,
                self.column,
                self.message
            ),
        }
    }
}

/// Line and column (from 1, in characters) of byte offset `at`.
pub(crate) fn position(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A config file with problems.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.path, .problems))]
pub(crate) struct Invalid {
    /// The file.
    pub(crate) path: PathBuf,
    /// Its problems, in file order.
    pub(crate) problems: Vec<Problem>,
}

fn render(path: &Path, problems: &[Problem]) -> String {
    let mut s = format!(
        "the config file {} is not valid (`tessel config check {}` explains it):",
        path.display(),
        path.display()
    );
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.render(path));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = \"x\"\n\nc";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 4), (1, 5));
        assert_eq!(position(text, 6), (2, 1));
        // After the two-byte é: the third character.
        assert_eq!(position(text, 9), (2, 3));
        // Inside é: where é starts.
        assert_eq!(position(text, 8), (2, 2));
        assert_eq!(position(text, text.len()), (4, 2));
        assert_eq!(position(text, 999), (4, 2));
    }
}
