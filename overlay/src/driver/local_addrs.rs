//! This machine's addresses: for the join command that `tessel up` prints,
//! and as hole-punching candidates for members on the same network.

use std::net::{IpAddr, SocketAddr};

/// Non-loopback, non-link-local addresses of the machine's interfaces,
/// IPv4 first.
pub fn local_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<IpAddr> = addrs
        .filter_map(|ifa| {
            let address = ifa.address?;
            if let Some(sin) = address.as_sockaddr_in() {
                Some(IpAddr::V4(sin.ip()))
            } else {
                address.as_sockaddr_in6().map(|sin6| IpAddr::V6(sin6.ip()))
            }
        })
        .filter(usable)
        .collect();
    out.sort_by_key(|ip| ip.is_ipv6());
    out.dedup();
    out
}

fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !v4.is_loopback() && !v4.is_link_local() && !crate::identity::address::in_ipv4_range(v4)
        }
        IpAddr::V6(v6) => {
            !v6.is_loopback()
                && (v6.segments()[0] & 0xffc0) != 0xfe80
                && (v6.segments()[0] & 0xfe00) != 0xfc00
        }
    }
}

/// The addresses that a socket bound to `listen` can be reached at: each
/// interface address of the socket's family (both for a dual-stack
/// unspecified address), or the bound address itself, with its port.
pub fn reachable_at(listen: SocketAddr) -> Vec<SocketAddr> {
    if !listen.ip().is_unspecified() {
        return vec![listen];
    }
    local_addresses()
        .into_iter()
        .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
        .map(|ip| SocketAddr::new(ip, listen.port()))
        .collect()
}
