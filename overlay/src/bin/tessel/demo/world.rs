//! Builds the demo's internet with the lab, starts a node per member, and
//! takes it all down again: on drop (the end of the run, an error, Ctrl-C)
//! the nodes get SIGTERM, then every namespace goes with whatever is left
//! in it, and the demo's files are removed; unless the demo was kept.

use std::collections::BTreeMap;
use std::fs::Permissions;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};
use tessel_overlay::driver::clock;

use anyhow::{anyhow, Context, Result};
use tessel_lab::{Internet, Naming, NatRouter, Tether};
use tessel_overlay::identity::NetworkKey;

use super::map::Views;
use super::narrate::Narrator;
use super::node::DemoNode;
use super::plan::{Member, Nat, MEMBERS, PORT, PREFIX};
use super::signals::Interrupt;
use super::state::{self, DemoState};
use super::tile::TileSetup;

/// How long a node may take to answer `tessel status` after it started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the nodes get to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The emulated internet with its running nodes.
///
/// Fields drop in order: nodes, then routers, then the internet.
#[derive(Debug)]
pub(crate) struct DemoWorld {
    /// One node per member, in [`MEMBERS`] order.
    pub(crate) nodes: Vec<DemoNode>,
    /// When the nodes were started.
    pub(crate) started: Instant,
    /// The tiles' node IDs and trusted key.
    pub(crate) tiles: TileSetup,
    routers: Vec<NatRouter>,
    internet: Internet,
    state: DemoState,
    kept: bool,
    /// Where each round of statuses also goes (the map), if anywhere.
    views_out: Option<Sender<Views>>,
}

/// Names of every namespace the demo makes, in the order it makes them.
pub(crate) fn planned_namespaces() -> Vec<String> {
    let mut names = vec![format!("{PREFIX}inet")];
    let mut sites = Vec::new();
    for m in &MEMBERS {
        if !m.site.is_empty() && !sites.contains(&m.site) {
            sites.push(m.site);
            names.push(format!("{PREFIX}nat-{}", m.site));
        }
        names.push(format!("{PREFIX}{}", m.name));
    }
    names
}

/// Removes the state file if building fails halfway.
struct StateGuard;

impl Drop for StateGuard {
    fn drop(&mut self) {
        if let Err(e) = state::remove_files() {
            eprintln!("warning: {e:#}");
        }
    }
}

impl DemoWorld {
    /// Builds the internet and starts every node (the binary `exe`), the
    /// nodes tied to this process unless `keep`.
    pub(crate) fn build(
        exe: &Path,
        keep: bool,
        say: &Narrator,
        interrupt: &Interrupt,
    ) -> Result<Self> {
        let mut state = DemoState {
            owner_pid: std::process::id(),
            namespaces: planned_namespaces(),
            ..DemoState::default()
        };
        state::write(&state)?;
        let guard = StateGuard;
        say.say(format!(
            "building an emulated internet: {} namespaces named {PREFIX}*",
            state.namespaces.len()
        ));
        let internet = Internet::with_naming(Naming::Prefixed(PREFIX.to_owned()))?;
        let mut routers: Vec<NatRouter> = Vec::new();
        let mut hosts = Vec::new();
        let mut public_addrs = BTreeMap::new();
        for m in &MEMBERS {
            interrupt.check()?;
            let (ns, addr, public) = match m.nat.kind() {
                None => {
                    let h = internet.add_host(m.name)?;
                    (h.ns, h.ipv4, IpAddr::V4(h.ipv4))
                }
                Some(kind) => {
                    let i = match routers.iter().position(|r| r.role() == router_role(m)) {
                        Some(i) => i,
                        None => {
                            routers.push(internet.add_nat(&router_role(m), kind)?);
                            routers.len() - 1
                        }
                    };
                    let h = routers[i].add_host(m.name)?;
                    (h.ns, h.ipv4, IpAddr::V4(routers[i].wan_addr()))
                }
            };
            say.say(describe_site(m, addr.into(), public));
            public_addrs.insert(m.name, public);
            hosts.push(ns);
        }
        let public = public_addrs
            .get(MEMBERS[0].name)
            .copied()
            .ok_or_else(|| anyhow!("the public member has no address"))?;
        let peer = SocketAddr::new(public, PORT);
        let key_file = write_network_key()?;
        let tiles = TileSetup::prepare()?;
        let tether = if keep {
            Tether::Detached
        } else {
            Tether::OwnSession
        };
        let started = clock::now();
        let mut nodes = Vec::new();
        for (m, ns) in MEMBERS.iter().zip(hosts) {
            let peer = (m.nat != Nat::None).then_some(peer);
            let extra = tiles.up_args(m.name);
            nodes.push(DemoNode::spawn(
                exe, *m, ns, &key_file, peer, tether, &extra,
            )?);
        }
        state.nodes = nodes.iter().map(DemoNode::record).collect();
        state::write(&state)?;
        let mut world = Self {
            nodes,
            started,
            tiles,
            routers,
            internet,
            state,
            kept: false,
            views_out: None,
        };
        std::mem::forget(guard);
        say.say(format!(
            "started {} nodes (tessel up, each in its namespace with its own TUN device), \
             every one but public with --peer {peer}",
            world.nodes.len()
        ));
        say.say(world.tiles.describe());
        world.wait_ready(interrupt)?;
        Ok(world)
    }

    /// Waits until every node answers `tessel status`.
    fn wait_ready(&mut self, interrupt: &Interrupt) -> Result<()> {
        let deadline = clock::now() + START_TIMEOUT;
        for node in &mut self.nodes {
            loop {
                interrupt.check()?;
                node.ensure_running()?;
                if let Ok(view) = node.status() {
                    node.learn(&view);
                    break;
                }
                if clock::now() >= deadline {
                    return Err(anyhow!(
                        "the node of {} did not answer `tessel status` within {START_TIMEOUT:?}; \
                         the end of its log:\n{}",
                        node.member.name,
                        node.log_tail()
                    ));
                }
                interrupt.sleep(Duration::from_millis(50))?;
            }
        }
        Ok(())
    }

    /// Leaves everything running when dropped, and records that in the
    /// state file for `tessel demo --down`.
    pub(crate) fn keep(&mut self) -> Result<()> {
        self.state.kept = true;
        state::write(&self.state)?;
        for node in &mut self.nodes {
            node.release();
        }
        self.internet.keep();
        self.kept = true;
        Ok(())
    }

    /// Hands every round of statuses read from now on to `out` too.
    pub(crate) fn publish_to(&mut self, out: Sender<Views>) {
        self.views_out = Some(out);
    }

    /// Hands a round of statuses to whoever asked for them.
    pub(crate) fn publish(&self, views: &Views) {
        if let Some(out) = &self.views_out {
            // The map may be gone; the demo goes on.
            let _ = out.send(views.clone());
        }
    }

    /// The node of the member called `name`.
    pub(crate) fn node(&self, name: &str) -> Option<&DemoNode> {
        self.nodes.iter().find(|n| n.member.name == name)
    }
}

impl Drop for DemoWorld {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for node in &mut self.nodes {
            node.terminate();
        }
        for node in &mut self.nodes {
            node.reap(STOP_GRACE);
        }
        self.nodes.clear();
        self.routers.clear();
        // The internet's namespaces go when `self.internet` drops, right
        // after this; the files can go now.
        if let Err(e) = state::remove_files() {
            eprintln!("warning: {e:#}");
        }
    }
}

fn router_role(m: &Member) -> String {
    format!("nat-{}", m.site)
}

/// One line about where a member sits.
fn describe_site(m: &Member, addr: IpAddr, public: IpAddr) -> String {
    match m.nat {
        Nat::None => format!("{:<9} {addr:<13} public address", m.name),
        Nat::UdpBlocked => format!(
            "{:<9} {addr:<13} behind a NAT whose firewall drops all UDP ({PREFIX}nat-{}, \
             public address {public})",
            m.name, m.site
        ),
        nat => format!(
            "{:<9} {addr:<13} behind a {} NAT ({PREFIX}nat-{}, public address {public})",
            m.name,
            nat.label(),
            m.site
        ),
    }
}

/// Makes a new network key and writes it where only root reads it.
fn write_network_key() -> Result<PathBuf> {
    let mut seed = [0u8; 32];
    clock::fill_random(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let key = NetworkKey::from_secret(seed);
    let path = Path::new(state::DIR).join("network.key");
    std::fs::write(&path, key.to_text().as_str())
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    Ok(path)
}
