//! The `tessel` binary: locating it, one-shot commands, and [`TesselNode`],
//! a `tessel up` process in a namespace with its own state directory.

use std::fs::Permissions;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::netns::Netns;
use crate::process::{describe, read_lossy, run_bounded, run_ok, Process, STOP_GRACE};
use crate::status::Status;
use crate::tempdir::TempDir;
use crate::wait;

/// Environment variable naming the binary under test.
pub const BIN_ENV: &str = "TESSEL_BIN";

/// Default UDP port of `tessel up`.
pub const DEFAULT_PORT: u16 = 9740;

/// Default overlay interface name.
pub const DEFAULT_INTERFACE: &str = "tessel0";

/// How long a node may take to answer `tessel status` after starting.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Time limit of one-shot commands (`status`, `ip`, `network new`).
const CLI_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of log shown when a node is dropped or a wait times out.
const LOG_TAIL_LINES: usize = 60;

/// The binary under test: `$TESSEL_BIN`, or `tessel` next to the directory
/// of the running test executable (`target/<profile>/deps/..`).
pub fn bin() -> Result<PathBuf> {
    let path = match std::env::var_os(BIN_ENV) {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe().context("locating the test executable")?;
            let deps = exe.parent().context("test executable has no directory")?;
            deps.join("..").join("tessel")
        }
    };
    ensure!(
        path.is_file(),
        "tessel binary not found at {} (build it with \
         `cargo build -p tessel-overlay --bin tessel` or set {BIN_ENV})",
        path.display()
    );
    path.canonicalize()
        .with_context(|| format!("resolving {}", path.display()))
}

/// A `tessel` command outside any namespace.
pub fn command() -> Result<Command> {
    Ok(Command::new(bin()?))
}

/// Runs `tessel network new` and returns the new network key.
pub fn new_network_key() -> Result<String> {
    let mut cmd = command()?;
    cmd.args(["network", "new"]);
    let out = run_ok(cmd, CLI_TIMEOUT)?;
    let key = out.trim().to_owned();
    ensure!(
        key.starts_with("tessel-net-") && !key.contains(char::is_whitespace),
        "`tessel network new` printed {out:?}, expected one tessel-net-... line"
    );
    Ok(key)
}

/// A node's overlay addresses, as printed by `tessel ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlayIps {
    /// The overlay IPv6 address.
    pub v6: Ipv6Addr,
    /// The overlay IPv4 address.
    pub v4: Ipv4Addr,
}

/// The path of an example program built next to the binary under test
/// (`target/<profile>/examples/<name>`), e.g. `embedded`.
///
/// `cargo build -p tessel-overlay --bin tessel --example embedded` builds
/// both; so does a test build of the workspace (`cargo test --workspace`,
/// `cargo nextest run --workspace`), which builds every example.
pub fn example_bin(name: &str) -> Result<PathBuf> {
    let tessel = bin()?;
    let dir = tessel
        .parent()
        .context("the tessel binary has no directory")?;
    let path = dir.join("examples").join(name);
    ensure!(
        path.is_file(),
        "example {name} not found at {} (build it with \
         `cargo build -p tessel-overlay --bin tessel --example {name}`)",
        path.display()
    );
    Ok(path)
}

/// Arguments of `tessel up`, and how to run it.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The network key text (`--network`); `None` starts the node without it
    /// (a new private network, or the one kept in its state dir).
    pub network: Option<String>,
    /// `--listen ADDR:PORT`, if any.
    pub listen: Option<String>,
    /// `--peer HOST:PORT`, repeated.
    pub peers: Vec<String>,
    /// `--stun HOST:PORT`, repeated.
    pub stun: Vec<String>,
    /// The overlay interface name; passed only if not the default (and never
    /// in userspace mode).
    pub interface: String,
    /// `--userspace`: no TUN device; the userspace stack holds the node's
    /// overlay addresses.
    pub userspace: bool,
    /// `--socks5 ADDR:PORT` (userspace mode).
    pub socks5: Option<String>,
    /// `--forward PROTO:LOCAL=PEER:PORT`, repeated (userspace mode).
    pub forwards: Vec<String>,
    /// `--expose PROTO:PORT=LOCAL`, repeated (userspace mode).
    pub exposes: Vec<String>,
    /// Run `tessel up` as this unprivileged user and group instead of root
    /// (through `setpriv`); the state directory is handed to them.
    pub run_as: Option<(u32, u32)>,
    /// With `run_as`: the node keeps only these capabilities (e.g.
    /// `net_admin`), ambient as systemd's `AmbientCapabilities=` grants
    /// them, with no_new_privs; `None`: none at all.
    pub capabilities: Option<Vec<String>>,
    /// A TUN device node bind-mounted over `/dev/net/tun` in the node's own
    /// mount namespace: mode 0666 as a host's udev makes it, where the
    /// machine's own may be root's alone (an unprivileged node needs it).
    pub tun_node: Option<PathBuf>,
    /// LAN discovery; `false` passes `--no-lan-discovery`.
    pub lan_discovery: bool,
    /// Port mapping: `None` is the default (any protocol the gateway
    /// offers), `Some("off")` passes `--no-port-mapping`, `Some(p)` passes
    /// `--port-mapping-protocol p` (pcp, nat-pmp or upnp).
    pub port_mapping: Option<String>,
    /// The TCP transport; `false` passes `--no-tcp`.
    pub tcp: bool,
    /// Relaying for others; `false` passes `--no-relay`.
    pub relay: bool,
    /// A misbehaving relay: passes the hidden `--test-tamper-relayed`
    /// (needs a binary built with the overlay's `test-hooks` feature).
    pub tamper_relayed: bool,
    /// More `tessel up` arguments, appended as given (e.g. `--tile`).
    pub extra: Vec<String>,
    /// The node key's text form, written to the state dir before the first
    /// start, so that other nodes' arguments can name this node.
    pub node_key: Option<String>,
    /// `--runtime-dir DIR`, passed to `tessel up` and to every CLI command
    /// of the node; `None`: the default, `run` in the state dir.
    pub runtime_dir: Option<PathBuf>,
    /// More environment variables of `tessel up` (e.g. `NOTIFY_SOCKET`).
    pub env: Vec<(String, String)>,
}

impl NodeConfig {
    /// A node of `network` with default listen address and interface.
    pub fn new(network: &str) -> Self {
        Self {
            network: Some(network.to_owned()),
            listen: None,
            peers: Vec::new(),
            stun: Vec::new(),
            interface: DEFAULT_INTERFACE.to_owned(),
            userspace: false,
            socks5: None,
            forwards: Vec::new(),
            exposes: Vec::new(),
            run_as: None,
            capabilities: None,
            tun_node: None,
            lan_discovery: true,
            port_mapping: None,
            tcp: true,
            relay: true,
            tamper_relayed: false,
            extra: Vec::new(),
            node_key: None,
            runtime_dir: None,
            env: Vec::new(),
        }
    }

    /// A node started without `--network`.
    pub fn without_network() -> Self {
        Self {
            network: None,
            ..Self::new("")
        }
    }

    /// Adds a `--peer`.
    pub fn peer(mut self, endpoint: impl Into<String>) -> Self {
        self.peers.push(endpoint.into());
        self
    }

    /// Adds a `--stun`.
    pub fn stun(mut self, server: impl Into<String>) -> Self {
        self.stun.push(server.into());
        self
    }

    /// Sets `--listen`.
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = Some(addr.into());
        self
    }

    /// Sets `--userspace` (no TUN device, no root needed).
    pub fn userspace(mut self, on: bool) -> Self {
        self.userspace = on;
        self
    }

    /// Sets `--socks5 ADDR:PORT`; implies `--userspace`.
    pub fn socks5(mut self, addr: impl Into<String>) -> Self {
        self.socks5 = Some(addr.into());
        self.userspace(true)
    }

    /// Adds a `--forward PROTO:LOCAL=PEER:PORT`; implies `--userspace`.
    pub fn forward(mut self, spec: impl Into<String>) -> Self {
        self.forwards.push(spec.into());
        self.userspace(true)
    }

    /// Adds an `--expose PROTO:PORT=LOCAL`; implies `--userspace`.
    pub fn expose(mut self, spec: impl Into<String>) -> Self {
        self.exposes.push(spec.into());
        self.userspace(true)
    }

    /// Turns LAN discovery on or off (`--no-lan-discovery`).
    pub fn lan_discovery(mut self, on: bool) -> Self {
        self.lan_discovery = on;
        self
    }

    /// Sets the port mapping: `"off"`, `"pcp"`, `"nat-pmp"` or `"upnp"`.
    pub fn port_mapping(mut self, mode: impl Into<String>) -> Self {
        self.port_mapping = Some(mode.into());
        self
    }

    /// Turns the TCP transport on or off (`--no-tcp`).
    pub fn tcp(mut self, on: bool) -> Self {
        self.tcp = on;
        self
    }

    /// Turns relaying for others on or off (`--no-relay`).
    pub fn relay(mut self, on: bool) -> Self {
        self.relay = on;
        self
    }

    /// Makes the node flip a byte of every frame it relays
    /// (`--test-tamper-relayed`).
    pub fn tamper_relayed(mut self, on: bool) -> Self {
        self.tamper_relayed = on;
        self
    }

    /// Appends `tessel up` arguments.
    pub fn extra_args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.extra.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the node with this node key (text form, `tessel-nodekey-…`).
    pub fn node_key(mut self, text: impl Into<String>) -> Self {
        self.node_key = Some(text.into());
        self
    }

    /// Sets `--runtime-dir` (for `tessel up` and the node's CLI commands).
    pub fn runtime_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dir = Some(dir.into());
        self
    }

    /// Sets an environment variable of `tessel up`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the node as `uid`:`gid` with no supplementary groups.
    pub fn run_as(mut self, uid: u32, gid: u32) -> Self {
        self.run_as = Some((uid, gid));
        self
    }

    /// With [`NodeConfig::run_as`]: keeps these capabilities (names as
    /// setpriv knows them: `net_admin`, `net_bind_service`), ambient.
    pub fn capabilities<S: Into<String>>(mut self, caps: impl IntoIterator<Item = S>) -> Self {
        self.capabilities = Some(caps.into_iter().map(Into::into).collect());
        self
    }

    /// Bind-mounts the device node `path` over `/dev/net/tun` for the node.
    pub fn tun_node(mut self, path: impl Into<PathBuf>) -> Self {
        self.tun_node = Some(path.into());
        self
    }

    fn args(&self, state_dir: &Path) -> Vec<String> {
        let mut a = vec![
            "up".to_owned(),
            "--state-dir".to_owned(),
            state_dir.display().to_string(),
        ];
        if let Some(n) = &self.network {
            a.extend(["--network".to_owned(), n.clone()]);
        }
        if let Some(r) = &self.runtime_dir {
            a.extend(["--runtime-dir".to_owned(), r.display().to_string()]);
        }
        if let Some(l) = &self.listen {
            a.extend(["--listen".to_owned(), l.clone()]);
        }
        for p in &self.peers {
            a.extend(["--peer".to_owned(), p.clone()]);
        }
        for s in &self.stun {
            a.extend(["--stun".to_owned(), s.clone()]);
        }
        if self.interface != DEFAULT_INTERFACE && !self.userspace {
            a.extend(["--interface".to_owned(), self.interface.clone()]);
        }
        if self.userspace {
            a.push("--userspace".to_owned());
        }
        if !self.lan_discovery {
            a.push("--no-lan-discovery".to_owned());
        }
        if !self.tcp {
            a.push("--no-tcp".to_owned());
        }
        if !self.relay {
            a.push("--no-relay".to_owned());
        }
        if self.tamper_relayed {
            a.push("--test-tamper-relayed".to_owned());
        }
        match self.port_mapping.as_deref() {
            None => {}
            Some("off") => a.push("--no-port-mapping".to_owned()),
            Some(p) => a.extend(["--port-mapping-protocol".to_owned(), p.to_owned()]),
        }
        if let Some(s) = &self.socks5 {
            a.extend(["--socks5".to_owned(), s.clone()]);
        }
        for f in &self.forwards {
            a.extend(["--forward".to_owned(), f.clone()]);
        }
        for e in &self.exposes {
            a.extend(["--expose".to_owned(), e.clone()]);
        }
        a.extend(self.extra.iter().cloned());
        a
    }
}

/// `tessel up` running in a namespace, with a private state directory.
///
/// Dropping it kills the process and prints the tail of its log (shown by
/// the test runner only when the test fails).
#[derive(Debug)]
pub struct TesselNode {
    process: Option<Process>,
    label: String,
    ns: Arc<Netns>,
    config: NodeConfig,
    bin: PathBuf,
    dir: TempDir,
    runs: u32,
    quiet: bool,
}

impl TesselNode {
    /// Starts `tessel up` in `ns` and waits until it answers `tessel status`.
    pub fn start(label: &str, ns: Arc<Netns>, config: NodeConfig) -> Result<Self> {
        let dir = TempDir::new(&format!("tessel-{label}"))?;
        let state = dir.subdir("state")?;
        dir.subdir("logs")?;
        if let Some(key) = &config.node_key {
            let path = state.join("node.key");
            std::fs::write(&path, key).with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
        }
        let mut node = Self {
            process: None,
            label: label.to_owned(),
            ns,
            config,
            bin: bin()?,
            dir,
            runs: 0,
            quiet: false,
        };
        node.spawn()?;
        Ok(node)
    }

    fn spawn(&mut self) -> Result<()> {
        ensure!(self.process.is_none(), "{} is already running", self.label);
        self.runs += 1;
        let mut cmd = match self.config.run_as {
            None => self.ns.command(&self.bin),
            Some((uid, gid)) => {
                // The user must reach the state dir through the node's
                // directory whatever the umask, and own the state dir.
                std::fs::set_permissions(self.dir.path(), Permissions::from_mode(0o755))
                    .with_context(|| format!("opening up {}", self.dir.path().display()))?;
                std::os::unix::fs::chown(self.state_dir(), Some(uid), Some(gid))
                    .with_context(|| format!("handing the state dir to {uid}:{gid}"))?;
                match (&self.config.capabilities, &self.config.tun_node) {
                    (None, None) => self.ns.command_as(uid, gid, &self.bin),
                    (caps, tun) => self.confined_command(uid, gid, caps.as_deref(), tun.as_deref()),
                }
            }
        };
        cmd.args(self.config.args(&self.state_dir()));
        cmd.envs(self.config.env.iter().map(|(k, v)| (k, v)));
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "debug".to_owned()),
        );
        let name = format!("{}-run{}", self.label, self.runs);
        self.process = Some(Process::spawn(cmd, &name, &self.log_dir())?);
        self.wait_ready()
            .with_context(|| format!("starting node {}", self.label))
    }

    /// `tessel` as `uid`:`gid` with only `caps` (ambient, no_new_privs),
    /// and `tun` over `/dev/net/tun` in a mount namespace of its own.
    fn confined_command(
        &self,
        uid: u32,
        gid: u32,
        caps: Option<&[String]>,
        tun: Option<&Path>,
    ) -> Command {
        let set = std::iter::once("-all".to_owned())
            .chain(caps.unwrap_or_default().iter().map(|c| format!("+{c}")))
            .collect::<Vec<_>>()
            .join(",");
        let setpriv = [
            "setpriv".to_owned(),
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
            format!("--inh-caps={set}"),
            format!("--ambient-caps={set}"),
            format!("--bounding-set={set}"),
            "--no-new-privs".to_owned(),
            "--pdeathsig".to_owned(),
            "KILL".to_owned(),
            "--".to_owned(),
        ];
        let mut cmd = match tun {
            None => self.ns.command("setpriv"),
            Some(node) => {
                // One process throughout (unshare and sh exec), so that the
                // PID stopped is the node's.
                let mut c = self.ns.command("unshare");
                c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                    .arg(r#"mount --bind "$0" /dev/net/tun && exec "$@""#)
                    .arg(node)
                    .arg("setpriv");
                c
            }
        };
        cmd.args(&setpriv[1..]).arg(&self.bin);
        cmd
    }

    fn wait_ready(&mut self) -> Result<()> {
        let r = wait::poll("the node to answer `tessel status`", START_TIMEOUT, || {
            self.ensure_running()?;
            Ok(self.status().ok())
        });
        r.map(drop).map_err(|e| self.with_log(e))
    }

    /// What the current run printed on stdout.
    pub fn stdout(&self) -> String {
        self.process
            .as_ref()
            .map(Process::stdout)
            .unwrap_or_default()
    }

    /// The node's label (e.g. "a").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The namespace the node runs in.
    pub fn ns(&self) -> &Arc<Netns> {
        &self.ns
    }

    /// The arguments the node was started with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The arguments of the next [`TesselNode::restart`].
    pub fn config_mut(&mut self) -> &mut NodeConfig {
        &mut self.config
    }

    /// The state directory (`--state-dir`), kept across restarts.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The runtime directory with the node's local sockets: the
    /// configured one, else `run` in its state dir (as for every node whose
    /// state dir is not the default).
    pub fn runtime_dir(&self) -> PathBuf {
        self.config
            .runtime_dir
            .clone()
            .unwrap_or_else(|| self.state_dir().join("run"))
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// PID of the running `tessel up`, if any.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// Fails, with the log, if the process is not running (any more).
    pub fn ensure_running(&mut self) -> Result<()> {
        let Some(p) = self.process.as_mut() else {
            bail!("node {} is not running", self.label);
        };
        if let Some(s) = p.try_status()? {
            let e = anyhow::anyhow!("node {} exited unexpectedly ({})", self.label, describe(s));
            return Err(self.with_log(e));
        }
        Ok(())
    }

    /// A `tessel <args> --state-dir <dir>` command inside the namespace
    /// (with `--runtime-dir` if the node was given one).
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = self.ns.command(&self.bin);
        cmd.args(args).arg("--state-dir").arg(self.state_dir());
        if let Some(r) = &self.config.runtime_dir {
            cmd.arg("--runtime-dir").arg(r);
        }
        cmd
    }

    /// Runs `tessel status --json`.
    pub fn status(&self) -> Result<Status> {
        let out = run_ok(self.cli(&["status", "--json"]), CLI_TIMEOUT)?;
        Status::parse(&out)
    }

    /// Alias of [`TesselNode::status`], returning the raw JSON.
    pub fn status_json(&self) -> Result<serde_json::Value> {
        Ok(self.status()?.0)
    }

    /// The node's ID, from its status.
    pub fn node_id(&self) -> Result<String> {
        Ok(self.status()?.node_id()?.to_owned())
    }

    /// Runs `tessel ip`: the overlay IPv6 then IPv4 address.
    pub fn ip(&self) -> Result<OverlayIps> {
        let out = run_ok(self.cli(&["ip"]), CLI_TIMEOUT)?;
        let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
        let (Some(v6), Some(v4), None) = (lines.next(), lines.next(), lines.next()) else {
            bail!("`tessel ip` printed {out:?}, expected two lines");
        };
        Ok(OverlayIps {
            v6: v6.parse().with_context(|| format!("IPv6 line {v6:?}"))?,
            v4: v4.parse().with_context(|| format!("IPv4 line {v4:?}"))?,
        })
    }

    /// Polls `tessel status --json` until `pred` holds, failing after
    /// `timeout` (with the last status and the log) or if the node dies.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Status) -> bool,
    ) -> Result<Status> {
        let mut last: Option<Result<Status>> = None;
        let r = wait::poll(what, timeout, || {
            self.ensure_running()?;
            let s = self.status();
            let done = match &s {
                Ok(st) => pred(st).then(|| st.clone()),
                Err(_) => None,
            };
            last = Some(s);
            Ok(done)
        });
        r.map_err(|e| {
            let last = match last {
                Some(Ok(s)) => format!("last status: {s}"),
                Some(Err(e)) => format!("last `tessel status` failed: {e:#}"),
                None => "no status seen".to_owned(),
            };
            let e = anyhow::anyhow!("node {}: {e:#}\n{last}", self.label);
            self.with_log(e)
        })
    }

    /// SIGTERM; asserts exit code 0 and that no overlay interface is left
    /// (for a userspace node: that none was ever made).
    pub fn stop(&mut self) -> Result<()> {
        self.stop_with(libc::SIGTERM)
    }

    /// Like [`TesselNode::stop`] with another signal (e.g. SIGINT).
    pub fn stop_with(&mut self, signal: libc::c_int) -> Result<()> {
        let mut p = self
            .process
            .take()
            .with_context(|| format!("node {} is not running", self.label))?;
        let stopped = p.stop_with(signal, STOP_GRACE)?;
        drop(p);
        let status = (!stopped.forced).then_some(stopped.status);
        self.check_stopped(status, &format!("signal {signal}"))
    }

    /// `tessel down`, which must succeed; then what [`TesselNode::stop`]
    /// asserts.
    pub fn down(&mut self) -> Result<()> {
        let out = run_bounded(self.cli(&["down"]), CLI_TIMEOUT)?;
        ensure!(
            out.status.success(),
            "tessel down: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut p = self
            .process
            .take()
            .with_context(|| format!("node {} is not running", self.label))?;
        let status = p.wait_timeout(STOP_GRACE)?;
        drop(p);
        self.check_stopped(status, "tessel down")
    }

    /// The node exited 0 (`None`: it did not exit in time and was killed)
    /// after `what`, and left no interface.
    fn check_stopped(&self, status: Option<ExitStatus>, what: &str) -> Result<()> {
        let Some(status) = status else {
            let e = anyhow::anyhow!(
                "node {} did not exit within {STOP_GRACE:?} of {what}",
                self.label
            );
            return Err(self.with_log(e));
        };
        if status.code() != Some(0) {
            let e = anyhow::anyhow!(
                "node {} ended with {} after {what}, expected exit code 0",
                self.label,
                describe(status)
            );
            return Err(self.with_log(e));
        }
        if self.config.userspace {
            let tuns = self.ns.tun_links()?;
            ensure!(
                tuns.is_empty(),
                "userspace node {} left TUN devices in {}: {tuns:?}",
                self.label,
                self.ns.name()
            );
        } else {
            ensure!(
                !self.ns.has_link(&self.config.interface)?,
                "interface {} still exists in {} after node {} exited",
                self.config.interface,
                self.ns.name(),
                self.label
            );
        }
        Ok(())
    }

    /// Sends `signal` to the running `tessel up` (e.g. SIGHUP), which keeps
    /// running.
    pub fn signal(&mut self, signal: libc::c_int) -> Result<()> {
        self.process
            .as_mut()
            .with_context(|| format!("node {} is not running", self.label))?
            .signal(signal)?;
        Ok(())
    }

    /// SIGKILL: a deliberate crash. Returns once the process is reaped.
    pub fn kill(&mut self) -> Result<()> {
        let mut p = self
            .process
            .take()
            .with_context(|| format!("node {} is not running", self.label))?;
        p.kill()?;
        Ok(())
    }

    /// Starts `tessel up` again with the same arguments and state directory.
    pub fn restart(&mut self) -> Result<()> {
        self.spawn()
    }

    /// Stops dropping from printing the tail of the log (for tools that run
    /// many nodes and keep the logs they want themselves).
    pub fn quiet(&mut self) {
        self.quiet = true;
    }

    /// Everything the node logged, across runs.
    pub fn log(&self) -> String {
        let mut s = String::new();
        for run in 1..=self.runs {
            for stream in ["stderr", "stdout"] {
                let path = self
                    .log_dir()
                    .join(format!("{}-run{run}.{stream}.log", self.label));
                let text = read_lossy(&path);
                if !text.is_empty() {
                    s.push_str(&format!(
                        "--- {} run {run} {stream} ---\n{text}",
                        self.label
                    ));
                }
            }
        }
        s
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        lines[from..].join("\n")
    }

    fn with_log(&self, e: anyhow::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "{e:#}\n===== log of node {} (last {LOG_TAIL_LINES} lines) =====\n{}",
            self.label,
            self.log_tail()
        )
    }
}

impl Drop for TesselNode {
    fn drop(&mut self) {
        drop(self.process.take());
        if self.quiet {
            return;
        }
        eprintln!(
            "===== node {} in {} (last {LOG_TAIL_LINES} lines of log) =====\n{}",
            self.label,
            self.ns.name(),
            self.log_tail()
        );
    }
}

/// Runs `tessel <args>` in `ns` (or outside any namespace if `None`) to
/// completion, bounded by `timeout`; returns the output whatever the status.
pub fn run_once(
    ns: Option<&Netns>,
    args: &[&str],
    timeout: Duration,
) -> Result<std::process::Output> {
    let bin = bin()?;
    let mut cmd = match ns {
        Some(ns) => ns.command(&bin),
        None => Command::new(&bin),
    };
    cmd.args(args);
    Ok(run_bounded(cmd, timeout)?)
}
