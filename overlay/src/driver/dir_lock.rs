//! One daemon per directory: an exclusive `flock(2)` on a lock file inside
//! it, held for as long as the daemon runs. The kernel drops the lock when
//! the process ends, however it ends, so a crashed daemon leaves no stale
//! lock behind and a second daemon is refused at once.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; dropping it releases the lock (the file stays).
#[derive(Debug)]
pub(crate) struct DirLock {
    _lock: Flock<File>,
}

impl DirLock {
    /// Locks `dir/name` (created with mode 0600 if missing); `None` if
    /// another process holds it.
    ///
    /// # Errors
    /// If the lock file cannot be opened or locked.
    pub(crate) fn acquire(dir: &Path, name: &str) -> io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(name))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(Self { _lock: lock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(io::Error::from(errno)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder_until_dropped() {
        let dir = std::env::temp_dir().join(format!("tessel-dir-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = DirLock::acquire(&dir, "x.lock").unwrap();
        assert!(first.is_some());
        // flock locks belong to the open file, so a second open in the same
        // process conflicts as another process would.
        assert!(DirLock::acquire(&dir, "x.lock").unwrap().is_none());
        drop(first);
        assert!(DirLock::acquire(&dir, "x.lock").unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
