//! NAT routers: a namespace with a WAN leg (`wan0`) plugged into the
//! internet or into another router's LAN, and a LAN bridge (`lan0`) that
//! private hosts, or the WAN legs of NATs behind it, plug into.
//!
//! ```text
//!   upstream bridge (internet br0, or a CGN's lan0)
//!        | wan0  203.0.113.N (or 198.19.M.K behind a CGN)
//!   router namespace: forwarding, nftables NAT of its kind
//!        | lan0  198.18.L.1/24 (a CGN: 198.19.M.1/24)
//!   private hosts 198.18.L.2, .3, … (default route via .1)
//! ```
//!
//! A dual-stack router ([`crate::Internet::add_dual_stack_nat`]) also has
//! 2001:db8:2::N on its WAN leg and routes 2001:db8:18:L::/64 to its LAN
//! (hosts 2001:db8:18:L::2, …), behind a stateful firewall.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, ResultExt};
use crate::link::{add_bridge, enable_forwarding, plug, sysctl};
use crate::nat::{self, NatKind};
use crate::netns::Netns;
use crate::world::{next, World};

/// The router's interface toward its upstream.
pub const WAN_IFACE: &str = "wan0";

/// The router's LAN bridge.
pub const LAN_BRIDGE: &str = "lan0";

/// Interface of a private host on its LAN.
pub const PRIVATE_IFACE: &str = "eth0";

/// Where a router's WAN leg plugs in, and the address it gets there.
#[derive(Debug)]
pub(crate) struct Uplink {
    /// Namespace holding the upstream bridge.
    pub(crate) switch: Arc<Netns>,
    /// The upstream bridge.
    pub(crate) bridge: String,
    /// Name of the bridge port (unique in `switch`).
    pub(crate) port: String,
    /// The WAN address (a /24).
    pub(crate) addr: Ipv4Addr,
    /// The upstream gateway.
    pub(crate) gateway: Ipv4Addr,
    /// The IPv6 WAN address (a /64) and upstream gateway, for a dual-stack
    /// router.
    pub(crate) v6: Option<(Ipv6Addr, Ipv6Addr)>,
}

/// A host with a private address on a router's LAN.
#[derive(Debug, Clone)]
pub struct PrivateHost {
    /// The host's namespace.
    pub ns: Arc<Netns>,
    /// Its role, as given to [`NatRouter::add_host`].
    pub role: String,
    /// Its private address.
    pub ipv4: Ipv4Addr,
    /// Its global IPv6 address, behind a dual-stack router.
    pub ipv6: Option<Ipv6Addr>,
}

/// A NAT router: its namespace, its WAN address and its LAN.
#[derive(Debug)]
pub struct NatRouter {
    ns: Arc<Netns>,
    role: String,
    kind: NatKind,
    wan: Ipv4Addr,
    /// The upstream gateway of the WAN leg.
    gateway: Ipv4Addr,
    wan_v6: Option<Ipv6Addr>,
    lan: [u8; 3],
    lan_hosts: AtomicU8,
    world: World,
}

impl NatRouter {
    /// Builds the router on `uplink`, with a LAN from 198.19.0.0/16 if
    /// `cgn`, else from 198.18.0.0/16, and installs the NAT of `kind`.
    pub(crate) fn new(
        role: &str,
        kind: NatKind,
        uplink: Uplink,
        world: World,
        cgn: bool,
    ) -> Result<Self> {
        let lan = {
            let mut plan = world.lock();
            if cgn {
                [198, 19, next(&mut plan.segments, 250, "CGN segments")?]
            } else {
                [198, 18, next(&mut plan.lans, 250, "home LANs")?]
            }
        };
        let ns = world.netns(role)?;
        plug(&uplink.switch, &uplink.bridge, &uplink.port, &ns, WAN_IFACE)?;
        ns.ip(&[
            "addr",
            "add",
            &format!("{}/24", uplink.addr),
            "dev",
            WAN_IFACE,
        ])?;
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &uplink.gateway.to_string(),
        ])?;
        add_bridge(&ns, LAN_BRIDGE)?;
        let router = Self {
            ns,
            role: role.to_owned(),
            kind,
            wan: uplink.addr,
            gateway: uplink.gateway,
            wan_v6: uplink.v6.map(|(addr, _)| addr),
            lan,
            lan_hosts: AtomicU8::new(0),
            world,
        };
        let gw = router.lan_gateway();
        router
            .ns
            .ip(&["addr", "add", &format!("{gw}/24"), "dev", LAN_BRIDGE])?;
        enable_forwarding(&router.ns)?;
        router
            .load_rules(&nat::ruleset(kind, router.wan))
            .during(|| format!("installing {kind:?} NAT on {role}"))?;
        if let Some((addr, gateway)) = uplink.v6 {
            router.route_ipv6(addr, gateway)?;
        }
        Ok(router)
    }

    /// Gives the WAN leg `addr`, a default route via `gateway`, the LAN its
    /// /64 and the router its IPv6 firewall.
    fn route_ipv6(&self, addr: Ipv6Addr, gateway: Ipv6Addr) -> Result<()> {
        let ns = &self.ns;
        ns.ip(&[
            "addr",
            "add",
            &format!("{addr}/64"),
            "dev",
            WAN_IFACE,
            "nodad",
        ])?;
        ns.ip(&["-6", "route", "add", "default", "via", &gateway.to_string()])?;
        let gw = self.v6_addr(1);
        ns.ip(&[
            "addr",
            "add",
            &format!("{gw}/64"),
            "dev",
            LAN_BRIDGE,
            "nodad",
        ])?;
        self.load_rules(&nat::ipv6_firewall())
            .during(|| format!("installing the IPv6 firewall on {}", self.role))
    }

    /// The router's namespace.
    pub fn ns(&self) -> &Arc<Netns> {
        &self.ns
    }

    /// The router's role.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The NAT behaviour it was built with.
    pub fn kind(&self) -> NatKind {
        self.kind
    }

    /// Its WAN address: the address its LAN hosts appear from.
    pub fn wan_addr(&self) -> Ipv4Addr {
        self.wan
    }

    /// Its address on the LAN (x.y.z.1), the LAN hosts' default gateway.
    pub fn lan_gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.lan[0], self.lan[1], self.lan[2], 1)
    }

    /// The LAN's subnet, e.g. `198.18.1.0/24`.
    pub fn lan_subnet(&self) -> String {
        format!("{}.{}.{}.0/24", self.lan[0], self.lan[1], self.lan[2])
    }

    /// Plugs a private host into the LAN: it gets the next free address
    /// from .2 up and a default route via the router.
    pub fn add_host(&self, role: &str) -> Result<PrivateHost> {
        let (ipv4, port) = self.next_lan_addr()?;
        let ns = self.world.netns(role)?;
        plug(&self.ns, LAN_BRIDGE, &port, &ns, PRIVATE_IFACE)?;
        ns.ip(&["addr", "add", &format!("{ipv4}/24"), "dev", PRIVATE_IFACE])?;
        ns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &self.lan_gateway().to_string(),
        ])?;
        let host_v6 = self.lan_ipv6(ipv4.octets()[3]);
        if let (Some(addr), Some(gw)) = (host_v6, self.lan_ipv6(1)) {
            ns.ip(&[
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                PRIVATE_IFACE,
                "nodad",
            ])?;
            ns.ip(&["-6", "route", "add", "default", "via", &gw.to_string()])?;
        }
        Ok(PrivateHost {
            ns,
            role: role.to_owned(),
            ipv4,
            ipv6: host_v6,
        })
    }

    /// Adds a NAT router of `kind` behind this one: its WAN leg is a host
    /// on this router's LAN (for a CGN, in 198.19.M.0/24), its own LAN the
    /// next free 198.18.N.0/24.
    pub fn add_nat(&self, role: &str, kind: NatKind) -> Result<NatRouter> {
        let (addr, port) = self.next_lan_addr()?;
        let uplink = Uplink {
            switch: Arc::clone(&self.ns),
            bridge: LAN_BRIDGE.to_owned(),
            port,
            addr,
            gateway: self.lan_gateway(),
            v6: None,
        };
        NatRouter::new(role, kind, uplink, self.world.clone(), false)
    }

    /// Its IPv6 WAN address, if it is dual-stack.
    pub fn wan_ipv6(&self) -> Option<Ipv6Addr> {
        self.wan_v6
    }

    /// The LAN's IPv6 subnet, e.g. `2001:db8:18:1::/64`, if the router is
    /// dual-stack.
    pub fn lan_ipv6_subnet(&self) -> Option<String> {
        self.lan_ipv6(0).map(|a| format!("{a}/64"))
    }

    /// Address `n` of the LAN's /64 (2001:db8:18:L::n; a CGN's segment
    /// 2001:db8:19:M::n), if the router is dual-stack.
    fn lan_ipv6(&self, n: u8) -> Option<Ipv6Addr> {
        self.wan_v6.map(|_| self.v6_addr(n))
    }

    /// 2001:db8:18:L::n for the LAN 198.18.L.0/24 (a CGN's segment
    /// 198.19.M.0/24: 2001:db8:19:M::n), L and M in hex.
    fn v6_addr(&self, n: u8) -> Ipv6Addr {
        let [_, b, c] = self.lan;
        let site = if b == 18 { 0x18 } else { 0x19 };
        Ipv6Addr::new(0x2001, 0xdb8, site, u16::from(c), 0, 0, 0, u16::from(n))
    }

    /// Makes the router hairpin UDP: a packet from its LAN to its WAN
    /// address and a live external port goes to the LAN host behind that
    /// port, from the WAN address ([`nat::hairpin_rules`]).
    pub fn enable_hairpinning(&self) -> Result<()> {
        self.load_rules(&nat::hairpin_rules(self.kind, self.wan))
            .during(|| format!("enabling hairpinning on {}", self.role))
    }

    /// Sets how long the router keeps a UDP mapping without traffic:
    /// conntrack's UDP timeouts, unreplied and replied alike, in the
    /// router's namespace (whole seconds, at least 1).
    pub fn set_udp_timeout(&self, timeout: Duration) -> Result<()> {
        let secs = timeout.as_secs().max(1).to_string();
        for key in [
            "net.netfilter.nf_conntrack_udp_timeout",
            "net.netfilter.nf_conntrack_udp_timeout_stream",
        ] {
            sysctl(&self.ns, key, &secs)?;
        }
        Ok(())
    }

    /// Forgets every mapping, as a reboot does: the WAN address is taken
    /// away and given back, and masquerading drops the connections it
    /// translated to it. Only for kinds that masquerade (not
    /// [`NatKind::SymmetricSequential`], whose rules name the address).
    pub fn forget_mappings(&self) -> Result<()> {
        self.set_wan(self.wan, self.wan)
    }

    /// Moves the WAN leg to a new address of its subnet (the next free one
    /// of 203.0.113.0/24 for a router on the lab's internet), as a
    /// provider that renumbers does; every mapping goes with the old
    /// address. Returns the new address. Only for kinds that masquerade,
    /// and not for a router behind a carrier-grade NAT.
    pub fn renumber(&mut self) -> Result<Ipv4Addr> {
        let n = next(&mut self.world.lock().wans, 250, "WAN legs")?;
        let [a, b, c, _] = self.wan.octets();
        let new = Ipv4Addr::new(a, b, c, n);
        self.set_wan(self.wan, new)?;
        self.wan = new;
        Ok(new)
    }

    fn set_wan(&self, old: Ipv4Addr, new: Ipv4Addr) -> Result<()> {
        let ns = &self.ns;
        ns.ip(&["addr", "del", &format!("{old}/24"), "dev", WAN_IFACE])?;
        ns.ip(&["addr", "add", &format!("{new}/24"), "dev", WAN_IFACE])?;
        ns.ip(&[
            "route",
            "replace",
            "default",
            "via",
            &self.gateway.to_string(),
        ])?;
        Ok(())
    }

    /// The router's connection-tracking table, one entry a line, as
    /// `/proc/net/nf_conntrack` in its namespace lists it.
    pub fn conntrack(&self) -> Result<String> {
        self.ns.exec_ok(&["cat", "/proc/net/nf_conntrack"])
    }

    /// The router's nftables ruleset, as `nft list ruleset` prints it.
    pub fn ruleset(&self) -> Result<String> {
        self.ns.exec_ok(&["nft", "list", "ruleset"])
    }

    fn load_rules(&self, rules: &str) -> Result<()> {
        self.ns
            .exec_ok_with_input(&["nft", "-f", "-"], rules.as_bytes())
            .during(|| format!("loading\n{rules}"))?;
        Ok(())
    }

    fn next_lan_addr(&self) -> Result<(Ipv4Addr, String)> {
        let n = self.lan_hosts.fetch_add(1, Ordering::Relaxed);
        if n >= 250 {
            return Err(Error::Exhausted {
                what: "hosts on one LAN",
                max: 250,
            });
        }
        let [a, b, c] = self.lan;
        Ok((Ipv4Addr::new(a, b, c, n + 2), format!("l{n}")))
    }
}
