//! The machine's interfaces that LAN discovery uses: up, multicast-capable,
//! neither loopback nor the overlay's own TUN device.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, Ipv6Addr};

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
}

/// The interfaces that are up and can multicast, except loopback and
/// `exclude` (the TUN device), ordered by index.
pub(crate) fn multicast_interfaces(exclude: Option<&str>) -> Vec<Interface> {
    let mut found: BTreeMap<String, Interface> = BTreeMap::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "listing interfaces");
        return Vec::new();
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        let flags = ifa.ifa_flags;
        let wanted = flags & libc::IFF_UP as u32 != 0
            && flags & libc::IFF_MULTICAST as u32 != 0
            && flags & libc::IFF_LOOPBACK as u32 == 0;
        if !wanted || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        if Some(name.as_str()) == exclude {
            continue;
        }
        let entry = found.entry(name.clone()).or_insert_with(|| Interface {
            index: index_of(&name),
            name,
            ipv4: None,
            ipv6: false,
        });
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says its type.
        match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                entry.ipv4.get_or_insert(ip);
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sa = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(sa.sin6_addr.s6_addr);
                entry.ipv6 |= ip.is_unicast_link_local();
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    let mut list: Vec<Interface> = found.into_values().filter(|i| i.index != 0).collect();
    list.sort_by_key(|i| i.index);
    list
}

/// The index of interface `name`, 0 if it has none (it just went away).
fn index_of(name: &str) -> u32 {
    let Ok(c) = CString::new(name) else {
        return 0;
    };
    // SAFETY: `c` is a valid NUL-terminated string.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
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
