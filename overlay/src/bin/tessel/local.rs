//! Reaching the running node through its local sockets in the runtime dir,
//! with one clear message for each way that fails: no node running there,
//! no permission to open the socket (join the socket group), or the node's
//! own refusal (a control API error, e.g. `permission_denied` for a
//! command only root or the daemon's user may send).

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tessel_overlay::driver::control::client::{self, CallError};
use tessel_overlay::driver::control::{ApiError, ErrorCode, Request};
use tessel_overlay::driver::runtime_dir::{self, DEFAULT_SOCKET_GROUP};

use crate::cli::NodeDirs;

/// Why the node could not be reached.
#[derive(Debug)]
pub(crate) enum Unreachable {
    /// No node serves the socket (no file, or nobody listening).
    NotRunning {
        /// The runtime dir looked in.
        dir: PathBuf,
    },
    /// The socket or its directory is closed to this user.
    Denied {
        /// The socket.
        path: PathBuf,
        /// The group that may use it, if it can be read.
        group: Option<String>,
    },
    /// Anything else.
    Other {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotRunning { dir } => write!(
                f,
                "no tessel node is running with runtime dir {} (start one with `tessel up`; \
                 a node started with --state-dir or --runtime-dir is reached with the same flag)",
                dir.display()
            ),
            Self::Denied { path, group } => match group.as_deref() {
                Some("root") => write!(
                    f,
                    "permission denied on {}: the running node's sockets are for root only \
                     (group {DEFAULT_SOCKET_GROUP} did not exist when it started). Create the group \
                     (sudo addgroup --system {DEFAULT_SOCKET_GROUP}), restart the node, add yourself \
                     to it (sudo usermod -aG {DEFAULT_SOCKET_GROUP} $USER) and log in again; or run \
                     this as root",
                    path.display()
                ),
                Some(g) => write!(
                    f,
                    "permission denied: add yourself to group {g} to use the running node \
                     (sudo usermod -aG {g} $USER, then log in again), or run this as root ({})",
                    path.display()
                ),
                None => write!(
                    f,
                    "permission denied: add yourself to the node's socket group, \
                     {DEFAULT_SOCKET_GROUP} unless it was started with --socket-group \
                     (sudo usermod -aG {DEFAULT_SOCKET_GROUP} $USER, then log in again), or run \
                     this as root ({})",
                    path.display()
                ),
            },
            Self::Other { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Unreachable {}

impl Unreachable {
    fn from_io(dir: &Path, path: &Path, error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => Self::NotRunning {
                dir: dir.to_path_buf(),
            },
            io::ErrorKind::PermissionDenied => Self::Denied {
                path: path.to_path_buf(),
                group: runtime_dir::group_of(dir),
            },
            _ => Self::Other {
                path: path.to_path_buf(),
                error,
            },
        }
    }
}

/// Why a control request got no answer to use.
#[derive(Debug)]
pub(crate) enum AskError {
    /// The node could not be reached.
    Unreachable(Unreachable),
    /// The node answered with an error.
    Refused(ApiError),
    /// The answer could not be read.
    Answer(CallError),
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(u) => u.fmt(f),
            Self::Refused(e) if e.is(ErrorCode::PermissionDenied) => {
                write!(f, "permission denied: {}", e.message)
            }
            Self::Refused(e) => f.write_str(&e.message),
            Self::Answer(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AskError {}

impl AskError {
    /// The node's error, if it answered with one.
    pub(crate) fn refusal(&self) -> Option<&ApiError> {
        match self {
            Self::Refused(e) => Some(e),
            _ => None,
        }
    }

    /// Whether no node runs there.
    pub(crate) fn not_running(&self) -> bool {
        matches!(self, Self::Unreachable(Unreachable::NotRunning { .. }))
    }
}

/// Sends `request` on the control socket; returns the answer's fields.
pub(crate) fn call(dirs: &NodeDirs, request: &Request) -> Result<Map<String, Value>, AskError> {
    let dir = dirs.client_runtime_dir();
    let path = runtime_dir::control_socket(&dir);
    client::call(&path, request).map_err(|e| match e {
        CallError::Io(io) => AskError::Unreachable(Unreachable::from_io(&dir, &path, io)),
        CallError::Refused(e) => AskError::Refused(e),
        other => AskError::Answer(other),
    })
}

/// An answer read as its type `T`, with its fields as they came (what
/// `--json` prints, so that a field this CLI does not know still shows).
#[derive(Debug)]
pub(crate) struct Answer<T> {
    body: T,
    raw: Value,
}

impl<T: serde::Serialize> Answer<T> {
    /// An answer made here rather than by the node.
    pub(crate) fn local(body: T) -> Self {
        let raw = serde_json::to_value(&body).unwrap_or(Value::Null);
        Self { body, raw }
    }
}

impl<T> Answer<T> {
    /// Prints the fields as they came: one line when `compact`, else
    /// indented.
    pub(crate) fn print_json(&self, compact: bool) -> anyhow::Result<()> {
        let text = if compact {
            serde_json::to_string(&self.raw)?
        } else {
            serde_json::to_string_pretty(&self.raw)?
        };
        println!("{text}");
        Ok(())
    }
}

impl<T> std::ops::Deref for Answer<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.body
    }
}

/// Sends `request` and reads the answer's fields as a `T`.
pub(crate) fn ask<T: DeserializeOwned>(
    dirs: &NodeDirs,
    request: &Request,
) -> Result<Answer<T>, AskError> {
    let raw = Value::Object(call(dirs, request)?);
    let body = serde_json::from_value(raw.clone()).map_err(|e| {
        AskError::Answer(CallError::Body {
            command: request.name(),
            reason: e.to_string(),
        })
    })?;
    Ok(Answer { body, raw })
}

/// Connects to the socket that `socket_path` names in the runtime dir.
pub(crate) fn connect(
    dirs: &NodeDirs,
    socket_path: fn(&Path) -> PathBuf,
) -> Result<UnixStream, Unreachable> {
    let dir = dirs.client_runtime_dir();
    let path = socket_path(&dir);
    UnixStream::connect(&path).map_err(|e| Unreachable::from_io(&dir, &path, e))
}
