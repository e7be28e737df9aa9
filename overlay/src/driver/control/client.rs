//! A blocking client of the control socket: one request, one answer, over
//! a fresh connection (the `tessel` CLI, the embedded node, tests).

use std::io::{self, BufRead, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::api::{self, AnswerError, ApiError, Request};

/// Why a call got no good answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The socket could not be reached or broke.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The node closed the connection without answering (it is stopping).
    #[error("the node closed the connection without answering")]
    Closed,
    /// The answer is no answer of this API version.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The node answered with an error.
    #[error(transparent)]
    Refused(ApiError),
    /// The answer's fields are not those of the command's answer type.
    #[error("the node's answer to `{command}` does not read: {reason}")]
    Body {
        /// The command.
        command: &'static str,
        /// What did not match.
        reason: String,
    },
}

/// Sends `request` to the node whose socket is at `path`; returns the
/// answer's fields (without `v`, `id` and `ok`).
///
/// # Errors
/// A [`CallError`]: no node there, no answer, or the node's error.
pub fn call(path: &Path, request: &Request) -> Result<Map<String, Value>, CallError> {
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    let mut line = api::request_line(request, None);
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    io::BufReader::new(stream).read_line(&mut answer)?;
    if answer.trim().is_empty() {
        return Err(CallError::Closed);
    }
    api::read_answer(&answer)?.map_err(CallError::Refused)
}

/// As [`call`], reading the answer's fields as `T`.
///
/// # Errors
/// As [`call`], and [`CallError::Body`] if the fields are not a `T`.
pub fn call_as<T: DeserializeOwned>(path: &Path, request: &Request) -> Result<T, CallError> {
    let body = call(path, request)?;
    serde_json::from_value(Value::Object(body)).map_err(|e| CallError::Body {
        command: request.name(),
        reason: e.to_string(),
    })
}
