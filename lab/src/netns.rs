//! Network namespaces that clean up after themselves.
//!
//! [`Netns::new`] names them `ts-<pid>-<n>-<role>`: the process ID and a
//! per-process counter keep tests running in parallel (threads or
//! processes) apart, and namespaces left behind by test processes that died
//! without dropping them are swept the first time a process creates one.
//! [`Netns::create`] takes the exact name (`tessel demo` uses `tdemo-…`)
//! and sweeps nothing. On drop every process still inside the namespace is
//! killed and the namespace is deleted, unless it was [kept](Netns::keep).

// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

use crate::error::{Error, Result, ResultExt};
use crate::process::{run_bounded, run_ok, run_ok_with_input};
use crate::wait;

/// Prefix of every namespace [`Netns::new`] creates.
pub const PREFIX: &str = "ts-";

/// Default time limit of a command run in a namespace.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Directory where `ip netns` keeps its namespace handles.
const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SWEEP: Once = Once::new();

/// True if the process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Fails with [`Error::NotRoot`] unless running as root.
pub fn require_root() -> Result<()> {
    if !is_root() {
        return Err(Error::NotRoot);
    }
    Ok(())
}

/// A network namespace created by this process.
#[derive(Debug)]
pub struct Netns {
    name: String,
    kept: AtomicBool,
}

impl Netns {
    /// Creates a fresh namespace named `ts-<pid>-<n>-<role>` with `lo` up.
    pub fn new(role: &str) -> Result<Self> {
        require_root()?;
        SWEEP.call_once(sweep_stale);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::create(&format!("{PREFIX}{}-{n}-{role}", std::process::id()))
    }

    /// Creates a namespace called exactly `name`, with `lo` up; fails if
    /// one of that name exists.
    pub fn create(name: &str) -> Result<Self> {
        require_root()?;
        run_ok(ip_cmd(&["netns", "add", name]), COMMAND_TIMEOUT)
            .during(|| format!("creating namespace {name}"))?;
        let ns = Self {
            name: name.to_owned(),
            kept: AtomicBool::new(false),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Leaves the namespace, and every process in it, in place when this
    /// handle is dropped ([`destroy`] removes it later).
    pub fn keep(&self) {
        self.kept.store(true, Ordering::Relaxed);
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace (`ip netns exec`).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.arg("netns").arg("exec").arg(&self.name).arg(program);
        cmd
    }

    /// A command that runs `program` inside this namespace as an
    /// unprivileged user: `setpriv` drops to `uid`:`gid` with no
    /// supplementary groups. Changing credentials clears the parent-death
    /// signal that [`Process`](crate::Process) sets, so setpriv sets it again.
    pub fn command_as(&self, uid: u32, gid: u32, program: impl AsRef<OsStr>) -> Command {
        self.command_as_member(uid, gid, &[], program)
    }

    /// As [`Netns::command_as`], with `groups` as the supplementary groups.
    pub fn command_as_member(
        &self,
        uid: u32,
        gid: u32,
        groups: &[u32],
        program: impl AsRef<OsStr>,
    ) -> Command {
        let mut cmd = self.command("setpriv");
        cmd.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"));
        if groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            cmd.arg(format!("--groups={}", list.join(",")));
        }
        cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
        cmd
    }

    /// Runs `args` (program first) in the namespace, bounded by
    /// [`COMMAND_TIMEOUT`], and returns its output whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        let (program, rest) = split_program(args)?;
        let mut cmd = self.command(program);
        cmd.args(rest);
        run_bounded(cmd, COMMAND_TIMEOUT)
    }

    /// Runs `args` in the namespace and fails unless it exits 0; returns stdout.
    pub fn exec_ok(&self, args: &[&str]) -> Result<String> {
        self.exec_ok_with_input(args, &[])
    }

    /// Like [`Netns::exec_ok`], with `input` on the command's stdin.
    pub fn exec_ok_with_input(&self, args: &[&str], input: &[u8]) -> Result<String> {
        let (program, rest) = split_program(args)?;
        let mut cmd = self.command(program);
        cmd.args(rest);
        run_ok_with_input(cmd, input, COMMAND_TIMEOUT)
            .during(|| format!("in namespace {}", self.name))
    }

    /// Runs `ip -n <name> <args>` and fails unless it exits 0; returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ok(ip_cmd(&full), COMMAND_TIMEOUT)
    }

    /// True if a network interface called `ifname` exists in the namespace.
    pub fn has_link(&self, ifname: &str) -> Result<bool> {
        let out = run_bounded(
            ip_cmd(&["-n", &self.name, "link", "show", "dev", ifname]),
            COMMAND_TIMEOUT,
        )?;
        Ok(out.status.success())
    }

    /// Names of the TUN devices in the namespace.
    pub fn tun_links(&self) -> Result<Vec<String>> {
        let out = self.ip(&["-j", "link", "show", "type", "tun"])?;
        let v: serde_json::Value =
            serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out }).map_err(
                |_| Error::Unreadable {
                    what: "`ip -j link show type tun`".to_owned(),
                    text: out.clone(),
                },
            )?;
        Ok(v.as_array()
            .map(|links| {
                links
                    .iter()
                    .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Runs `f` on a fresh thread that has entered this namespace, so that
    /// sockets it creates belong here (the calling thread is unaffected).
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let handle = std::fs::File::open(self.path())
            .map_err(|e| Error::io(format!("opening {}", self.path().display()), e))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns only changes this thread's network namespace.
                if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::io(
                        format!("entering namespace {}", self.name),
                        std::io::Error::last_os_error(),
                    ));
                }
                Ok(f())
            })
            .join()
            .map_err(|_| Error::Process("thread inside namespace panicked".to_owned()))?
        })
    }

    /// PIDs of every process whose network namespace is this one.
    pub fn pids(&self) -> Vec<libc::pid_t> {
        pids_in(&self.path())
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.kept.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = destroy(&self.name) {
            eprintln!("warning: cleaning up namespace {}: {e}", self.name);
        }
    }
}

fn split_program<'a>(args: &'a [&'a str]) -> Result<(&'a str, &'a [&'a str])> {
    args.split_first()
        .map(|(p, rest)| (*p, rest))
        .ok_or_else(|| Error::Process("empty command".to_owned()))
}

/// True if a namespace called `name` exists (as `ip netns` knows it).
pub fn exists(name: &str) -> bool {
    PathBuf::from(NETNS_DIR).join(name).exists()
}

/// Names of the namespaces that `ip netns` knows and that start with
/// `prefix`, sorted.
pub fn names_with_prefix(prefix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// True if process `pid` lives in the namespace called `name`.
pub fn holds(name: &str, pid: libc::pid_t) -> bool {
    pids_in(&PathBuf::from(NETNS_DIR).join(name)).contains(&pid)
}

fn ip_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    cmd
}

/// Kills every process inside the namespace called `name`, then deletes it.
pub fn destroy(name: &str) -> Result<()> {
    let path = PathBuf::from(NETNS_DIR).join(name);
    for pid in pids_in(&path) {
        // SAFETY: plain syscall on a PID that lives in our own namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // Killed processes leave the namespace asynchronously.
    let _ = wait::poll::<_, Error>(
        "processes to leave the namespace",
        Duration::from_secs(5),
        || Ok(pids_in(&path).is_empty().then_some(())),
    );
    run_ok(ip_cmd(&["netns", "del", name]), COMMAND_TIMEOUT)?;
    Ok(())
}

/// Processes whose `/proc/<pid>/ns/net` is the namespace pinned at `handle`.
fn pids_in(handle: &std::path::Path) -> Vec<libc::pid_t> {
    let Ok(target) = std::fs::metadata(handle) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

/// Deletes namespaces named by this harness whose creating process is gone.
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for name in entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        let Some(owner) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || PathBuf::from(format!("/proc/{owner}")).exists() {
            continue;
        }
        eprintln!("removing stale namespace {name} (its test process {owner} is gone)");
        if let Err(e) = destroy(&name) {
            eprintln!("warning: {e}");
        }
    }
}
