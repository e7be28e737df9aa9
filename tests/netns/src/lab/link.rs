//! Plumbing shared by the lab's pieces: bridges, veth pairs plugged into
//! them, and per-namespace sysctls.

use anyhow::{Context, Result};

use crate::netns::Netns;

/// Creates bridge `name` in `ns`, brings it up, and keeps bridged frames
/// out of the IP netfilter hooks (new namespaces default to passing them
/// through, which would subject switched LAN traffic to the router's
/// forward chain).
pub(crate) fn add_bridge(ns: &Netns, name: &str) -> Result<()> {
    ns.ip(&[
        "link",
        "add",
        name,
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

/// Creates a veth pair whose end `port` is enslaved to `bridge` in
/// `bridge_ns` and whose other end appears as `ifname` in `target`.
/// Both ends are up.
pub(crate) fn plug(
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
        .with_context(|| format!("plugging {} into {}", target.name(), bridge_ns.name()))?;
    bridge_ns.ip(&["link", "set", port, "master", bridge, "up"])?;
    target.ip(&["link", "set", ifname, "up"])?;
    Ok(())
}

/// Sets `key` to `value` with `sysctl -w` inside `ns`.
pub(crate) fn sysctl(ns: &Netns, key: &str, value: &str) -> Result<()> {
    ns.exec_ok(&["sysctl", "-qw", &format!("{key}={value}")])
        .with_context(|| format!("sysctl {key}={value} in {}", ns.name()))?;
    Ok(())
}

/// Turns on IPv4 and IPv6 forwarding in `ns`.
pub(crate) fn enable_forwarding(ns: &Netns) -> Result<()> {
    sysctl(ns, "net.ipv4.ip_forward", "1")?;
    sysctl(ns, "net.ipv6.conf.all.forwarding", "1")
}
