//! At start in TUN mode: is the overlay's IPv4 range (`--ipv4-range`, by
//! default `100.64.0.0/10`) already routed elsewhere, as another VPN or a
//! carrier-grade NAT's shared address space does? Then packets for some
//! members would leave by that route, so the node says so in its log.

use std::net::Ipv4Addr;

use crate::identity::address::Ipv4Range;

/// A route of the kernel's main IPv4 table that overlaps the overlay range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clash {
    /// The interface the route leads to.
    pub(crate) interface: String,
    /// Its destination.
    pub(crate) destination: Ipv4Addr,
    /// Its prefix length.
    pub(crate) prefix_len: u8,
}

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} dev {}",
            self.destination, self.prefix_len, self.interface
        )
    }
}

/// The routes in `table` (the text of `/proc/net/route`) that overlap
/// `range`, other than the default route and routes to `own` (our
/// interface, if one is left from before).
pub(crate) fn overlapping(table: &str, own: &str, range: &Ipv4Range) -> Vec<Clash> {
    let range_len = range.prefix_len();
    table
        .lines()
        .skip(1)
        .filter_map(parse_line)
        .filter(|c| c.prefix_len > 0 && c.interface != own)
        .filter(|c| {
            // Two prefixes overlap when the shorter one contains the other.
            let len = c.prefix_len.min(range_len);
            same_prefix(c.destination, range.base(), len)
        })
        .collect()
}

/// Reads the main IPv4 table and logs a warning per route that overlaps
/// `range`.
pub(crate) fn warn_if_routed_elsewhere(own: &str, range: &Ipv4Range) {
    let Ok(table) = std::fs::read_to_string("/proc/net/route") else {
        return;
    };
    for clash in overlapping(&table, own, range) {
        tracing::warn!(
            route = %clash,
            "the overlay IPv4 range {range} is already routed here (another VPN, or a carrier-grade NAT's shared space?): \
             packets for members whose IPv4 address it covers may take that route; reach them by their overlay IPv6 address, \
             remove the other route, or give the whole network another range with --ipv4-range (ipv4-range in the config file), \
             e.g. --ipv4-range 10.213.0.0/16"
        );
    }
}

/// One line of `/proc/net/route`: interface, destination, …, mask, with
/// addresses as the kernel's hex of the address in network order read as
/// a native integer.
fn parse_line(line: &str) -> Option<Clash> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let interface = (*fields.first()?).to_owned();
    let destination = Ipv4Addr::from(u32::from_str_radix(fields.get(1)?, 16).ok()?.to_ne_bytes());
    let mask = u32::from_be_bytes(u32::from_str_radix(fields.get(7)?, 16).ok()?.to_ne_bytes());
    if mask.leading_ones() + mask.trailing_zeros() != 32 {
        return None;
    }
    Some(Clash {
        interface,
        destination,
        prefix_len: mask.leading_ones() as u8,
    })
}

fn same_prefix(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table as a little-endian machine prints it.
    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
ts0\t00004064\t00000000\t0001\t0\t0\t0\t0000C0FF\t0\t0\t0
wg0\t0A0B4064\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0
big\t00000064\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0
near\t00008064\t00000000\t0001\t0\t0\t0\t0000C0FF\t0\t0\t0
tessel0\t00004064\t00000000\t0001\t0\t0\t0\t0000C0FF\t0\t0\t0
bad\tzz\t00000000\t0001\t0\t0\t0\t0000C0FF\t0\t0\t0
";

    #[test]
    fn routes_inside_around_or_equal_to_the_range_clash_and_others_do_not() {
        if cfg!(target_endian = "big") {
            return;
        }
        let found = overlapping(TABLE, "tessel0", &Ipv4Range::DEFAULT);
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "100.64.0.0/10 dev ts0",
                "100.64.11.10/32 dev wg0",
                "100.0.0.0/8 dev big",
            ]
        );
        // 100.128.0.0/10 is next to the range, not in it; the default
        // route and the LAN are not counted; our own interface neither.
        assert!(overlapping(TABLE, "ts0", &Ipv4Range::DEFAULT)
            .iter()
            .all(|c| c.interface != "ts0"));
        assert!(overlapping("", "x", &Ipv4Range::DEFAULT).is_empty());
    }

    #[test]
    fn another_range_clashes_with_its_own_routes_only() {
        if cfg!(target_endian = "big") {
            return;
        }
        // 100.128.0.0/10 is exactly "near"'s route; 100.0.0.0/8 covers it.
        let range: Ipv4Range = "100.128.0.0/10".parse().unwrap();
        let shown: Vec<String> = overlapping(TABLE, "tessel0", &range)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["100.0.0.0/8 dev big", "100.128.0.0/10 dev near"]);
        let apart: Ipv4Range = "10.213.0.0/16".parse().unwrap();
        assert!(overlapping(TABLE, "tessel0", &apart).is_empty());
    }
}
