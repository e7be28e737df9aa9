//! This machine's addresses: for the join command that `tessel up` prints,
//! and as hole-punching candidates for members on the same network.

use std::net::{IpAddr, SocketAddr};

/// Non-loopback, non-link-local addresses of the machine's interfaces,
/// IPv4 first.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            let ip = match family {
                libc::AF_INET => {
                    let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                    Some(IpAddr::from(u32::from_be(sa.sin_addr.s_addr).to_be_bytes()))
                }
                libc::AF_INET6 => {
                    let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                    Some(IpAddr::from(sa.sin6_addr.s6_addr))
                }
                _ => None,
            };
            if let Some(ip) = ip.filter(usable) {
                out.push(ip);
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
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
