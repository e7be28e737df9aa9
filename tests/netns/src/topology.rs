//! Point-to-point topologies: namespaces joined only where a test says,
//! each link a veth pair with its own subnet, and no forwarding anywhere,
//! so a host reaches only its direct neighbours (lines, rings, any graph).
//!
//! ```text
//!   line of four:   a --l0-- b --l1-- c --l2-- d
//!   ring of four:   a --l0-- b --l1-- c --l2-- d --l3-- a
//!
//!   link k: a /28 of the documentation ranges (192.0.2.0/24, then
//!   198.51.100.0/24, then 203.0.113.0/24); its first end gets .1, the
//!   other .2 of the /28; the interface in each end is `to-<other role>`.
//! ```
//!
//! Addresses live only inside the test's namespaces (named like every other
//! in this harness), so parallel tests reuse them freely. [`Topology::cut`]
//! drops everything arriving over a link with nftables in both ends,
//! silently, as a broken cable would; deleting the namespaces on drop
//! removes links and rules alike.

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::{bail, ensure, Context, Result};

use crate::lab::link::sysctl;
use crate::netns::Netns;

/// The documentation ranges the links' /28s come from, in order.
const RANGES: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];

/// Links per range (/28s in a /24).
const LINKS_PER_RANGE: usize = 16;

/// The nftables table that [`Topology::cut`] fills.
const CUT_TABLE: &str = "tessel-cut";

/// One end of a link.
#[derive(Debug, Clone)]
pub struct LinkEnd {
    /// Index of the host, in the order of the roles.
    pub host: usize,
    /// The veth interface in that host (`to-<other role>`).
    pub ifname: String,
    /// The host's address on the link.
    pub addr: Ipv4Addr,
}

/// A veth pair between two hosts, with a /28 of its own.
#[derive(Debug, Clone)]
pub struct Link {
    /// The two ends, in the order the link was asked for.
    pub ends: [LinkEnd; 2],
}

impl Link {
    /// The end in `host`, if the link touches it.
    pub fn end_in(&self, host: usize) -> Option<&LinkEnd> {
        self.ends.iter().find(|e| e.host == host)
    }
}

/// Hosts (one namespace each) and the links between them.
#[derive(Debug)]
pub struct Topology {
    roles: Vec<String>,
    hosts: Vec<Arc<Netns>>,
    links: Vec<Link>,
}

impl Topology {
    /// Creates one namespace per role and one link per pair of indices.
    /// Forwarding is off in every host.
    pub fn new(roles: &[&str], pairs: &[(usize, usize)]) -> Result<Self> {
        ensure!(
            pairs.len() <= RANGES.len() * LINKS_PER_RANGE,
            "too many links ({}) for the address plan",
            pairs.len()
        );
        let mut topo = Self {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            hosts: Vec::new(),
            links: Vec::new(),
        };
        for role in roles {
            ensure!(
                format!("to-{role}").len() <= 15,
                "role {role:?} is too long for an interface name"
            );
            let ns = Netns::new(role)?;
            sysctl(&ns, "net.ipv4.ip_forward", "0")?;
            sysctl(&ns, "net.ipv6.conf.all.forwarding", "0")?;
            topo.hosts.push(Arc::new(ns));
        }
        for (k, &(a, b)) in pairs.iter().enumerate() {
            topo.connect(k, a, b)
                .with_context(|| format!("linking host {a} with host {b}"))?;
        }
        Ok(topo)
    }

    /// `roles[0]`–`roles[1]`–…–`roles[n-1]`.
    pub fn line(roles: &[&str]) -> Result<Self> {
        let pairs: Vec<_> = (1..roles.len()).map(|i| (i - 1, i)).collect();
        Self::new(roles, &pairs)
    }

    /// A line whose last host is linked back to the first.
    pub fn ring(roles: &[&str]) -> Result<Self> {
        ensure!(roles.len() >= 3, "a ring needs at least three hosts");
        let pairs: Vec<_> = (0..roles.len())
            .map(|i| (i, (i + 1) % roles.len()))
            .collect();
        Self::new(roles, &pairs)
    }

    fn connect(&mut self, k: usize, a: usize, b: usize) -> Result<()> {
        ensure!(
            a != b && a < self.hosts.len() && b < self.hosts.len(),
            "bad link ({a}, {b})"
        );
        ensure!(
            self.link_between(a, b).is_none(),
            "hosts {a} and {b} are linked twice"
        );
        let [x, y, z] = RANGES[k / LINKS_PER_RANGE];
        let base = u8::try_from((k % LINKS_PER_RANGE) * 16).context("address plan")?;
        let ends = [(a, b, base + 1), (b, a, base + 2)].map(|(host, other, last)| LinkEnd {
            host,
            ifname: format!("to-{}", self.roles[other]),
            addr: Ipv4Addr::new(x, y, z, last),
        });
        let (na, nb) = (&self.hosts[a], &self.hosts[b]);
        na.ip(&[
            "link",
            "add",
            &ends[0].ifname,
            "type",
            "veth",
            "peer",
            "name",
            &ends[1].ifname,
            "netns",
            nb.name(),
        ])?;
        for (ns, end) in [(na, &ends[0]), (nb, &ends[1])] {
            ns.ip(&[
                "addr",
                "add",
                &format!("{}/28", end.addr),
                "dev",
                &end.ifname,
            ])?;
            ns.ip(&["link", "set", &end.ifname, "up"])?;
        }
        self.links.push(Link { ends });
        Ok(())
    }

    /// Host `i`'s namespace.
    pub fn host(&self, i: usize) -> &Arc<Netns> {
        &self.hosts[i]
    }

    /// How many hosts there are.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Host `i`'s role.
    pub fn role(&self, i: usize) -> &str {
        &self.roles[i]
    }

    /// Every link, in the order they were asked for.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The link between hosts `a` and `b`, if any.
    pub fn link_between(&self, a: usize, b: usize) -> Option<&Link> {
        self.links
            .iter()
            .find(|l| l.end_in(a).is_some() && l.end_in(b).is_some())
    }

    /// Every address of host `i`, one per link.
    pub fn addrs(&self, i: usize) -> Vec<Ipv4Addr> {
        self.links
            .iter()
            .filter_map(|l| l.end_in(i))
            .map(|e| e.addr)
            .collect()
    }

    /// `addr:port` of host `of` on its link with `toward` (what `toward`
    /// can reach), e.g. for `--peer`.
    pub fn endpoint(&self, of: usize, toward: usize, port: u16) -> Result<String> {
        let link = self
            .link_between(of, toward)
            .with_context(|| format!("hosts {of} and {toward} are not linked"))?;
        let end = link.end_in(of).context("link without this end")?;
        Ok(format!("{}:{port}", end.addr))
    }

    /// Cuts the link between `a` and `b`: both ends drop everything that
    /// comes in on it (nftables, input hook). Senders see no error, as
    /// with a broken cable; the interfaces stay up.
    pub fn cut(&self, a: usize, b: usize) -> Result<()> {
        let Some(link) = self.link_between(a, b).cloned() else {
            bail!("hosts {a} and {b} are not linked");
        };
        for end in &link.ends {
            let ns = &self.hosts[end.host];
            ns.exec_ok(&["nft", "add", "table", "inet", CUT_TABLE])?;
            ns.exec_ok(&[
                "nft",
                "add",
                "chain",
                "inet",
                CUT_TABLE,
                "in",
                "{ type filter hook input priority 0 ; }",
            ])?;
            ns.exec_ok(&[
                "nft",
                "add",
                "rule",
                "inet",
                CUT_TABLE,
                "in",
                "iifname",
                &end.ifname,
                "drop",
            ])?;
        }
        Ok(())
    }
}
