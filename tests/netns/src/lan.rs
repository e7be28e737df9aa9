//! A switched LAN of namespaces: one namespace holds a Linux bridge, and
//! every host namespace is plugged into it with a veth pair.
//!
//! ```text
//!            switch namespace (br0)
//!        p0 /        | p1        \ p2
//!   eth0 ns:a    eth0 ns:b    eth0 ns:c
//!   198.51.100.1 198.51.100.2 198.51.100.3
//!   2001:db8:1::1 2001:db8:1::2 2001:db8:1::3
//! ```
//!
//! Addresses come only from documentation ranges and live only inside the
//! namespaces of one test, so tests running in parallel reuse them freely.
//! Nothing is created in, or moved through, the root namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};

use crate::netns::Netns;

/// Name of the LAN interface in every host namespace.
pub const HOST_IFACE: &str = "eth0";

/// Name of the bridge in the switch namespace.
const BRIDGE: &str = "br0";

/// One host on the LAN.
#[derive(Debug, Clone)]
pub struct LanHost {
    /// The host's namespace.
    pub ns: Arc<Netns>,
    /// Its role, as given to [`Lan::new`].
    pub role: String,
    /// Its IPv4 address on the LAN (198.51.100.0/24).
    pub ipv4: Ipv4Addr,
    /// Its IPv6 address on the LAN (2001:db8:1::/64).
    pub ipv6: Ipv6Addr,
}

impl LanHost {
    /// `ipv4:port`, e.g. for `--peer`.
    pub fn v4_endpoint(&self, port: u16) -> String {
        format!("{}:{port}", self.ipv4)
    }

    /// `[ipv6]:port`, e.g. for `--peer`.
    pub fn v6_endpoint(&self, port: u16) -> String {
        format!("[{}]:{port}", self.ipv6)
    }

    /// The host's LAN address of the given family.
    pub fn addr(&self, v6: bool) -> IpAddr {
        if v6 {
            self.ipv6.into()
        } else {
            self.ipv4.into()
        }
    }
}

/// A bridge in its own namespace with host namespaces plugged into it.
#[derive(Debug)]
pub struct Lan {
    hosts: Vec<LanHost>,
    switch: Netns,
}

impl Lan {
    /// Builds a LAN with one host per role; host `i` gets 198.51.100.(i+1)
    /// and 2001:db8:1::(i+1).
    pub fn new(roles: &[&str]) -> Result<Self> {
        ensure!(roles.len() < 250, "too many hosts for one /24");
        let switch = Netns::new("sw")?;
        switch.ip(&[
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
        switch.ip(&["link", "set", BRIDGE, "up"])?;
        let mut lan = Self {
            hosts: Vec::new(),
            switch,
        };
        for role in roles {
            lan.add_host(role)
                .with_context(|| format!("adding host {role} to the LAN"))?;
        }
        Ok(lan)
    }

    /// Plugs one more host into the switch and returns it.
    pub fn add_host(&mut self, role: &str) -> Result<&LanHost> {
        let i = self.hosts.len();
        let octet = u8::try_from(i + 1).context("too many hosts")?;
        let ns = Netns::new(role)?;
        let port = format!("p{i}");
        // Created inside the switch namespace, peer end straight into the host.
        self.switch.ip(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            HOST_IFACE,
            "netns",
            ns.name(),
        ])?;
        self.switch
            .ip(&["link", "set", &port, "master", BRIDGE, "up"])?;
        let ipv4 = Ipv4Addr::new(198, 51, 100, octet);
        let ipv6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, u16::from(octet));
        ns.ip(&["addr", "add", &format!("{ipv4}/24"), "dev", HOST_IFACE])?;
        ns.ip(&[
            "addr",
            "add",
            &format!("{ipv6}/64"),
            "dev",
            HOST_IFACE,
            "nodad",
        ])?;
        ns.ip(&["link", "set", HOST_IFACE, "up"])?;
        self.hosts.push(LanHost {
            ns: Arc::new(ns),
            role: role.to_owned(),
            ipv4,
            ipv6,
        });
        Ok(&self.hosts[i])
    }

    /// Host `i`, in the order of the roles given to [`Lan::new`].
    pub fn host(&self, i: usize) -> &LanHost {
        &self.hosts[i]
    }

    /// All hosts.
    pub fn hosts(&self) -> &[LanHost] {
        &self.hosts
    }

    /// The namespace holding the bridge.
    pub fn switch(&self) -> &Netns {
        &self.switch
    }
}
