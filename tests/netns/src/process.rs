//! Child processes with logs on disk, stopped by PID and never by name.

// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// How long [`Process::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Makes the kernel SIGKILL the child if the thread that spawned it dies, so
/// nothing outlives a test that was itself killed.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A running child whose stdout and stderr go to `<name>.stdout.log` and
/// `<name>.stderr.log` in a log directory. Killed (SIGKILL) on drop if
/// still running.
#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    exit: Option<ExitStatus>,
}

/// How a process ended after [`Process::stop`].
#[derive(Debug, Clone, Copy)]
pub struct Stopped {
    /// The exit status.
    pub status: ExitStatus,
    /// True if SIGTERM was not enough and SIGKILL had to be sent.
    pub forced: bool,
}

impl Process {
    /// Spawns `cmd` with stdin closed and output captured into `log_dir`.
    pub fn spawn(mut cmd: Command, name: &str, log_dir: &Path) -> Result<Self> {
        let stdout_path = log_dir.join(format!("{name}.stdout.log"));
        let stderr_path = log_dir.join(format!("{name}.stderr.log"));
        let stdout = File::create(&stdout_path)
            .with_context(|| format!("creating {}", stdout_path.display()))?;
        let stderr = File::create(&stderr_path)
            .with_context(|| format!("creating {}", stderr_path.display()))?;
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        Ok(Self {
            child,
            name: name.to_owned(),
            stdout_path,
            stderr_path,
            exit: None,
        })
    }

    /// The child's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status if the child has exited (reaping it), else `None`.
    pub fn try_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.name))?;
        }
        Ok(self.exit)
    }

    /// True while the child has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_status(), Ok(None))
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status()? {
                return Ok(Some(s));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` to the child's PID. Refuses once the child has been
    /// reaped, since its PID may then belong to someone else.
    pub fn signal(&mut self, signal: libc::c_int) -> Result<()> {
        if self.try_status()?.is_some() {
            bail!(
                "{} has already exited; not signalling its old PID",
                self.name
            );
        }
        let pid = libc::pid_t::try_from(self.pid()).context("PID out of range")?;
        // SAFETY: plain syscall; the PID is our own unreaped child.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("kill({pid}, {signal}) for {}", self.name));
        }
        Ok(())
    }

    /// SIGTERM, then wait up to `grace`, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Result<Stopped> {
        self.stop_with(libc::SIGTERM, grace)
    }

    /// Sends `signal`, waits up to `grace`, then SIGKILL.
    pub fn stop_with(&mut self, signal: libc::c_int, grace: Duration) -> Result<Stopped> {
        if let Some(status) = self.try_status()? {
            return Ok(Stopped {
                status,
                forced: false,
            });
        }
        self.signal(signal)?;
        if let Some(status) = self.wait_timeout(grace)? {
            return Ok(Stopped {
                status,
                forced: false,
            });
        }
        let status = self.kill()?;
        Ok(Stopped {
            status,
            forced: true,
        })
    }

    /// SIGKILL and reap: a deliberate crash.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.try_status()? {
            return Ok(s);
        }
        self.signal(libc::SIGKILL)?;
        let status = self
            .child
            .wait()
            .with_context(|| format!("reaping {}", self.name))?;
        self.exit = Some(status);
        Ok(status)
    }

    /// Everything the child wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_running() {
            if let Err(e) = self.kill() {
                eprintln!("warning: could not kill {}: {e:#}", self.name);
            }
        }
    }
}

/// Reads a file as text, replacing invalid UTF-8; empty if unreadable.
pub fn read_lossy(path: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `cmd` to completion with captured output, killing it if it is still
/// running after `timeout`.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut cmd);
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().with_context(|| format!("spawning {what}"))?;
    let mut out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout pipe"))?;
    let mut err = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("no stderr pipe"))?;
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            bail!(
                "{what} did not finish within {timeout:?}; stderr: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Runs `cmd` like [`run_bounded`] and fails unless it exits 0; returns stdout.
pub fn run_ok(cmd: Command, timeout: Duration) -> Result<String> {
    let what = format!("{cmd:?}");
    let out = run_bounded(cmd, timeout)?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            describe(out.status),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// "exit code N" or "killed by signal N".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{status}"),
    }
}
