//! A NAT router that offers port mapping: Debian's miniupnpd (the
//! nftables build) on its LAN, with UPnP IGD, NAT-PMP and PCP.
//!
//! miniupnpd refuses to map while its WAN address is a reserved one, and
//! every lab address is (documentation ranges). It accepts one once a STUN
//! server has shown that the address is its own and unfiltered
//! (`ext_perform_stun`; four Binding requests with and without
//! CHANGE-REQUEST, so the server needs two addresses), so the gateway comes
//! with its own coturn on a public host.
//!
//! nftables: miniupnpd adds rules to chains it expects to exist. They are
//! created in a table of their own, `inet miniupnpd`: a `forward` filter
//! chain that jumps to `miniupnpd`, and `prerouting`/`postrouting` NAT
//! chains that jump to `prerouting_miniupnpd`/`postrouting_miniupnpd`.
//! A packet must be accepted by every table's forward chain, and the lab's
//! own (`ip lab`, policy drop) lets in from the WAN only replies; one rule
//! is added there to let DNAT'ed packets through as well, which only the
//! mappings produce on a router whose NAT kind has no DNAT of its own.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::lab::nat::TABLE;
use crate::lab::router::{NatRouter, LAN_BRIDGE, WAN_IFACE};
use crate::process::{describe, Process};
use crate::tempdir::TempDir;
use crate::wait;

/// The nftables table that holds miniupnpd's chains.
pub const UPNP_TABLE: &str = "miniupnpd";

/// How long the daemons may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// What miniupnpd prints once it serves NAT-PMP and PCP (its last step).
const READY_LINE: &str = "Listening for NAT-PMP/PCP traffic";

/// What it prints once STUN has shown the WAN address usable.
const ENABLED_LINE: &str = "Port forwarding is now enabled";

/// miniupnpd running on a router.
#[derive(Debug)]
pub struct Miniupnpd {
    process: Process,
    router_ns: std::sync::Arc<crate::netns::Netns>,
    wan: Ipv4Addr,
    dir: TempDir,
}

impl Miniupnpd {
    /// Starts miniupnpd in the foreground on `router`: LAN side `lan0`,
    /// WAN side `wan0`, UPnP, NAT-PMP and PCP on, mappings of ports
    /// 1024-65535 for the router's LAN only, the external address learnt
    /// from `stun`.
    pub fn start(router: &NatRouter, stun: SocketAddr) -> Result<Self> {
        let ns = router.ns();
        let dir = TempDir::new("miniupnpd")?;
        let rules = format!(
            "table inet {UPNP_TABLE} {{\n\
             \x20   chain forward {{ type filter hook forward priority filter; policy accept; jump miniupnpd; }}\n\
             \x20   chain miniupnpd {{ }}\n\
             \x20   chain prerouting {{ type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }}\n\
             \x20   chain postrouting {{ type nat hook postrouting priority srcnat; policy accept; jump postrouting_miniupnpd; }}\n\
             \x20   chain prerouting_miniupnpd {{ }}\n\
             \x20   chain postrouting_miniupnpd {{ }}\n\
             }}\n\
             add rule ip {TABLE} forward iifname \"{WAN_IFACE}\" oifname \"{LAN_BRIDGE}\" ct status dnat accept\n"
        );
        let rules_path = dir.path().join("miniupnpd.nft");
        std::fs::write(&rules_path, &rules)?;
        ns.exec_ok(&["nft", "-f", &rules_path.display().to_string()])
            .with_context(|| format!("loading\n{rules}"))?;
        let conf = format!(
            "ext_ifname={WAN_IFACE}\n\
             listening_ip={LAN_BRIDGE}\n\
             http_port=0\n\
             enable_upnp=yes\n\
             enable_natpmp=yes\n\
             secure_mode=yes\n\
             system_uptime=no\n\
             ipv6_disable=yes\n\
             ext_perform_stun=yes\n\
             ext_stun_host={}\n\
             ext_stun_port={}\n\
             upnp_table_name={UPNP_TABLE}\n\
             upnp_nat_table_name={UPNP_TABLE}\n\
             uuid=3b3d4a1e-7e55-4e1a-8000-000000000001\n\
             allow 1024-65535 {} 1024-65535\n\
             deny 0-65535 0.0.0.0/0 0-65535\n",
            stun.ip(),
            stun.port(),
            router.lan_subnet(),
        );
        let conf_path = dir.path().join("miniupnpd.conf");
        std::fs::write(&conf_path, conf)?;
        let mut cmd = ns.command("miniupnpd");
        cmd.args(["-d", "-f", &conf_path.display().to_string()])
            .args([
                "-P",
                &dir.path().join("miniupnpd.pid").display().to_string(),
            ]);
        let mut process = Process::spawn(cmd, "miniupnpd", dir.path())?;
        wait::poll("miniupnpd to serve", START_TIMEOUT, || {
            if let Some(s) = process.try_status()? {
                bail!("miniupnpd exited ({}): {}", describe(s), process.stderr());
            }
            Ok(process.stderr().contains(READY_LINE).then_some(()))
        })?;
        let log = process.stderr();
        if !log.contains(ENABLED_LINE) {
            bail!("miniupnpd did not enable port forwarding:\n{log}");
        }
        Ok(Self {
            process,
            router_ns: std::sync::Arc::clone(ns),
            wan: router.wan_addr(),
            dir,
        })
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.process.stderr()
    }

    /// Where its files are.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The UDP port forwards it holds, as (external port, internal
    /// address, internal port), read from its nftables chain.
    pub fn udp_forwards(&self) -> Result<Vec<(u16, SocketAddr)>> {
        let out = self.router_ns.exec_ok(&[
            "nft",
            "list",
            "chain",
            "inet",
            UPNP_TABLE,
            "prerouting_miniupnpd",
        ])?;
        Ok(parse_forwards(&out))
    }

    /// The external address of its mappings (the router's WAN address).
    pub fn external_ip(&self) -> Ipv4Addr {
        self.wan
    }
}

/// Reads `… 0x11 th dport P dnat ip to A:Q` rules (0x11 is UDP).
fn parse_forwards(chain: &str) -> Vec<(u16, SocketAddr)> {
    chain
        .lines()
        .filter(|l| l.contains("0x11") && l.contains("dnat"))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let dport = words.iter().position(|w| *w == "dport")?;
            let port = words.get(dport + 1)?.parse().ok()?;
            let to = words.iter().position(|w| *w == "to")?;
            let target = words.get(to + 1)?.parse().ok()?;
            Some((port, target))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_miniupnpd_rules() {
        let chain = "table inet miniupnpd {\n\tchain prerouting_miniupnpd {\n\
                     \t\tiif \"wan0\" @nh,72,8 0x11 th dport 9740 dnat ip to 198.18.1.2:9740\n\
                     \t\tiif \"wan0\" @nh,72,8 0x6 th dport 80 dnat ip to 198.18.1.3:80\n\t}\n}\n";
        assert_eq!(
            parse_forwards(chain),
            vec![(9740, "198.18.1.2:9740".parse().unwrap())]
        );
        assert!(parse_forwards("").is_empty());
    }
}
