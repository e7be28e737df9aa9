//! The emulated internet: one namespace holding a bridge that every public
//! host and every NAT router's WAN leg plugs into, and that also routes
//! between the public subnets.
//!
//! ```text
//!                   core namespace: br0
//!     198.51.100.254/24  203.0.113.254/24  192.0.2.254/24
//!     2001:db8:1::ffff/64  2001:db8:2::ffff/64
//!        |                   |                     |
//!   public hosts         NAT WAN legs          extra public addresses
//!   198.51.100.N         203.0.113.N           192.0.2.N (aliases)
//!   2001:db8:1::N        2001:db8:2::N
//!                        (routes to dual-stack
//!                         LANs 2001:db8:18:L::/64)
//! ```
//!
//! Public hosts and WAN legs route everything via the core; addresses come
//! only from the documentation ranges and exist only inside the lab's
//! namespaces, so parallel labs reuse them freely.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::error::{Result, ResultExt};
use crate::link::{add_bridge, enable_forwarding, plug};
use crate::nat::NatKind;
use crate::netns::Netns;
use crate::router::{NatRouter, Uplink};
use crate::world::{next, Naming, World};

/// On the real Internet, routers stand between any two sites, and a UDP
/// datagram that enters with a TTL (hop limit) of 2 or less dies on the way:
/// that is what a hole-punching opener counts on (it opens its sender's NAT
/// mapping and must not reach the other side's router). The core bridges
/// the sites of one subnet without a router between them, so it drops such
/// datagrams itself, whether it bridges or routes them.
const HOPS_BETWEEN_SITES: &str = "\
table bridge lab_hops {
    chain forward {
        type filter hook forward priority 0; policy accept;
        meta l4proto udp ip ttl <= 2 drop
        meta l4proto udp ip6 hoplimit <= 2 drop
    }
}
table inet lab_hops {
    chain prerouting {
        type filter hook prerouting priority -300; policy accept;
        meta l4proto udp ip ttl <= 2 drop
        meta l4proto udp ip6 hoplimit <= 2 drop
    }
}
";

/// Name of the internet's bridge in the core namespace.
const BRIDGE: &str = "br0";

/// Interface of a public host on the internet.
pub const PUBLIC_IFACE: &str = "eth0";

/// The core's address in the public hosts' subnet.
pub const HOSTS_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);

/// The core's address in the WAN legs' subnet.
pub const WAN_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 254);

/// The core's address in the subnet of extra public addresses.
pub const ALIAS_GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

/// The core's IPv6 address in the public hosts' subnet.
pub const HOSTS_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xffff);

/// The core's IPv6 address in the WAN legs' subnet.
pub const WAN_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0xffff);

/// A host with public addresses, plugged straight into the internet.
#[derive(Debug, Clone)]
pub struct PublicHost {
    /// The host's namespace.
    pub ns: Arc<Netns>,
    /// Its role, as given to [`Internet::add_host`].
    pub role: String,
    /// Its IPv4 address (198.51.100.0/24).
    pub ipv4: Ipv4Addr,
    /// Its IPv6 address (2001:db8:1::/64).
    pub ipv6: Ipv6Addr,
}

/// The core namespace and its bridge; hosts and routers hang off it.
///
/// Dropping the `Internet` and every handle it gave out deletes all the
/// lab's namespaces (and with them their nftables rules).
#[derive(Debug)]
pub struct Internet {
    core: Arc<Netns>,
    world: World,
}

impl Internet {
    /// Creates the core namespace with its bridge, gateway addresses and
    /// forwarding; every namespace of the lab gets a unique name
    /// ([`Naming::Unique`]).
    pub fn new() -> Result<Self> {
        Self::with_naming(Naming::Unique)
    }

    /// Like [`Internet::new`], with the lab's namespaces named as `naming`
    /// says (the core is role `inet`).
    pub fn with_naming(naming: Naming) -> Result<Self> {
        let world = World::new(naming);
        let core = world.netns("inet")?;
        add_bridge(&core, BRIDGE)?;
        for addr in [
            format!("{HOSTS_GATEWAY}/24"),
            format!("{WAN_GATEWAY}/24"),
            format!("{ALIAS_GATEWAY}/24"),
        ] {
            core.ip(&["addr", "add", &addr, "dev", BRIDGE])?;
        }
        for addr in [HOSTS_GATEWAY_V6, WAN_GATEWAY_V6] {
            core.ip(&["addr", "add", &format!("{addr}/64"), "dev", BRIDGE, "nodad"])?;
        }
        enable_forwarding(&core)?;
        core.exec_ok_with_input(&["nft", "-f", "-"], HOPS_BETWEEN_SITES.as_bytes())
            .during(|| "installing the core's TTL rule")?;
        Ok(Self { core, world })
    }

    /// The core namespace (bridge and router of the internet).
    pub fn core(&self) -> &Arc<Netns> {
        &self.core
    }

    /// Names of every namespace of the lab so far (the core first).
    pub fn namespace_names(&self) -> Vec<String> {
        self.world.names()
    }

    /// Leaves every namespace of the lab made so far, with its processes,
    /// in place when the lab is dropped ([`crate::netns::destroy`] removes
    /// them later).
    pub fn keep(&self) {
        self.world.keep();
    }

    /// Plugs in a public host: host `N` (from 1) gets 198.51.100.N and
    /// 2001:db8:1::N, with default routes via the core.
    pub fn add_host(&self, role: &str) -> Result<PublicHost> {
        let n = next(&mut self.world.lock().hosts, 250, "public hosts")?;
        let ns = self.world.netns(role)?;
        plug(&self.core, BRIDGE, &format!("h{n}"), &ns, PUBLIC_IFACE)?;
        let ipv4 = Ipv4Addr::new(198, 51, 100, n);
        let ipv6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, u16::from(n));
        ns.ip(&["addr", "add", &format!("{ipv4}/24"), "dev", PUBLIC_IFACE])?;
        ns.ip(&[
            "addr",
            "add",
            &format!("{ipv6}/64"),
            "dev",
            PUBLIC_IFACE,
            "nodad",
        ])?;
        ns.ip(&["route", "add", "default", "via", &HOSTS_GATEWAY.to_string()])?;
        ns.ip(&[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &HOSTS_GATEWAY_V6.to_string(),
        ])?;
        Ok(PublicHost {
            ns,
            role: role.to_owned(),
            ipv4,
            ipv6,
        })
    }

    /// Gives `host` one more public IPv4 address, from 192.0.2.0/24, and
    /// returns it: a second address for a reflector, so that a NAT sees
    /// traffic from two different public endpoints.
    pub fn add_alias(&self, host: &PublicHost) -> Result<Ipv4Addr> {
        let n = next(
            &mut self.world.lock().aliases,
            250,
            "extra public addresses",
        )?;
        let addr = Ipv4Addr::new(192, 0, 2, n);
        host.ns
            .ip(&["addr", "add", &format!("{addr}/24"), "dev", PUBLIC_IFACE])
            .during(|| format!("adding {addr} to {}", host.role))?;
        Ok(addr)
    }

    /// Adds a NAT router of `kind` whose WAN leg gets the next address of
    /// 203.0.113.0/24 and whose LAN is the next free 198.18.N.0/24.
    pub fn add_nat(&self, role: &str, kind: NatKind) -> Result<NatRouter> {
        NatRouter::new(role, kind, self.wan_uplink()?, self.world.clone(), false)
    }

    /// Adds a carrier-grade NAT of `kind`: like [`Internet::add_nat`], but
    /// its inside segment is the next free 198.19.N.0/24, meant for the WAN
    /// legs of home NATs ([`NatRouter::add_nat`]).
    pub fn add_cgn(&self, role: &str, kind: NatKind) -> Result<NatRouter> {
        NatRouter::new(role, kind, self.wan_uplink()?, self.world.clone(), true)
    }

    /// Adds a dual-stack NAT router: like [`Internet::add_nat`] for IPv4;
    /// for IPv6 its WAN leg gets 2001:db8:2::N (N as in 203.0.113.N), its
    /// LAN the global 2001:db8:18:L::/64 (L as in 198.18.L.0/24, in hex), routed
    /// by the core, and its hosts 2001:db8:18:L::2, … without translation,
    /// behind a stateful firewall that lets in only replies
    /// ([`crate::nat::ipv6_firewall`]).
    pub fn add_dual_stack_nat(&self, role: &str, kind: NatKind) -> Result<NatRouter> {
        let mut uplink = self.wan_uplink()?;
        let n = uplink.addr.octets()[3];
        let wan_v6 = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, u16::from(n));
        uplink.v6 = Some((wan_v6, WAN_GATEWAY_V6));
        let router = NatRouter::new(role, kind, uplink, self.world.clone(), false)?;
        if let Some(subnet) = router.lan_ipv6_subnet() {
            self.core
                .ip(&["-6", "route", "add", &subnet, "via", &wan_v6.to_string()])
                .during(|| format!("routing {subnet} to {role}"))?;
        }
        Ok(router)
    }

    fn wan_uplink(&self) -> Result<Uplink> {
        let n = next(&mut self.world.lock().wans, 250, "WAN legs")?;
        Ok(Uplink {
            switch: Arc::clone(&self.core),
            bridge: BRIDGE.to_owned(),
            port: format!("w{n}"),
            addr: Ipv4Addr::new(203, 0, 113, n),
            gateway: WAN_GATEWAY,
            v6: None,
        })
    }
}
