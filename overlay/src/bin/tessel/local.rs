//! Reaching the running node through its local sockets in the runtime dir,
//! with one clear message for each way that fails: no node running there,
//! or no permission (join the socket group).

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use tessel_overlay::driver::control;
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
                     (group `{DEFAULT_SOCKET_GROUP}` did not exist when it started). Create the group \
                     (sudo addgroup --system {DEFAULT_SOCKET_GROUP}), restart the node, join the group \
                     (sudo usermod -aG {DEFAULT_SOCKET_GROUP} $USER) and log in again; or run this as root",
                    path.display()
                ),
                Some(g) => write!(
                    f,
                    "permission denied on {}: only root and members of group `{g}` may use the \
                     running node; join it with `sudo usermod -aG {g} $USER` and log in again, \
                     or run this as root",
                    path.display()
                ),
                None => write!(
                    f,
                    "permission denied on {}: only root and the members of the node's socket group \
                     (`{DEFAULT_SOCKET_GROUP}` unless it was started with --socket-group) may use the \
                     running node; join it with `sudo usermod -aG {DEFAULT_SOCKET_GROUP} $USER` and \
                     log in again, or run this as root",
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

/// Sends one request line on the control socket and returns the answer.
pub(crate) fn request(dirs: &NodeDirs, command: &str) -> Result<String, Unreachable> {
    let dir = dirs.client_runtime_dir();
    let path = runtime_dir::control_socket(&dir);
    control::request(&path, command).map_err(|e| Unreachable::from_io(&dir, &path, e))
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
