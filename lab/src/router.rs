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

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result, ResultExt};
use crate::link::{add_bridge, enable_forwarding, plug};
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
}

/// A NAT router: its namespace, its WAN address and its LAN.
#[derive(Debug)]
pub struct NatRouter {
    ns: Arc<Netns>,
    role: String,
    kind: NatKind,
    wan: Ipv4Addr,
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
        Ok(router)
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
        Ok(PrivateHost {
            ns,
            role: role.to_owned(),
            ipv4,
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
        };
        NatRouter::new(role, kind, uplink, self.world.clone(), false)
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
