//! The program a change of physics restarts (`--tile-run CMD`): the
//! command runs under `/bin/sh -c` with the live file's path appended as
//! its last argument. At most one runs; it is killed (by its PID) when the
//! next one starts and when the daemon stops.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The running program, if any.
#[derive(Debug)]
pub(super) struct Runner {
    command: Option<String>,
    child: Option<Child>,
}

impl Runner {
    /// A runner of `command` (none: changes of physics are only logged).
    pub(super) fn new(command: Option<String>) -> Self {
        Self {
            command,
            child: None,
        }
    }

    /// Stops the running program and starts the command on `file`.
    pub(super) fn restart(&mut self, file: &Path) {
        self.stop();
        let Some(cmd) = &self.command else {
            tracing::info!(file = %file.display(), "change of physics (no --tile-run command)");
            return;
        };
        let spawned = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{cmd} \"$1\""))
            .arg("tessel-tile-run")
            .arg(file)
            .stdin(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                tracing::info!(pid = child.id(), file = %file.display(), "started the tile program");
                self.child = Some(child);
            }
            Err(e) => tracing::error!(error = %e, command = %cmd, "starting the tile program"),
        }
    }

    /// The running program's PID.
    pub(super) fn pid(&mut self) -> Option<u32> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => None,
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                tracing::info!(pid = child.id(), "stopping the tile program");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}
