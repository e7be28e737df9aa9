//! Probing NATs with the `udp-probe` binary: a [`Reflector`] on a public
//! host, and client runs from inside a namespace ([`run`]).
//!
//! [`characterise`] asks the questions that tell NAT behaviours apart,
//! from a reflector with three sockets: `A` (address 1, port 1), `A'`
//! (address 1, port 2) and `B` (address 2, port 1):
//!
//! * **UDP out**: does `A` answer at all?
//! * **Mapping**: from one fresh internal port, the external endpoint that
//!   `A`, `A'` and `B` each report. Equal for endpoint-independent mapping;
//!   all different for address-and-port-dependent mapping (symmetric).
//! * **Filtering**: from another fresh internal port that has sent to `A`
//!   only, does an answer from `A'` (same address, other port) get in? And
//!   one from `B` (other address)? Both for endpoint-independent filtering,
//!   only `A'` for address-dependent, neither for address-and-port-dependent.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

use crate::lab::internet::{Internet, PublicHost};
use crate::lab::probe_wire::join;
use crate::lab::tool;
use crate::netns::Netns;
use crate::process::{describe, Process};
use crate::tempdir::TempDir;
use crate::wait;

/// The reflector's first port.
pub const PORT_1: u16 = 3478;

/// The reflector's second port.
pub const PORT_2: u16 = 3479;

/// How long a client waits for the answers to one query.
pub const WAIT: Duration = Duration::from_millis(600);

/// How long the reflector may take to bind its sockets.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The reflector's own time limit.
const LIFETIME: Duration = Duration::from_secs(300);

/// `udp-probe reflect` running on a public host.
#[derive(Debug)]
pub struct Reflector {
    process: Process,
    endpoints: Vec<SocketAddr>,
    _dir: TempDir,
}

impl Reflector {
    /// Starts a reflector in `ns` with one socket per endpoint, in order.
    pub fn start(ns: &Netns, endpoints: &[SocketAddr]) -> Result<Self> {
        let dir = TempDir::new("lab-reflector")?;
        let mut cmd = ns.command(tool("udp-probe")?);
        cmd.args(["reflect", "--lifetime-s", &LIFETIME.as_secs().to_string()]);
        for e in endpoints {
            cmd.args(["--bind", &e.to_string()]);
        }
        let mut process = Process::spawn(cmd, "reflector", dir.path())?;
        wait::poll("the reflector to bind its sockets", START_TIMEOUT, || {
            if let Some(s) = process.try_status()? {
                bail!(
                    "reflector exited early ({}): {}",
                    describe(s),
                    process.stderr()
                );
            }
            Ok(process.stdout().contains("ready").then_some(()))
        })?;
        Ok(Self {
            process,
            endpoints: endpoints.to_vec(),
            _dir: dir,
        })
    }

    /// Starts the standard three-socket reflector on `host`: `A` =
    /// (its address, [`PORT_1`]), `A'` = (its address, [`PORT_2`]) and
    /// `B` = (a new alias address, [`PORT_1`]).
    pub fn start_abc(internet: &Internet, host: &PublicHost) -> Result<Self> {
        let alias = internet.add_alias(host)?;
        Self::start(
            &host.ns,
            &[
                SocketAddrV4::new(host.ipv4, PORT_1).into(),
                SocketAddrV4::new(host.ipv4, PORT_2).into(),
                SocketAddrV4::new(alias, PORT_1).into(),
            ],
        )
    }

    /// The endpoint of socket `index`.
    pub fn endpoint(&self, index: usize) -> SocketAddr {
        self.endpoints[index]
    }

    /// The reflector's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// True while the reflector runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Waits up to `timeout` for the reflector to exit; true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<bool> {
        Ok(self.process.wait_timeout(timeout)?.is_some())
    }
}

/// One query of a client run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The reflector socket to send to.
    pub server: SocketAddr,
    /// Reflector sockets (indexes) to answer from; empty: `server` itself.
    pub via: Vec<usize>,
}

impl Query {
    /// Ask `server`, answered by `server`.
    pub fn to(server: SocketAddr) -> Self {
        Self {
            server,
            via: Vec::new(),
        }
    }

    /// Ask `server`, answered by the reflector's sockets `via` instead.
    pub fn answered_by(server: SocketAddr, via: &[usize]) -> Self {
        Self {
            server,
            via: via.to_vec(),
        }
    }

    fn arg(&self) -> String {
        if self.via.is_empty() {
            self.server.to_string()
        } else {
            format!("{}/{}", self.server, join(&self.via))
        }
    }
}

/// One answer a client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reflector socket that sent it.
    pub index: usize,
    /// Where it came from, as the client saw it.
    pub from: SocketAddr,
    /// The client's address as the reflector saw it.
    pub mapped: SocketAddr,
}

/// The outcome of one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The query.
    pub query: Query,
    /// The client socket's local address.
    pub local: SocketAddr,
    /// The answers that arrived.
    pub replies: Vec<Reply>,
}

impl Outcome {
    /// The mapped address the first answer reported, if any arrived.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.replies.first().map(|r| r.mapped)
    }

    /// True if reflector socket `index` got an answer through.
    pub fn answered_by(&self, index: usize) -> bool {
        self.replies.iter().any(|r| r.index == index)
    }
}

/// Runs `udp-probe client` in `ns` from local port `port` (one socket for
/// every query, in order) and returns one outcome per query.
pub fn run(ns: &Netns, port: u16, queries: &[Query]) -> Result<Vec<Outcome>> {
    let bin = tool("udp-probe")?;
    let bin = bin.to_str().context("tool path is not UTF-8")?;
    let bind = format!("0.0.0.0:{port}");
    let wait = WAIT.as_millis().to_string();
    let args: Vec<String> = queries.iter().map(Query::arg).collect();
    let mut argv = vec![bin, "client", "--bind", &bind, "--wait-ms", &wait];
    argv.extend(args.iter().map(String::as_str));
    let out = ns.exec(&argv)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "udp-probe client in {} failed ({}): {}",
        ns.name(),
        describe(out.status),
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes = stdout
        .lines()
        .zip(queries)
        .map(|(line, q)| parse_outcome(line, q))
        .collect::<Result<Vec<_>>>()?;
    ensure!(
        outcomes.len() == queries.len(),
        "udp-probe client printed {} lines for {} queries:\n{stdout}",
        outcomes.len(),
        queries.len()
    );
    Ok(outcomes)
}

fn parse_outcome(line: &str, query: &Query) -> Result<Outcome> {
    let v: Value = serde_json::from_str(line).with_context(|| format!("probe output {line:?}"))?;
    let addr = |v: &Value| -> Result<SocketAddr> {
        v.as_str()
            .context("expected an address string")?
            .parse()
            .context("bad address")
    };
    let replies = v["replies"]
        .as_array()
        .context("no replies array")?
        .iter()
        .map(|r| {
            Ok(Reply {
                index: r["index"].as_u64().context("no index")? as usize,
                from: addr(&r["from"])?,
                mapped: addr(&r["mapped"])?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("probe output {line:?}"))?;
    Ok(Outcome {
        query: query.clone(),
        local: addr(&v["local"])?,
        replies,
    })
}

/// What [`characterise`] found out about the NAT in front of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatReport {
    /// `A` answered: UDP gets out and back.
    pub udp_works: bool,
    /// The external endpoint `A`, `A'` and `B` saw for one internal port.
    pub mapped: [Option<SocketAddr>; 3],
    /// After sending to `A` only: `A'` (same address, other port) got in.
    pub from_other_port: bool,
    /// After sending to `A` only: `B` (other address) got in.
    pub from_other_addr: bool,
}

impl NatReport {
    /// True if all three mapped endpoints were seen and are equal.
    pub fn endpoint_independent_mapping(&self) -> bool {
        self.mapped[0].is_some() && self.mapped.iter().all(|m| *m == self.mapped[0])
    }

    /// True if all three mapped endpoints were seen and differ pairwise.
    pub fn address_and_port_dependent_mapping(&self) -> bool {
        let [a, b, c] = self.mapped;
        a.is_some() && b.is_some() && c.is_some() && a != b && b != c && a != c
    }
}

/// Probes the NAT in front of `ns` against `reflector` (started with
/// [`Reflector::start_abc`]), using internal ports `port` (filtering) and
/// `port + 1` (mapping).
pub fn characterise(ns: &Netns, reflector: &Reflector, port: u16) -> Result<NatReport> {
    let (a, a2, b) = (
        reflector.endpoint(0),
        reflector.endpoint(1),
        reflector.endpoint(2),
    );
    let filtering = run(
        ns,
        port,
        &[
            Query::to(a),
            Query::answered_by(a, &[1]),
            Query::answered_by(a, &[2]),
        ],
    )?;
    let mapping = run(ns, port + 1, &[Query::to(a), Query::to(a2), Query::to(b)])?;
    Ok(NatReport {
        udp_works: filtering[0].answered_by(0),
        mapped: [
            mapping[0].mapped(),
            mapping[1].mapped(),
            mapping[2].mapped(),
        ],
        from_other_port: filtering[1].answered_by(1),
        from_other_addr: filtering[2].answered_by(2),
    })
}
