//! One member's `tessel up`, run in its namespace by the binary that runs
//! the demo, with its own state dir, runtime dir, logs and TUN device.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tessel_lab::process::{describe, read_lossy};
use tessel_lab::{Netns, Process, Tether};

use super::plan::Member;
use super::state::{self, NodeRecord};
use super::status::{node_status, NodeView};

/// Lines of a node's log shown when it fails.
const LOG_TAIL_LINES: usize = 20;

/// A member's node.
#[derive(Debug)]
pub(crate) struct DemoNode {
    /// The member it runs for.
    pub(crate) member: Member,
    /// Its namespace.
    pub(crate) ns: Arc<Netns>,
    /// Its node ID, once it answered.
    pub(crate) id: String,
    /// Its overlay IPv4 address, once it answered.
    pub(crate) ipv4: Option<Ipv4Addr>,
    /// Its overlay IPv6 address, once it answered.
    pub(crate) ipv6: Option<Ipv6Addr>,
    process: Option<Process>,
    exe: PathBuf,
}

impl DemoNode {
    /// Starts `tessel up` (the binary `exe`) for `member` in `ns`, on the
    /// network whose key is in `key_file`, with `peer` as its `--peer` and
    /// `extra` flags after the others.
    pub(crate) fn spawn(
        exe: &Path,
        member: Member,
        ns: Arc<Netns>,
        key_file: &Path,
        peer: Option<SocketAddr>,
        tether: Tether,
        extra: &[String],
    ) -> Result<Self> {
        let dir = state::node_dir(member.name);
        for sub in ["state", "run", "log"] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("creating {}", dir.join(sub).display()))?;
        }
        let mut cmd = ns.command(exe);
        cmd.args(["--log-format", "text", "up", "--state-dir"])
            .arg(dir.join("state"))
            .arg("--runtime-dir")
            .arg(dir.join("run"))
            .arg("--network")
            .arg(format!("@{}", key_file.display()))
            .args(["--listen", &format!("[::]:{}", member.port)])
            .arg("--no-port-mapping");
        if let Some(peer) = peer {
            cmd.args(["--peer", &peer.to_string()]);
        }
        cmd.args(extra);
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        );
        let process = Process::spawn_tethered(cmd, "tessel-up", &dir.join("log"), tether)
            .with_context(|| format!("starting the node of {}", member.name))?;
        Ok(Self {
            member,
            ns,
            id: String::new(),
            ipv4: None,
            ipv6: None,
            process: Some(process),
            exe: exe.to_owned(),
        })
    }

    /// What the state file says about this node.
    pub(crate) fn record(&self) -> NodeRecord {
        NodeRecord {
            name: self.member.name.to_owned(),
            namespace: self.ns.name().to_owned(),
            pid: self.process.as_ref().map_or(0, Process::pid),
            state_dir: self.dir().join("state"),
            runtime_dir: self.dir().join("run"),
        }
    }

    fn dir(&self) -> PathBuf {
        state::node_dir(self.member.name)
    }

    /// Asks the node for its status.
    pub(crate) fn status(&self) -> Result<NodeView> {
        let dir = self.dir();
        node_status(&self.exe, &dir.join("state"), &dir.join("run"))
    }

    /// Fails, with the end of its log, if the node is not running.
    pub(crate) fn ensure_running(&mut self) -> Result<()> {
        let exited = match self.process.as_mut() {
            None => Some("it was stopped".to_owned()),
            Some(p) => p.try_status()?.map(describe),
        };
        if let Some(how) = exited {
            bail!(
                "the node of {} ended ({how}); the end of its log:\n{}",
                self.member.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Takes the node's answer to `tessel status` as its identity.
    pub(crate) fn learn(&mut self, view: &NodeView) {
        self.id.clone_from(&view.node_id);
        self.ipv4 = view.ipv4;
        self.ipv6 = view.ipv6;
    }

    /// Sends SIGTERM (the node removes its interface and exits).
    pub(crate) fn terminate(&mut self) {
        if let Some(p) = self.process.as_mut() {
            if p.is_running() {
                let _ = p.signal(libc::SIGTERM);
            }
        }
    }

    /// Waits up to `grace` for the node to exit, then kills it.
    pub(crate) fn reap(&mut self, grace: Duration) {
        if let Some(mut p) = self.process.take() {
            if let Err(e) = p.stop(grace) {
                eprintln!("warning: stopping the node of {}: {e}", self.member.name);
            }
        }
    }

    /// Leaves the node running after the demo ends.
    pub(crate) fn release(&mut self) {
        if let Some(p) = self.process.take() {
            p.release();
        }
    }

    /// The last lines of the node's log.
    pub(crate) fn log_tail(&self) -> String {
        let log = read_lossy(&self.dir().join("log").join("tessel-up.stderr.log"));
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}
