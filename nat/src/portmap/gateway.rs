//! Finding the default gateway from the kernel's routing tables as Linux
//! prints them in `/proc/net/route` (IPv4) and `/proc/net/ipv6_route`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `RTF_UP`: the route is usable.
const RTF_UP: u32 = 0x1;
/// `RTF_GATEWAY`: the route goes through a gateway.
const RTF_GATEWAY: u32 = 0x2;
/// `RTF_REJECT`: an unreachable route.
const RTF_REJECT: u32 = 0x200;

/// A default route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute<A> {
    /// The gateway's address.
    pub gateway: A,
    /// The interface it is reached through.
    pub interface: String,
    /// The route's metric (lowest wins).
    pub metric: u32,
}

/// The IPv4 default route with the lowest metric, from the text of
/// `/proc/net/route`. Malformed lines are skipped.
pub fn default_ipv4(route_table: &str) -> Option<DefaultRoute<Ipv4Addr>> {
    route_table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = u32::from_str_radix(f[1], 16).ok()?;
            let gateway = u32::from_str_radix(f[2], 16).ok()?;
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            let metric = f[6].parse().ok()?;
            let mask = u32::from_str_radix(f[7], 16).ok()?;
            let up = flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY;
            // The kernel prints the address as the u32 in host order.
            let gateway = Ipv4Addr::from(gateway.to_ne_bytes());
            (dest == 0 && mask == 0 && up && !gateway.is_unspecified()).then(|| DefaultRoute {
                gateway,
                interface: f[0].to_owned(),
                metric,
            })
        })
        .min_by_key(|r| r.metric)
}

/// The IPv6 default route with the lowest metric, from the text of
/// `/proc/net/ipv6_route`. Malformed lines are skipped.
pub fn default_ipv6(route_table: &str) -> Option<DefaultRoute<Ipv6Addr>> {
    route_table
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let dest = hex128(f[0])?;
            let plen = u8::from_str_radix(f[1], 16).ok()?;
            let next_hop = hex128(f[4])?;
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            let usable =
                flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY && flags & RTF_REJECT == 0;
            (dest.is_unspecified() && plen == 0 && usable && !next_hop.is_unspecified()).then(
                || DefaultRoute {
                    gateway: next_hop,
                    interface: f[9].to_owned(),
                    metric,
                },
            )
        })
        .min_by_key(|r| r.metric)
}

fn hex128(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_v4(a: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(a.octets()))
    }

    #[test]
    fn picks_the_default_route_with_the_lowest_metric() {
        let gw1 = hex_v4(Ipv4Addr::new(198, 18, 1, 1));
        let gw2 = hex_v4(Ipv4Addr::new(198, 18, 9, 1));
        let table = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t00000000\t{gw2}\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
             eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             eth1\t00000000\t{gw1}\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             garbage line\n"
        );
        let r = default_ipv4(&table).unwrap();
        assert_eq!(r.gateway, Ipv4Addr::new(198, 18, 1, 1));
        assert_eq!((r.interface.as_str(), r.metric), ("eth1", 100));
    }

    #[test]
    fn no_default_route() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t0012A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(default_ipv4(table), None);
        assert_eq!(default_ipv4(""), None);
    }

    #[test]
    fn ipv6_default_route() {
        let table = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0
20010db8000200000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo
";
        let r = default_ipv6(table).unwrap();
        assert_eq!(r.gateway, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(r.interface, "eth0");
        assert_eq!(r.metric, 0x400);
    }
}
