//! Whether a datagram on the discovery port comes from one of the node's
//! LANs. Beacons are multicast with a TTL (hop limit) of 1, so a member's
//! beacon always does; one from elsewhere was sent to the discovery port
//! from afar, and the node drops it (counted) without looking further.

use std::net::{IpAddr, SocketAddr};

use super::interfaces::Interface;

/// Whether `from` is on a LAN of `interfaces`: an IPv6 link-local source
/// must have come in on one of them (its scope is the interface it
/// arrived on); any other source must be inside one of their subnets.
pub(crate) fn on_link(from: SocketAddr, interfaces: &[Interface]) -> bool {
    let ip = from.ip().to_canonical();
    if let (IpAddr::V6(a), SocketAddr::V6(f)) = (ip, from) {
        if a.is_unicast_link_local() {
            return interfaces.iter().any(|i| i.ipv6 && i.index == f.scope_id());
        }
    }
    interfaces
        .iter()
        .flat_map(|i| &i.subnets)
        .any(|&(net, prefix)| contains(net, prefix, ip))
}

/// Whether `ip` is inside the subnet of `net`/`prefix` (of its family).
fn contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            n.to_bits() & mask == a.to_bits() & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            n.to_bits() & mask == a.to_bits() & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan(index: u32, ipv6: bool, subnets: &[(&str, u8)]) -> Interface {
        Interface {
            name: format!("eth{index}"),
            index,
            ipv4: None,
            ipv6,
            subnets: subnets
                .iter()
                .map(|(a, p)| (a.parse().unwrap(), *p))
                .collect(),
        }
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sources_on_a_subnet_of_a_lan_are_on_link() {
        let lans = [
            lan(2, true, &[("198.18.1.10", 24), ("2001:db8:1::10", 64)]),
            lan(3, false, &[("198.18.7.1", 30)]),
        ];
        assert!(on_link(at("198.18.1.3:9741"), &lans));
        assert!(on_link(at("198.18.1.255:9741"), &lans));
        assert!(on_link(at("198.18.7.2:9741"), &lans));
        assert!(on_link(at("[::ffff:198.18.1.4]:9741"), &lans));
        assert!(on_link(at("[2001:db8:1::99]:9741"), &lans));

        assert!(!on_link(at("198.18.2.3:9741"), &lans));
        assert!(!on_link(at("198.18.7.5:9741"), &lans));
        assert!(!on_link(at("203.0.113.9:9741"), &lans));
        assert!(!on_link(at("[2001:db8:2::99]:9741"), &lans));
        assert!(!on_link(at("[::ffff:203.0.113.9]:9741"), &lans));
    }

    #[test]
    fn link_local_sources_must_come_in_on_a_lan() {
        let lans = [lan(2, true, &[]), lan(3, false, &[("198.18.7.1", 24)])];
        assert!(on_link(at("[fe80::3%2]:9741"), &lans));
        // Index 3 has no IPv6, 9 is no LAN of ours, 0 is no interface.
        assert!(!on_link(at("[fe80::3%3]:9741"), &lans));
        assert!(!on_link(at("[fe80::3%9]:9741"), &lans));
        assert!(!on_link(at("[fe80::3]:9741"), &lans));
    }

    #[test]
    fn no_lans_nothing_on_link_and_odd_prefixes_hold() {
        assert!(!on_link(at("198.18.1.3:9741"), &[]));
        // A /0 holds everything of its family, a /32 one address.
        let all = [lan(2, false, &[("198.18.1.10", 0)])];
        assert!(on_link(at("203.0.113.9:9741"), &all));
        assert!(!on_link(at("[2001:db8::1]:9741"), &all));
        let one = [lan(2, false, &[("198.18.1.10", 32)])];
        assert!(on_link(at("198.18.1.10:9741"), &one));
        assert!(!on_link(at("198.18.1.11:9741"), &one));
    }
}
