//! Where a demo keeps its files, and the state file that lets `tessel demo
//! --down` (or the next demo) find a demo's namespaces and node processes.
//!
//! Everything lives in [`DIR`] (`/run/tessel-demo`, root only): `lock`,
//! held for as long as a demo or `--down` runs, so two never overlap;
//! `state.json` (this module's [`DemoState`]), written before the first
//! namespace is made and removed after the last is gone; and `nodes/NAME/`
//! with each node's state dir, runtime dir and logs.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The demo's directory.
pub(crate) const DIR: &str = "/run/tessel-demo";

/// What a demo made, as far as it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct DemoState {
    /// The `tessel demo` process that made it.
    pub(crate) owner_pid: u32,
    /// True once the demo ended with `--keep`, leaving it all running.
    pub(crate) kept: bool,
    /// Namespaces, in the order they were made (made or about to be).
    pub(crate) namespaces: Vec<String>,
    /// The nodes started so far.
    pub(crate) nodes: Vec<NodeRecord>,
}

/// One node of the demo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeRecord {
    /// The member's name.
    pub(crate) name: String,
    /// Its namespace.
    pub(crate) namespace: String,
    /// The PID of its `tessel up`.
    pub(crate) pid: u32,
    /// Its state dir.
    pub(crate) state_dir: PathBuf,
    /// Its runtime dir.
    pub(crate) runtime_dir: PathBuf,
}

/// The exclusive right to make or remove a demo, held until dropped.
#[derive(Debug)]
pub(crate) struct DemoLock(#[allow(dead_code)] Flock<File>);

/// Creates [`DIR`] if needed and takes its lock, failing at once if another
/// `tessel demo` holds it.
pub(crate) fn lock() -> Result<DemoLock> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(DIR)
        .with_context(|| format!("creating {DIR}"))?;
    let path = Path::new(DIR).join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(DemoLock(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            bail!("another `tessel demo` is running on this machine; wait for it to end")
        }
        Err((_, e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// The state file's path.
pub(crate) fn path() -> PathBuf {
    Path::new(DIR).join("state.json")
}

/// Where the node `name` keeps its files.
pub(crate) fn node_dir(name: &str) -> PathBuf {
    Path::new(DIR).join("nodes").join(name)
}

/// Reads the state file, if there is one.
pub(crate) fn read() -> Result<Option<DemoState>> {
    let path = path();
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the state file (atomically: a new file renamed over the old).
pub(crate) fn write(state: &DemoState) -> Result<()> {
    let path = path();
    let tmp = path.with_extension("json.new");
    let text = serde_json::to_string_pretty(state).context("encoding the demo state")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// Removes the demo's files: node dirs, the network key and the state
/// file (the lock file stays, so that a lock held by someone else stays
/// valid).
pub(crate) fn remove_files() -> Result<()> {
    let nodes = Path::new(DIR).join("nodes");
    if nodes.exists() {
        std::fs::remove_dir_all(&nodes).with_context(|| format!("removing {}", nodes.display()))?;
    }
    for file in [Path::new(DIR).join("network.key"), path()] {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", file.display())),
        }
    }
    Ok(())
}
