//! Uniquely named network namespaces that clean up after themselves.
//!
//! Names look like `ts-<pid>-<n>-<role>`: the process ID and a per-process
//! counter keep tests running in parallel (threads or processes) apart. On
//! drop every process still inside the namespace is killed and the namespace
//! is deleted. Namespaces left behind by test processes that died without
//! dropping them are swept the first time a process creates one.

// System calls and FFI that no safe wrapper here covers; every block
// says why it is sound.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::process::{run_bounded, run_ok};
use crate::wait;

/// Prefix of every namespace this harness creates.
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

/// Fails with a clear message unless running as root.
pub fn require_root() -> Result<()> {
    if !is_root() {
        bail!(
            "this test needs root: it creates network namespaces, veth pairs, \
             bridges and TUN devices (run it as root, e.g. in the CI container)"
        );
    }
    Ok(())
}

/// A network namespace created by this test process.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a fresh namespace named `ts-<pid>-<n>-<role>` with `lo` up.
    pub fn new(role: &str) -> Result<Self> {
        require_root()?;
        SWEEP.call_once(sweep_stale);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
        run_ok(ip_cmd(&["netns", "add", &name]), COMMAND_TIMEOUT)
            .with_context(|| format!("creating namespace {name}"))?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
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
        let (program, rest) = args.split_first().context("empty command")?;
        let mut cmd = self.command(program);
        cmd.args(rest);
        run_bounded(cmd, COMMAND_TIMEOUT)
    }

    /// Runs `args` in the namespace and fails unless it exits 0; returns stdout.
    pub fn exec_ok(&self, args: &[&str]) -> Result<String> {
        let (program, rest) = args.split_first().context("empty command")?;
        let mut cmd = self.command(program);
        cmd.args(rest);
        run_ok(cmd, COMMAND_TIMEOUT).with_context(|| format!("in namespace {}", self.name))
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
            serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
                .with_context(|| format!("`ip -j link show type tun` printed {out:?}"))?;
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
            .with_context(|| format!("opening {}", self.path().display()))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns only changes this thread's network namespace.
                if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error()).context("setns");
                }
                Ok(f())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("thread inside namespace panicked"))?
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
        if let Err(e) = destroy(&self.name) {
            eprintln!("warning: cleaning up namespace {}: {e:#}", self.name);
        }
    }
}

fn ip_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    cmd
}

/// Kills every process inside the namespace, then deletes it.
fn destroy(name: &str) -> Result<()> {
    let path = PathBuf::from(NETNS_DIR).join(name);
    for pid in pids_in(&path) {
        // SAFETY: plain syscall on a PID that lives in our own namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    // Killed processes leave the namespace asynchronously.
    let _ = wait::poll(
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
            eprintln!("warning: {e:#}");
        }
    }
}
