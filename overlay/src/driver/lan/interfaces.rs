//! The machine's interfaces that LAN discovery uses: up, multicast-capable,
//! neither loopback nor the overlay's own TUN device.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};

/// One interface and the addresses that discovery needs on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interface {
    /// Its name (`eth0`).
    pub(crate) name: String,
    /// Its index (the IPv6 scope of its link-local addresses).
    pub(crate) index: u32,
    /// An IPv4 address of it, which IPv4 beacons leave from.
    pub(crate) ipv4: Option<Ipv4Addr>,
    /// Whether it has an IPv6 link-local address, which IPv6 beacons leave from.
    pub(crate) ipv6: bool,
    /// Its subnets (each address with its prefix length), which beacons
    /// from this link come from.
    pub(crate) subnets: Vec<(IpAddr, u8)>,
}

/// The interfaces that are up and can multicast, except loopback and
/// `exclude` (the TUN device), ordered by index.
pub(crate) fn multicast_interfaces(exclude: Option<&str>) -> Vec<Interface> {
    let addrs = match getifaddrs() {
        Ok(addrs) => addrs,
        Err(error) => {
            tracing::debug!(%error, "listing interfaces");
            return Vec::new();
        }
    };
    let mut found: BTreeMap<String, Interface> = BTreeMap::new();
    for ifa in addrs {
        let flags = ifa.flags;
        let wanted = flags.contains(InterfaceFlags::IFF_UP)
            && flags.contains(InterfaceFlags::IFF_MULTICAST)
            && !flags.contains(InterfaceFlags::IFF_LOOPBACK);
        if !wanted || Some(ifa.interface_name.as_str()) == exclude {
            continue;
        }
        let name = ifa.interface_name;
        let entry = found.entry(name.clone()).or_insert_with(|| Interface {
            index: if_nametoindex(name.as_str()).unwrap_or(0),
            name,
            ipv4: None,
            ipv6: false,
            subnets: Vec::new(),
        });
        let Some(address) = ifa.address else { continue };
        let mask = ifa.netmask;
        if let Some(sin) = address.as_sockaddr_in() {
            entry.ipv4.get_or_insert(sin.ip());
            if let Some(m) = mask.as_ref().and_then(|m| m.as_sockaddr_in()) {
                let prefix = m.ip().to_bits().leading_ones() as u8;
                entry.subnets.push((IpAddr::V4(sin.ip()), prefix));
            }
        } else if let Some(sin6) = address.as_sockaddr_in6() {
            entry.ipv6 |= sin6.ip().is_unicast_link_local();
            if let Some(m) = mask.as_ref().and_then(|m| m.as_sockaddr_in6()) {
                let prefix = m.ip().to_bits().leading_ones() as u8;
                entry.subnets.push((IpAddr::V6(sin6.ip()), prefix));
            }
        }
    }
    let mut list: Vec<Interface> = found.into_values().filter(|i| i.index != 0).collect();
    list.sort_by_key(|i| i.index);
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_the_excluded_interface_are_left_out() {
        let all = multicast_interfaces(None);
        assert!(all.iter().all(|i| i.name != "lo" && i.index != 0));
        if let Some(first) = all.first() {
            let without = multicast_interfaces(Some(&first.name));
            assert!(without.iter().all(|i| i.name != first.name));
        }
    }
}
