//! What the tests of the `tessel` command line share: running the binary
//! as a user would, and scratch directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `tessel ARGS` in `dir`.
pub(crate) fn tessel(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessel"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs tessel")
}

/// Runs `tessel ARGS`, which must succeed; returns its trimmed stdout.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let o = tessel(dir, args);
    assert!(
        o.status.success(),
        "tessel {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// Runs `tessel ARGS`, which must fail with an error that contains `says`.
pub(crate) fn fails(dir: &Path, args: &[&str], says: &str) {
    let o = tessel(dir, args);
    assert!(!o.status.success(), "tessel {args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(says),
        "tessel {args:?}: `{err}` lacks `{says}`"
    );
}

/// A scratch directory, removed on drop.
pub(crate) struct Dir(pub(crate) PathBuf);

impl Dir {
    /// A fresh directory named after `test`, `name` and this process.
    pub(crate) fn new(test: &str, name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tessel-{test}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
