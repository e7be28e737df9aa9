//! The one error type of the lab: what failed, with the command, the
//! system call or the condition it was about.

use std::time::Duration;

/// A result of the lab.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while building or using the lab.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The process is not root: namespaces, veth pairs, bridges and TUN
    /// devices need it.
    #[error("this needs root: it creates network namespaces, veth pairs, bridges and TUN devices")]
    NotRoot,
    /// A system call or a file operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A command ran and exited with a failure.
    #[error("{command} failed ({status}):\nstdout: {stdout}\nstderr: {stderr}")]
    Failed {
        /// The command, as `Command`'s debug form shows it.
        command: String,
        /// How it ended ("exit code N", "killed by signal N").
        status: String,
        /// What it printed on stdout.
        stdout: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A command was still running at its time limit (and was killed).
    #[error("{command} did not finish within {timeout:?}; stderr: {stderr}")]
    Hung {
        /// The command.
        command: String,
        /// Its time limit.
        timeout: Duration,
        /// What it printed on stderr until then.
        stderr: String,
    },
    /// A condition did not come true in time.
    #[error(transparent)]
    TimedOut(#[from] TimedOut),
    /// The lab's address plan has no room for one more of something.
    #[error("too many {what} in one lab (at most {max})")]
    Exhausted {
        /// What ran out ("public hosts", "home LANs", …).
        what: &'static str,
        /// How many the plan holds.
        max: u8,
    },
    /// A process was asked to do something its state does not allow.
    #[error("{0}")]
    Process(String),
    /// A tool printed something that could not be read.
    #[error("{what}: {text:?}")]
    Unreadable {
        /// What was being read.
        what: String,
        /// The text.
        text: String,
    },
    /// Something below failed while doing `what`.
    #[error("{what}")]
    During {
        /// What was being done.
        what: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
}

/// A deadline-bounded wait that ran out ([`crate::wait::poll`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("timed out after {timeout:?} waiting for {what}")]
pub struct TimedOut {
    /// The condition waited for.
    pub what: String,
    /// How long it was waited for.
    pub timeout: Duration,
}

impl Error {
    /// An [`Error::Io`] saying what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Adds what was being done to a failed result.
pub trait ResultExt<T> {
    /// Wraps the error in [`Error::During`] with the text `what` makes.
    fn during<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn during<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|source| Error::During {
            what: what().into(),
            source: Box::new(source),
        })
    }
}
