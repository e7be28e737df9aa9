//! The lab of one matrix cell: an internet, R public and started, and the
//! places of B and C (a public host, or a host behind a NAT router of the
//! cell's kind), whose nodes start when the caller says, with `--peer R`.
//!
//! ```text
//!                      Internet (core namespace, br0)
//!        ___________________|____________________________
//!       |                   |                            |
//!   R 198.51.100.1     site of B                    site of C
//!   (tessel up)        public: 198.51.100.N         (the same, with
//!                      NAT: router 203.0.113.N      its own NAT kind)
//!                           lan0 198.18.L.1/24
//!                           B 198.18.L.2
//!                      tessel up --peer R           tessel up --peer R
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use super::cells::Site;
use crate::lab::{Internet, NatRouter};
use crate::netns::Netns;
use crate::tessel::{self, DEFAULT_PORT};
use crate::{wait, NodeConfig, Status, TesselNode};

/// A member of the cell: its node and the addresses the internet sees it at.
#[derive(Debug)]
pub struct Member {
    /// The running node.
    pub node: TesselNode,
    /// Its public address(es): its own if public, else its NAT's WAN address.
    pub public: Vec<IpAddr>,
}

impl Member {
    /// The node's ID, from its status.
    pub fn id(&self) -> Result<String> {
        self.node.node_id()
    }

    /// The node's namespace.
    pub fn ns(&self) -> &Netns {
        self.node.ns()
    }
}

/// The path between two members, as one of them reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// Straight to the other member's public address (this endpoint).
    Direct(String),
    /// Anything else: through relays (as the status names them), or an
    /// endpoint that is not the other member's public address.
    Indirect(String),
}

/// The path `b` uses to reach `c`, from `b`'s status.
///
/// Reads `peers[].path` where the status has it (`"direct"`, or the relays);
/// otherwise a connected peer's `endpoint` tells: direct if it is one of
/// `c`'s public addresses. Fails while `b` does not list `c` as connected.
pub fn path_between(b: &Member, c: &Member) -> Result<Path> {
    let c_id = c.id()?;
    let status = b.node.status()?;
    let peer = status
        .peer(&c_id)
        .with_context(|| format!("{} does not list {}: {status}", b.node.label(), c_id))?;
    ensure!(
        peer.connected(),
        "{} is not connected to {}: {}",
        b.node.label(),
        c.node.label(),
        peer.0
    );
    let endpoint = peer.endpoint().map(str::to_owned);
    let is_public = |ep: &str| {
        ep.parse::<SocketAddr>()
            .is_ok_and(|a| c.public.contains(&a.ip()))
    };
    match &peer.0["path"] {
        Value::String(s) if s == "direct" => {
            let ep = endpoint.context("a direct path without an endpoint")?;
            ensure!(
                is_public(&ep),
                "{} reports a direct path to {} at {ep}, not at its public address {:?}",
                b.node.label(),
                c.node.label(),
                c.public
            );
            Ok(Path::Direct(ep))
        }
        Value::Null => match endpoint {
            Some(ep) if is_public(&ep) => Ok(Path::Direct(ep)),
            Some(ep) => Ok(Path::Indirect(format!("endpoint {ep}"))),
            None => Ok(Path::Indirect("no endpoint".to_owned())),
        },
        other => Ok(Path::Indirect(format!("path {other}"))),
    }
}

/// Whether `b` and `c` both report a direct path to each other now.
pub fn both_direct(b: &Member, c: &Member) -> bool {
    matches!(
        (path_between(b, c), path_between(c, b)),
        (Ok(Path::Direct(_)), Ok(Path::Direct(_)))
    )
}

/// Where a member of the cell will run: its namespace and public addresses.
#[derive(Debug)]
struct Place {
    ns: Arc<Netns>,
    public: Vec<IpAddr>,
}

/// The lab of one cell with R running and B's and C's places ready.
/// R comes first, so that it stops (and shows its log) before the
/// namespaces go.
#[derive(Debug)]
pub struct Lab {
    /// The public member, the only one B and C are told about.
    pub r: Member,
    key: String,
    r_endpoint: String,
    b: Place,
    c: Place,
    _nats: Vec<NatRouter>,
    _internet: Internet,
}

impl Lab {
    /// Builds the internet, starts R on a public host, and makes the places
    /// of B and C at their sites (nodes not started).
    pub fn build(b_site: Site, c_site: Site) -> Result<Self> {
        let internet = Internet::new()?;
        let key = tessel::new_network_key()?;
        let r_host = internet.add_host("r")?;
        let r_endpoint = format!("{}:{DEFAULT_PORT}", r_host.ipv4);
        let r = Member {
            node: TesselNode::start("r", r_host.ns.clone(), NodeConfig::new(&key))?,
            public: vec![r_host.ipv4.into(), r_host.ipv6.into()],
        };
        let mut nats = Vec::new();
        let mut place = |label: &str, site: Site| -> Result<Place> {
            Ok(match site {
                Site::Public => {
                    let h = internet.add_host(label)?;
                    Place {
                        ns: h.ns,
                        public: vec![h.ipv4.into(), h.ipv6.into()],
                    }
                }
                Site::Nat(kind) => {
                    let nat = internet.add_nat(&format!("nat-{label}"), kind)?;
                    let h = nat.add_host(label)?;
                    let public = vec![nat.wan_addr().into()];
                    nats.push(nat);
                    Place { ns: h.ns, public }
                }
            })
        };
        let b = place("b", b_site)?;
        let c = place("c", c_site)?;
        Ok(Self {
            r,
            key,
            r_endpoint,
            b,
            c,
            _nats: nats,
            _internet: internet,
        })
    }

    /// Starts B's node, `tessel up --peer R`.
    pub fn start_b(&self) -> Result<Member> {
        self.start("b", &self.b)
    }

    /// Starts C's node, `tessel up --peer R`.
    pub fn start_c(&self) -> Result<Member> {
        self.start("c", &self.c)
    }

    fn start(&self, label: &str, place: &Place) -> Result<Member> {
        let cfg = NodeConfig::new(&self.key).peer(self.r_endpoint.clone());
        Ok(Member {
            node: TesselNode::start(label, place.ns.clone(), cfg)?,
            public: place.public.clone(),
        })
    }
}

/// A cell with all three nodes running. B and C come first, so that they
/// stop before R and the namespaces.
#[derive(Debug)]
pub struct Cell {
    /// Member B.
    pub b: Member,
    /// Member C.
    pub c: Member,
    /// The lab, with R.
    pub lab: Lab,
}

impl Cell {
    /// Builds the lab and starts R, then B, then C.
    pub fn start(b_site: Site, c_site: Site) -> Result<Self> {
        let lab = Lab::build(b_site, c_site)?;
        let b = lab.start_b()?;
        let c = lab.start_c()?;
        Ok(Self { b, c, lab })
    }

    /// Waits until B and C list each other as connected; fails after
    /// `timeout` with both statuses (and whether each reached R).
    pub fn wait_connected(&mut self, timeout: Duration) -> Result<()> {
        let (r_id, b_id, c_id) = (self.lab.r.id()?, self.b.id()?, self.c.id()?);
        let mut last: (Option<Status>, Option<Status>) = (None, None);
        let b = &mut self.b.node;
        let c = &mut self.c.node;
        let r = wait::poll("B and C to connect", timeout, || {
            b.ensure_running()?;
            c.ensure_running()?;
            let (sb, sc) = (b.status()?, c.status()?);
            let done = sb.is_connected_to(&c_id) && sc.is_connected_to(&b_id);
            last = (Some(sb), Some(sc));
            Ok(done.then_some(()))
        });
        r.map_err(|e| {
            let show = |label: &str, s: &Option<Status>| match s {
                Some(s) => format!(
                    "{label} (connected to R: {}): {s}",
                    s.is_connected_to(&r_id)
                ),
                None => format!("{label}: no status"),
            };
            anyhow::anyhow!(
                "{e:#}\nlast status of {}\nlast status of {}",
                show("B", &last.0),
                show("C", &last.1)
            )
        })
    }

    /// Waits until both B and C report a direct path to each other; fails
    /// after `timeout` with the last paths they reported.
    pub fn wait_direct(&self, timeout: Duration) -> Result<()> {
        let mut last = String::from("none yet");
        let r = wait::poll("a direct path between B and C", timeout, || {
            let paths = (
                path_between(&self.b, &self.c),
                path_between(&self.c, &self.b),
            );
            let done = matches!(paths, (Ok(Path::Direct(_)), Ok(Path::Direct(_))));
            last = format!("B->C {:?}, C->B {:?}", paths.0, paths.1);
            Ok(done.then_some(()))
        });
        r.map_err(|e| anyhow::anyhow!("{e:#}; last paths: {last}"))
    }
}
