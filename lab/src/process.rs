//! Child processes with logs on disk, stopped by PID and never by name.

// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long [`Process::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How a child is tied to the process that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tether {
    /// The kernel kills the child (SIGKILL) when the thread that spawned it
    /// dies, so nothing outlives a caller that was itself killed; the child
    /// stays in the caller's process group (a terminal's Ctrl-C reaches it).
    WithParent,
    /// As [`Tether::WithParent`], but in a session of its own: a
    /// terminal's Ctrl-C reaches only the caller, which stops the child in
    /// its own time.
    OwnSession,
    /// In a session of its own and free to outlive the caller (see
    /// [`Process::release`]).
    Detached,
}

/// Sets up `cmd` as `tether` says.
fn tie(cmd: &mut Command, tether: Tether) {
    let (die_with_parent, new_session) = match tether {
        Tether::WithParent => (true, false),
        Tether::OwnSession => (true, true),
        Tether::Detached => (false, true),
    };
    // SAFETY: setsid and prctl are async-signal-safe and touch no memory of
    // the parent.
    unsafe {
        cmd.pre_exec(move || {
            if new_session && libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if die_with_parent && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A running child whose stdout and stderr go to `<name>.stdout.log` and
/// `<name>.stderr.log` in a log directory. Killed (SIGKILL) on drop if
/// still running, unless [released](Process::release).
#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    exit: Option<ExitStatus>,
    released: bool,
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
    /// Spawns `cmd` with stdin closed and output captured into `log_dir`,
    /// tied to this process ([`Tether::WithParent`]).
    pub fn spawn(cmd: Command, name: &str, log_dir: &Path) -> Result<Self> {
        Self::spawn_tethered(cmd, name, log_dir, Tether::WithParent)
    }

    /// Like [`Process::spawn`], tied to this process as `tether` says.
    pub fn spawn_tethered(
        mut cmd: Command,
        name: &str,
        log_dir: &Path,
        tether: Tether,
    ) -> Result<Self> {
        let stdout_path = log_dir.join(format!("{name}.stdout.log"));
        let stderr_path = log_dir.join(format!("{name}.stderr.log"));
        let create = |path: &Path| {
            File::create(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))
        };
        let stdout = create(&stdout_path)?;
        let stderr = create(&stderr_path)?;
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        tie(&mut cmd, tether);
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("spawning {name}: {cmd:?}"), e))?;
        Ok(Self {
            child,
            name: name.to_owned(),
            stdout_path,
            stderr_path,
            exit: None,
            released: false,
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
                .map_err(|e| Error::io(format!("waiting for {}", self.name), e))?;
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
            return Err(Error::Process(format!(
                "{} has already exited; not signalling its old PID",
                self.name
            )));
        }
        let pid = libc::pid_t::try_from(self.pid())
            .map_err(|_| Error::Process(format!("PID of {} out of range", self.name)))?;
        // SAFETY: plain syscall; the PID is our own unreaped child.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(Error::io(
                format!("kill({pid}, {signal}) for {}", self.name),
                std::io::Error::last_os_error(),
            ));
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
            .map_err(|e| Error::io(format!("reaping {}", self.name), e))?;
        self.exit = Some(status);
        Ok(status)
    }

    /// Lets the child run on after this handle is dropped, and returns its
    /// PID. (Only a [`Tether::Detached`] child also outlives this process.)
    pub fn release(mut self) -> u32 {
        self.released = true;
        self.pid()
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
        if !self.released && self.is_running() {
            if let Err(e) = self.kill() {
                eprintln!("warning: could not kill {}: {e}", self.name);
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
pub fn run_bounded(cmd: Command, timeout: Duration) -> Result<Output> {
    run_bounded_with_input(cmd, &[], timeout)
}

/// Like [`run_bounded`], with `input` written to the command's stdin (then
/// closed).
pub fn run_bounded_with_input(mut cmd: Command, input: &[u8], timeout: Duration) -> Result<Output> {
    cmd.stdin(if input.is_empty() {
        Stdio::null()
    } else {
        Stdio::piped()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    tie(&mut cmd, Tether::WithParent);
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("spawning {what}"), e))?;
    let no_pipe = |which: &str| Error::Process(format!("no {which} pipe for {what}"));
    let writer = match child.stdin.take() {
        Some(mut stdin) => {
            let input = input.to_vec();
            Some(std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            }))
        }
        None => None,
    };
    let mut out = child.stdout.take().ok_or_else(|| no_pipe("stdout"))?;
    let mut err = child.stderr.take().ok_or_else(|| no_pipe("stderr"))?;
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
        if let Some(s) = child
            .try_wait()
            .map_err(|e| Error::io(format!("waiting for {what}"), e))?
        {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_reader.join().unwrap_or_default();
            return Err(Error::Hung {
                command: what,
                timeout,
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
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
    run_ok_with_input(cmd, &[], timeout)
}

/// Like [`run_ok`], with `input` on the command's stdin.
pub fn run_ok_with_input(cmd: Command, input: &[u8], timeout: Duration) -> Result<String> {
    let what = format!("{cmd:?}");
    let out = run_bounded_with_input(cmd, input, timeout)?;
    if !out.status.success() {
        return Err(Error::Failed {
            command: what,
            status: describe(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
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

/// Sends `signal` to process `pid`, which need not be a child (check first
/// that it is the process meant, e.g. with [`crate::netns::holds`]).
pub fn signal_pid(pid: u32, signal: libc::c_int) -> Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| Error::Process(format!("PID {pid} out of range")))?;
    // SAFETY: plain syscall on a PID; no memory is shared.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(Error::io(
            format!("kill({pid}, {signal})"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
