//! The Python engine client (`actors/examples/engine_client.py`) run in a
//! node's namespace, as the engine and scope tests use it: it prints
//! `engine ADDR` once its engine runs, then a line for each thing it gets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::process::Process;
use crate::services::python3;
use crate::{wait, TesselNode};

/// How long the client may take to start its engine, and a printed line
/// to appear.
const WAIT: Duration = Duration::from_secs(20);

/// The client script in this repository.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../actors/examples/engine_client.py")
}

/// A running Python engine client.
pub struct PyEngine {
    /// The client process.
    pub process: Process,
    /// Its engine's address (64 hex digits).
    pub addr: String,
}

impl PyEngine {
    /// Runs `engine_client.py ARGS` against `node` (its logs in `logs`)
    /// and waits for its engine address.
    ///
    /// # Errors
    /// No Python, or the client exits or prints no address in time.
    pub fn start(node: &TesselNode, name: &str, args: &[&str], logs: &Path) -> Result<Self> {
        let mut cmd = node.ns().command(python3()?);
        cmd.arg("-u")
            .arg(script())
            .arg("--runtime-dir")
            .arg(node.runtime_dir())
            .args(args);
        let mut process = Process::spawn(cmd, name, logs)?;
        let addr = wait::poll(&format!("{name} to start its engine"), WAIT, || {
            if let Some(s) = process.try_status()? {
                bail!("{name} exited ({s}): {}", process.stderr());
            }
            Ok(process
                .stdout()
                .lines()
                .find_map(|l| l.strip_prefix("engine ").map(str::to_owned)))
        })?;
        Ok(Self { process, addr })
    }

    /// Lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.process.stdout().lines().map(str::to_owned).collect()
    }

    /// Waits until a printed line satisfies `pred`.
    ///
    /// # Errors
    /// None did in time; the error lists what was printed.
    pub fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> Result<()> {
        wait::poll(what, WAIT, || {
            Ok(self.lines().iter().any(|l| pred(l)).then_some(()))
        })
        .with_context(|| format!("output so far: {:?}", self.lines()))
    }

    /// Whether it printed a cast carrying `data`.
    pub fn got_cast(&self, data: &str) -> bool {
        self.lines().iter().any(|l| is_cast_of(l, data))
    }

    /// Waits until it prints a cast carrying `data`.
    ///
    /// # Errors
    /// None came in time.
    pub fn wait_cast(&self, data: &str) -> Result<()> {
        self.wait_line(&format!("engine {} to get {data}", self.addr), |l| {
            is_cast_of(l, data)
        })
    }
}

fn is_cast_of(line: &str, data: &str) -> bool {
    line.starts_with("cast ") && line.ends_with(&format!(" {data}"))
}
