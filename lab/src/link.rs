//! Plumbing shared by the lab's pieces: bridges, veth pairs plugged into
//! them, and per-namespace sysctls.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::error::{Result, ResultExt};
use crate::netns::Netns;

/// Creates bridge `name` in `ns`, brings it up, and keeps bridged frames
/// out of the IP netfilter hooks (new namespaces default to passing them
/// through, which would subject switched LAN traffic to the router's
/// forward chain).
///
/// The bridge gets a link-layer address of its own ([`bridge_mac`]). A
/// Linux bridge without one takes the lowest of its ports' addresses and
/// changes it whenever a port with a lower one joins; every neighbour that
/// had learnt the old address (the gateway's, for the hosts and routers
/// behind it) then sends into a black hole until its neighbour entry is
/// probed again, tens of seconds later.
pub fn add_bridge(ns: &Netns, name: &str) -> Result<()> {
    let mac = bridge_mac(ns.name(), name);
    ns.ip(&[
        "link",
        "add",
        name,
        "address",
        &mac,
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ])?;
    ns.ip(&["link", "set", name, "up"])?;
    sysctl(ns, "net.bridge.bridge-nf-call-iptables", "0")?;
    sysctl(ns, "net.bridge.bridge-nf-call-ip6tables", "0")?;
    Ok(())
}

/// A locally administered unicast address for bridge `bridge` in the
/// namespace `ns`: a hash of both names, so that bridges of parallel labs
/// (whose namespace names differ) get different ones.
fn bridge_mac(ns: &str, bridge: &str) -> String {
    let mut h = DefaultHasher::new();
    (ns, bridge).hash(&mut h);
    let b = h.finish().to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4]
    )
}

/// Creates a veth pair whose end `port` is enslaved to `bridge` in
/// `bridge_ns` and whose other end appears as `ifname` in `target`.
/// Both ends are up.
pub fn plug(
    bridge_ns: &Netns,
    bridge: &str,
    port: &str,
    target: &Netns,
    ifname: &str,
) -> Result<()> {
    bridge_ns
        .ip(&[
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            target.name(),
        ])
        .during(|| format!("plugging {} into {}", target.name(), bridge_ns.name()))?;
    bridge_ns.ip(&["link", "set", port, "master", bridge, "up"])?;
    target.ip(&["link", "set", ifname, "up"])?;
    Ok(())
}

/// Sets `key` to `value` with `sysctl -w` inside `ns`.
pub fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<()> {
    ns.exec_ok(&["sysctl", "-qw", &format!("{key}={value}")])
        .during(|| format!("sysctl {key}={value} in {}", ns.name()))?;
    Ok(())
}

/// Turns on IPv4 and IPv6 forwarding in `ns`, without ICMP redirects:
/// routers of the lab share bridges, and a redirect would send hosts to
/// another router directly, past the one that stands for the internet.
pub fn enable_forwarding(ns: &Netns) -> Result<()> {
    sysctl(ns, "net.ipv4.ip_forward", "1")?;
    // A redirect goes out when `all` or the interface says so: clear both,
    // for the interfaces there are and those to come.
    ns.exec_ok(&[
        "sh",
        "-c",
        "for f in /proc/sys/net/ipv4/conf/*/send_redirects; do echo 0 > $f; done",
    ])
    .during(|| format!("turning off ICMP redirects in {}", ns.name()))?;
    sysctl(ns, "net.ipv6.conf.all.forwarding", "1")
}
