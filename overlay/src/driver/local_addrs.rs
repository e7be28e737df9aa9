//! This machine's addresses: for the join command that `tessel up` prints,
//! and as hole-punching candidates for members on the same network.

use std::net::{IpAddr, SocketAddr};

use crate::identity::address::Ipv4Range;

/// Non-loopback, non-link-local addresses of the machine's interfaces,
/// IPv4 first, without the overlay's own (those in `overlay`, the IPv4
/// range, and unique-local IPv6 addresses, where the overlay's live).
pub fn local_addresses(overlay: &Ipv4Range) -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    candidates(
        addrs.filter_map(|ifa| {
            let address = ifa.address?;
            if let Some(sin) = address.as_sockaddr_in() {
                Some(IpAddr::V4(sin.ip()))
            } else {
                address.as_sockaddr_in6().map(|sin6| IpAddr::V6(sin6.ip()))
            }
        }),
        overlay,
    )
}

/// The addresses among `addrs` that other machines may reach this one at
/// (see [`local_addresses`]), IPv4 first, each once.
pub fn candidates(addrs: impl IntoIterator<Item = IpAddr>, overlay: &Ipv4Range) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = addrs.into_iter().filter(|ip| usable(ip, overlay)).collect();
    out.sort_by_key(|ip| ip.is_ipv6());
    let mut seen = Vec::new();
    out.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    out
}

fn usable(ip: &IpAddr, overlay: &Ipv4Range) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !v4.is_loopback()
                && !v4.is_link_local()
                && !v4.is_unspecified()
                && !overlay.contains(v4)
        }
        IpAddr::V6(v6) => {
            !v6.is_loopback()
                && !v6.is_unspecified()
                && (v6.segments()[0] & 0xffc0) != 0xfe80
                && (v6.segments()[0] & 0xfe00) != 0xfc00
        }
    }
}

/// The addresses that a socket bound to `listen` can be reached at: each
/// interface address of the socket's family (both for a dual-stack
/// unspecified address), or the bound address itself, with its port.
pub fn reachable_at(listen: SocketAddr, overlay: &Ipv4Range) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    local_addresses(overlay)
        .into_iter()
        .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
        .map(|ip| SocketAddr::new(ip, listen.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn loopback_link_local_and_overlay_addresses_are_no_candidates() {
        let found = ips(&[
            "127.0.0.1",
            "2001:db8:1::1",
            "198.51.100.1",
            "169.254.3.4",
            "100.70.1.2",
            "::1",
            "fe80::1",
            "fd12:3456:789a::1",
            "198.51.100.1",
            "10.213.0.7",
        ]);
        assert_eq!(
            candidates(found.clone(), &Ipv4Range::DEFAULT),
            ips(&["198.51.100.1", "10.213.0.7", "2001:db8:1::1"])
        );
        // With another overlay range, 100.64/10 is an ordinary address.
        let other: Ipv4Range = "10.213.0.0/16".parse().unwrap();
        assert_eq!(
            candidates(found, &other),
            ips(&["198.51.100.1", "100.70.1.2", "2001:db8:1::1"])
        );
    }
}
