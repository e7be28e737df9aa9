//! The runtime directory: the home of the daemon's local sockets, the
//! control socket `tessel.sock`, `engines.sock` and `tile.sock`.
//!
//! - **Where.** `--runtime-dir DIR` when given. Otherwise a node with a
//!   state dir other than the default keeps its sockets in `STATE_DIR/run`
//!   (so that several nodes on one machine, as in the tests, each have
//!   their own); a node with the default state dir uses `/run/tessel` when
//!   it runs as root (systemd's `RuntimeDirectory=tessel`) and
//!   `$XDG_RUNTIME_DIR/tessel` otherwise ([`daemon_default`]). Clients
//!   follow the same rule with the same flags ([`client_default`]).
//! - **Who.** The directory is 0750 and each socket 0660, both with group
//!   `tessel` when that group exists (or the group given with
//!   `--socket-group`), else the daemon's own group: root and the group's
//!   members use the node, anyone else gets "permission denied".
//! - **One daemon per directory.** The daemon holds an exclusive lock on
//!   `runtime.lock` in it while it runs, so a second one is refused, and
//!   a socket file found at start belongs to a daemon that is gone and is
//!   replaced.
//! - **Tessel's alone.** An existing directory is taken over only if it
//!   is owned by the daemon's user and holds nothing but tessel's own files,
//!   so a mistaken `--runtime-dir /tmp` changes no shared directory's mode
//!   or group.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{Gid, Group};
use tokio::net::UnixListener;

use super::dir_lock::DirLock;
use super::DriverError;

/// The runtime dir of a node with the default state dir, run as root.
pub const SYSTEM_RUNTIME_DIR: &str = "/run/tessel";
/// The group whose members may use the local sockets, when it exists.
pub const DEFAULT_SOCKET_GROUP: &str = "tessel";
/// The control socket's file name.
pub const CONTROL_SOCKET: &str = "tessel.sock";
/// The subdirectory of a non-default state dir that serves as runtime dir.
const STATE_SUBDIR: &str = "run";
/// The lock file held by the running daemon.
const LOCK: &str = "runtime.lock";
/// Every file the daemon makes here; an existing directory holding
/// anything else is not taken over.
const OWN_FILES: [&str; 4] = [
    CONTROL_SOCKET,
    super::engines::SOCKET,
    super::tile::SOCKET,
    LOCK,
];
/// Mode of the directory: the group may enter it, others not.
const DIR_MODE: u32 = 0o750;
/// Mode of each socket: the group may connect.
const SOCKET_MODE: u32 = 0o660;

/// Which group may use the sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SocketGroup {
    /// Group `tessel` if it exists and the daemon may hand files to it
    /// (as root, or as one of its members); else the daemon's own group.
    #[default]
    Default,
    /// This group, by name or number; the daemon refuses to start if it
    /// does not exist or cannot be used.
    Named(String),
}

/// Where a daemon with `state_dir` and no `--runtime-dir` puts its sockets.
pub fn daemon_default(state_dir: &Path) -> PathBuf {
    choose(state_dir, &Env::current(), Side::Daemon)
}

/// Where a client looks for the sockets of the node with `state_dir`,
/// given no `--runtime-dir`: as [`daemon_default`], except that a user who
/// runs no node of their own (none in `$XDG_RUNTIME_DIR/tessel`) reaches
/// the system's node in [`SYSTEM_RUNTIME_DIR`].
pub fn client_default(state_dir: &Path) -> PathBuf {
    choose(state_dir, &Env::current(), Side::Client)
}

/// The control socket's path in the runtime dir `dir`.
pub fn control_socket(dir: &Path) -> PathBuf {
    dir.join(CONTROL_SOCKET)
}

/// The group that owns the runtime dir `dir`, by name (or by number if it
/// has none), if the directory can be read: for messages to users who may
/// not enter it.
pub fn group_of(dir: &Path) -> Option<String> {
    let gid = fs::metadata(dir).ok()?.gid();
    let name = Group::from_gid(Gid::from_raw(gid)).ok().flatten();
    Some(name.map_or_else(|| gid.to_string(), |g| g.name))
}

/// What the choice of a default depends on.
struct Env {
    root: bool,
    xdg_runtime_dir: Option<PathBuf>,
}

impl Env {
    fn current() -> Self {
        Self {
            root: nix::unistd::geteuid().is_root(),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute()),
        }
    }
}

/// Who asks for the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Daemon,
    Client,
}

fn choose(state_dir: &Path, env: &Env, side: Side) -> PathBuf {
    if state_dir != Path::new(super::state_dir::DEFAULT_STATE_DIR) {
        return state_dir.join(STATE_SUBDIR);
    }
    let system = PathBuf::from(SYSTEM_RUNTIME_DIR);
    let own = match &env.xdg_runtime_dir {
        Some(xdg) if !env.root => xdg.join("tessel"),
        _ => return system,
    };
    match side {
        Side::Daemon => own,
        Side::Client if control_socket(&own).exists() => own,
        Side::Client => system,
    }
}

fn err(path: &Path, problem: impl Into<String>) -> DriverError {
    DriverError::RuntimeDir {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn io_err(path: &Path, what: &str, e: impl std::fmt::Display) -> DriverError {
    err(path, format!("{what}: {e}"))
}

/// An opened runtime dir, locked for this daemon until dropped.
#[derive(Debug)]
pub struct RuntimeDir {
    path: PathBuf,
    gid: Gid,
    _lock: DirLock,
}

impl RuntimeDir {
    /// Creates `path` (or takes over an existing one, see the module doc),
    /// sets its mode and group, and locks it for this daemon.
    ///
    /// # Errors
    /// If it cannot be created, is not the daemon's own, holds other
    /// files, the group given does not exist or cannot be used, or another
    /// daemon runs with it.
    pub fn open(path: &Path, group: &SocketGroup) -> Result<Self, DriverError> {
        let created = create(path)?;
        let meta = fs::symlink_metadata(path).map_err(|e| io_err(path, "reading it", e))?;
        if !meta.is_dir() {
            return Err(err(path, "not a directory"));
        }
        let euid = nix::unistd::geteuid();
        if meta.uid() != euid.as_raw() {
            return Err(err(
                path,
                format!(
                    "owned by uid {}, not by this user (uid {euid}): give tessel a directory of its own with --runtime-dir",
                    meta.uid()
                ),
            ));
        }
        if !created {
            check_only_ours(path)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))
            .map_err(|e| io_err(path, "setting its mode", e))?;
        let gid = hand_to_group(path, group)?;
        let lock = DirLock::acquire(path, LOCK)
            .map_err(|e| io_err(path, "locking it", e))?
            .ok_or_else(|| DriverError::AlreadyRunning {
                flag: "--runtime-dir",
                path: path.to_path_buf(),
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            gid,
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The control socket's path.
    pub fn control_socket(&self) -> PathBuf {
        control_socket(&self.path)
    }

    /// Binds the socket `name` in this directory, replacing a stale file
    /// (this daemon holds the lock, so no other daemon serves it), with
    /// mode 0660 and the directory's group.
    ///
    /// # Errors
    /// If it cannot be bound, or its mode or group set.
    pub fn bind(&self, name: &str) -> io::Result<UnixListener> {
        let path = self.path.join(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(SOCKET_MODE))?;
        nix::unistd::chown(&path, None, Some(self.gid)).map_err(io::Error::from)?;
        Ok(listener)
    }
}

/// Creates the directory if missing (its parents with default modes);
/// true if this call created it.
fn create(path: &Path) -> Result<bool, DriverError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| io_err(path, "creating its parent", e))?;
    }
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path, "creating it", e)),
    }
}

fn check_only_ours(path: &Path) -> Result<(), DriverError> {
    let entries = fs::read_dir(path).map_err(|e| io_err(path, "listing it", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(path, "listing it", e))?;
        let name = entry.file_name();
        if !OWN_FILES.iter().any(|own| name == *own) {
            return Err(err(
                path,
                format!(
                    "it holds {}, which is not tessel's: the runtime dir must be tessel's alone; give --runtime-dir a directory of its own",
                    name.to_string_lossy()
                ),
            ));
        }
    }
    Ok(())
}

/// Gives the directory to the chosen group; returns the group the
/// sockets get.
fn hand_to_group(path: &Path, group: &SocketGroup) -> Result<Gid, DriverError> {
    let own = nix::unistd::getegid();
    let (wanted, name) = match group {
        SocketGroup::Default => match Group::from_name(DEFAULT_SOCKET_GROUP) {
            Ok(Some(g)) => (Some(g.gid), DEFAULT_SOCKET_GROUP.to_owned()),
            _ => {
                tracing::info!(
                    dir = %path.display(),
                    "no group `{DEFAULT_SOCKET_GROUP}`: only this node's user and group may use its sockets (create the group with `addgroup --system {DEFAULT_SOCKET_GROUP}` to share them)"
                );
                (None, String::new())
            }
        },
        SocketGroup::Named(name) => (Some(lookup(path, name)?), name.clone()),
    };
    if let Some(gid) = wanted {
        match nix::unistd::chown(path, None, Some(gid)) {
            Ok(()) => return Ok(gid),
            Err(Errno::EPERM) if *group == SocketGroup::Default => {
                tracing::debug!(
                    dir = %path.display(),
                    "not allowed to hand the runtime dir to group `{name}` (neither root nor a member): keeping this user's group"
                );
            }
            Err(e) => {
                return Err(io_err(
                    path,
                    &format!(
                        "handing it to group `{name}` (run as root or as a member of the group)"
                    ),
                    e,
                ))
            }
        }
    }
    nix::unistd::chown(path, None, Some(own)).map_err(|e| io_err(path, "setting its group", e))?;
    Ok(own)
}

/// A group by name, or by number.
fn lookup(path: &Path, name: &str) -> Result<Gid, DriverError> {
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) | Err(_) => match name.parse::<u32>() {
            Ok(n) => Ok(Gid::from_raw(n)),
            Err(_) => Err(err(
                path,
                format!("--socket-group {name}: no such group (create it with `addgroup --system {name}`)"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let p = std::env::temp_dir()
                .join(format!("tessel-runtime-dir-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// The group a daemon of this user gets by default.
    fn default_gid() -> u32 {
        let own = nix::unistd::getegid();
        match Group::from_name(DEFAULT_SOCKET_GROUP) {
            Ok(Some(g)) if nix::unistd::geteuid().is_root() => g.gid.as_raw(),
            _ => own.as_raw(),
        }
    }

    #[test]
    fn the_default_follows_the_state_dir_then_the_user() {
        let xdg = Scratch::new("xdg");
        let system = PathBuf::from(SYSTEM_RUNTIME_DIR);
        let default_state = Path::new(crate::driver::state_dir::DEFAULT_STATE_DIR);
        let root = Env {
            root: true,
            xdg_runtime_dir: Some(xdg.0.clone()),
        };
        let user = Env {
            root: false,
            xdg_runtime_dir: Some(xdg.0.clone()),
        };
        let bare = Env {
            root: false,
            xdg_runtime_dir: None,
        };
        for side in [Side::Daemon, Side::Client] {
            for env in [&root, &user, &bare] {
                assert_eq!(
                    choose(Path::new("/srv/node-a"), env, side),
                    PathBuf::from("/srv/node-a/run")
                );
            }
            assert_eq!(choose(default_state, &root, side), system);
            assert_eq!(choose(default_state, &bare, side), system);
        }
        let own = xdg.0.join("tessel");
        assert_eq!(choose(default_state, &user, Side::Daemon), own);
        // A client reaches the system's node unless the user runs one.
        assert_eq!(choose(default_state, &user, Side::Client), system);
        fs::create_dir_all(&own).unwrap();
        fs::write(own.join(CONTROL_SOCKET), b"").unwrap();
        assert_eq!(choose(default_state, &user, Side::Client), own);
    }

    #[tokio::test]
    async fn a_new_dir_is_0750_its_sockets_0660_and_a_second_daemon_is_refused() {
        let scratch = Scratch::new("new");
        let path = scratch.0.join("a").join("run");
        let dir = RuntimeDir::open(&path, &SocketGroup::Default).unwrap();
        assert_eq!(mode(&path), 0o750);
        assert_eq!(fs::metadata(&path).unwrap().gid(), default_gid());
        let _listener = dir.bind(CONTROL_SOCKET).unwrap();
        let socket = dir.control_socket();
        assert_eq!(mode(&socket), 0o660);
        assert_eq!(fs::metadata(&socket).unwrap().gid(), default_gid());
        assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok());

        match RuntimeDir::open(&path, &SocketGroup::Default) {
            Err(DriverError::AlreadyRunning { flag, .. }) => assert_eq!(flag, "--runtime-dir"),
            other => panic!("a second daemon was not refused: {other:?}"),
        }
    }

    #[tokio::test]
    async fn stale_sockets_of_a_gone_daemon_are_replaced() {
        let scratch = Scratch::new("stale");
        let path = scratch.0.join("run");
        let first = RuntimeDir::open(&path, &SocketGroup::Default).unwrap();
        let old = first.bind(CONTROL_SOCKET).unwrap();
        // The daemon dies without cleaning up: its socket file stays.
        drop(old);
        drop(first);
        assert!(path.join(CONTROL_SOCKET).exists());
        let second = RuntimeDir::open(&path, &SocketGroup::Default).unwrap();
        let _new = second.bind(CONTROL_SOCKET).unwrap();
        assert!(std::os::unix::net::UnixStream::connect(second.control_socket()).is_ok());
    }

    #[test]
    fn an_existing_dir_of_ours_is_tightened_and_a_shared_one_refused() {
        let scratch = Scratch::new("existing");
        let ours = scratch.0.join("ours");
        fs::create_dir(&ours).unwrap();
        fs::set_permissions(&ours, fs::Permissions::from_mode(0o777)).unwrap();
        drop(RuntimeDir::open(&ours, &SocketGroup::Default).unwrap());
        assert_eq!(mode(&ours), 0o750);

        let shared = scratch.0.join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        fs::write(shared.join("someone-elses.txt"), b"").unwrap();
        match RuntimeDir::open(&shared, &SocketGroup::Default) {
            Err(DriverError::RuntimeDir { problem, .. }) => {
                assert!(problem.contains("someone-elses.txt"), "{problem}")
            }
            other => panic!("a shared directory was taken over: {other:?}"),
        }
        assert_eq!(mode(&shared), 0o1777, "the shared directory was changed");
    }

    #[test]
    fn a_named_group_must_exist_and_be_usable() {
        let scratch = Scratch::new("group");
        let missing = RuntimeDir::open(
            &scratch.0.join("a"),
            &SocketGroup::Named("no-such-group-tessel".into()),
        );
        assert!(
            matches!(&missing, Err(DriverError::RuntimeDir { problem, .. }) if problem.contains("no such group")),
            "{missing:?}"
        );
        // A number is taken as a GID; only root may hand a directory to a
        // group it is not in.
        let path = scratch.0.join("b");
        let numbered = RuntimeDir::open(&path, &SocketGroup::Named("4242".into()));
        if nix::unistd::geteuid().is_root() {
            numbered.unwrap();
            assert_eq!(fs::metadata(&path).unwrap().gid(), 4242);
        } else {
            assert!(numbered.is_err());
        }
    }
}
