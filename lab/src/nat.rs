//! NAT behaviours (RFC 4787 terms), and the nftables rulesets that make the
//! Linux kernel behave as named.
//!
//! Every router gets one table, `ip lab`, with (all but the stock Linux
//! router, which has only the NAT chain) a `forward` filter chain
//! (policy drop: the LAN may go out, replies of tracked connections come
//! back with `ct state established,related`), an `input` chain that drops
//! unsolicited UDP from the WAN to the router itself, as home routers'
//! firewalls do (except from STUN ports 3478 and 3479: a router running
//! miniupnpd checks its WAN with STUN, whose answers to a change request
//! come from another address), and a `postrouting` NAT chain. (Without that input rule a
//! packet from outside to the router's own address and port is tracked and
//! kept, and when an inside host then sends to that very sender from that
//! port, source NAT must pick another external port to keep the 5-tuples
//! apart: the router turns symmetric for exactly the packets that hole
//! punching depends on.)
//! Two properties of Linux NAT underlie every kind:
//!
//! * **Mapping.** Source NAT keeps the internal source port whenever the
//!   translated 5-tuple is unique, that is unless another connection
//!   already uses that external port toward the same remote address and
//!   port. One internal endpoint therefore keeps one external endpoint
//!   whatever the destination: endpoint-independent mapping in practice
//!   (the probe sees internal port 40001 leave as 40001 toward every
//!   destination).
//! * **Filtering.** A packet from the internet reaches the LAN only if it
//!   matches the reply direction of a tracked connection, that is if it
//!   comes from exactly the address and port the internal endpoint sent to:
//!   address-and-port-dependent filtering. Anything else is addressed to
//!   the router itself, which has no socket there.
//!
//! | kind | mapping | filtering | built with |
//! |---|---|---|---|
//! | [`NatKind::FullCone`] | independent | independent | `masquerade` + DNAT through a map of live mappings |
//! | [`NatKind::RestrictedCone`] | independent | address | as full cone, DNAT only from contacted addresses |
//! | [`NatKind::PortRestrictedCone`] | independent | address and port | `masquerade` |
//! | [`NatKind::SymmetricRandom`] | address and port | address and port | `masquerade random` |
//! | [`NatKind::SymmetricFullyRandom`] | address and port | address and port | `masquerade fully-random` |
//! | [`NatKind::SymmetricSequential`] | address and port | address and port | `snat to WAN:numgen inc mod 1000 map {…}` |
//! | [`NatKind::UdpBlocked`] | — | — | `masquerade`, `meta l4proto udp drop` |
//! | [`NatKind::StockLinux`] | independent, until a clash | address and port | `masquerade`, no filter chains |
//!
//! * **Port-restricted cone**: plain `masquerade`; both properties as they
//!   are.
//! * **Full cone**: masquerading, plus a dynamic map `mappings` from
//!   external port to internal address and port. A filter chain on
//!   postrouting at priority `srcnat + 10`, where source NAT has already
//!   rewritten the packet so `udp sport` is the external port, records every
//!   outbound UDP packet of a connection started from the LAN (`ct direction
//!   original`): `update @mappings { udp sport : ct original ip saddr . ct
//!   original proto-src }`. In prerouting (`dstnat`), a UDP packet from the
//!   WAN that belongs to no connection is sent to the internal endpoint by
//!   `dnat ip to udp dport map @mappings`, whoever sent it, and `forward`
//!   accepts it (`ct status dnat`). The reply to it leaves through the same
//!   external port, since it is the reply direction of the new connection.
//!   Entries expire 5 minutes after the last outbound packet.
//! * **Restricted cone**: as full cone, plus a dynamic set `contacted` of
//!   (external port, remote address) filled by the same chain (`update
//!   @contacted { udp sport . ip daddr }`); the DNAT applies only to packets
//!   with `udp dport . ip saddr @contacted`. An address the internal
//!   endpoint has sent to gets in from any of its ports; other addresses do
//!   not.
//! * **Symmetric, random** and **fully random**: `masquerade random`
//!   (`NF_NAT_RANGE_PROTO_RANDOM`) and `masquerade fully-random`
//!   (`NF_NAT_RANGE_PROTO_RANDOM_FULLY`) make the kernel skip the "keep the
//!   source port if unique" step and choose a port for every new connection
//!   (`random` was defined as starting the search at a keyed hash of source
//!   address, destination address and port, `fully-random` at a random
//!   number). A connection being a 5-tuple, every new remote address or port
//!   gets its own external port. From outside, on this kernel, the two look
//!   the same: a random port per destination.
//! * **Symmetric, sequential**: nftables can do it. The NAT chain sees only
//!   the first packet of each connection, so `snat ip to WAN:numgen inc mod
//!   1000 map { 0 : 20000, 1 : 20001, … }` gives each new UDP mapping (any
//!   host, any destination) the next port from 20000, wrapping after 1000;
//!   other protocols are masqueraded. The kernel itself cannot do this any
//!   more: without the random flags it keeps the source port when it can
//!   and otherwise picks a random one. `numgen inc … offset 20000` (no map)
//!   is accepted but wrong: nft hands the counter to the NAT expression in
//!   host byte order while a port is read in network byte order, so
//!   successive mappings land 256 ports apart (seen: 8526, 8782, 9038). A
//!   port still in use toward the same remote endpoint after a wrap is not
//!   skipped; that connection's first packet is lost in a conntrack clash.
//! * **UDP blocked**: masquerading, with `iifname "lan0" meta l4proto udp
//!   drop` first in `forward`; ICMP and TCP still get through.
//! * **Stock Linux**: the most common home router there is, a Linux box
//!   with `masquerade` and nothing else: no `forward` or `input` filter, so
//!   the router itself takes every unsolicited packet from the WAN, and
//!   conntrack keeps an entry for it (30 s unreplied, by default). That is
//!   the clash the other kinds' `input` rule avoids: when two members punch
//!   at once and the other side's probe reaches this router first, the
//!   member's own probe to that very endpoint can no longer keep its port,
//!   and source NAT picks another one. Toward that endpoint the router is
//!   then symmetric, for as long as the entry lives (each further probe
//!   from the other side refreshes it).
//!
//! Options a router can add to its kind:
//!
//! * **Hairpinning** ([`hairpin_rules`], [`NatRouter::enable_hairpinning`](crate::NatRouter::enable_hairpinning)):
//!   a packet from the LAN to the router's own WAN address and a live
//!   external port goes back into the LAN, to the internal endpoint behind
//!   that port, with its source rewritten to the WAN address (RFC 4787
//!   REQ-9), so that two hosts behind one NAT reach each other at their
//!   public endpoints. A table `ip hairpin` of its own: a dynamic map of
//!   live UDP mappings filled as the full cone's is, a `dstnat` chain that
//!   sends `iifname "lan0" ip daddr WAN` UDP to the mapped endpoint, and a
//!   `srcnat` chain with `iifname "lan0" oifname "lan0" ct status dnat snat
//!   ip to WAN` (the source port is kept when free, which for Linux
//!   masquerading is also the sender's external port). Hairpinned packets
//!   are filtered independently of the endpoint (any LAN host may reach a
//!   live mapping); replies follow the connection back.
//! * **Short mapping timeout** ([`NatRouter::set_udp_timeout`](crate::NatRouter::set_udp_timeout)): conntrack's
//!   `nf_conntrack_udp_timeout` and `nf_conntrack_udp_timeout_stream`,
//!   which are per network namespace, set in the router's namespace: a
//!   mapping with no packet for that long is gone. (The cone kinds' own
//!   maps keep their 5 minutes.)
//! * **IPv6 behind a stateful firewall** ([`ipv6_firewall`],
//!   [`Internet::add_dual_stack_nat`](crate::Internet::add_dual_stack_nat)): the router also routes a global /64
//!   to its LAN, without translation, and a table `ip6 lab6` lets out what
//!   the LAN sends and lets in only what belongs to it (`ct state
//!   established,related accept`, policy drop): the firewall of a typical
//!   IPv6 home router.
//!
//! Not used: `persistent` (`NF_NAT_RANGE_PERSISTENT`) only gives a client the
//! same source address across connections when the NAT has a range of
//! several; every router here has one WAN address.
//!
//! Limits: Linux may give two LAN hosts that use the same internal port
//! toward different remote endpoints the same external port ("port
//! overloading"); the cone map then knows only the latest. Tests give
//! each host its own port. The cone filtering rules cover UDP only; TCP and
//! ICMP filter as the kernel does (address and port dependent).

use std::net::Ipv4Addr;

/// How a NAT router maps and filters (RFC 4787 terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// Endpoint-independent mapping and filtering ("full cone").
    FullCone,
    /// Endpoint-independent mapping, address-dependent filtering
    /// ("restricted cone").
    RestrictedCone,
    /// Endpoint-independent mapping, address-and-port-dependent filtering
    /// ("port-restricted cone"): plain Linux masquerading.
    PortRestrictedCone,
    /// Address-and-port-dependent mapping with ports from `masquerade
    /// random` ("symmetric").
    SymmetricRandom,
    /// Address-and-port-dependent mapping with ports from `masquerade
    /// fully-random` ("symmetric").
    SymmetricFullyRandom,
    /// Address-and-port-dependent mapping with successive ports for
    /// successive mappings ("symmetric, sequential").
    SymmetricSequential,
    /// Masquerading with every UDP packet from the LAN dropped.
    UdpBlocked,
    /// A stock Linux router: plain `masquerade` and no filter at all, so
    /// that unsolicited packets to its own address are tracked, and a
    /// punch toward their sender may leave from another port
    /// (port-restricted cone, until such a clash).
    StockLinux,
}

/// Name of the nftables table holding a router's NAT.
pub const TABLE: &str = "lab";

/// First external port of [`NatKind::SymmetricSequential`].
pub const SEQUENTIAL_FIRST_PORT: u16 = 20000;

/// Number of external ports [`NatKind::SymmetricSequential`] cycles through.
pub const SEQUENTIAL_PORTS: u16 = 1000;

/// How long the cone NATs remember a mapping after its last outbound packet.
const MAPPING_TIMEOUT: &str = "5m";

/// The ruleset (for `nft -f`) of a router of `kind` whose WAN address is
/// `wan`, WAN interface `wan0` and LAN bridge `lan0`.
pub fn ruleset(kind: NatKind, wan: Ipv4Addr) -> String {
    if kind == NatKind::StockLinux {
        return format!(
            "table ip {TABLE} {{\n\
             \x20   chain postrouting {{\n\
             \x20       type nat hook postrouting priority srcnat; policy accept;\n\
             \x20       oifname \"wan0\" masquerade\n\
             \x20   }}\n\
             }}\n"
        );
    }
    let udp_drop = if kind == NatKind::UdpBlocked {
        "        iifname \"lan0\" meta l4proto udp counter drop\n"
    } else {
        ""
    };
    let (inbound_accept, cone) = match kind {
        NatKind::FullCone => (INBOUND_ACCEPT, cone_rules(false)),
        NatKind::RestrictedCone => (INBOUND_ACCEPT, cone_rules(true)),
        _ => ("", String::new()),
    };
    let snat = match kind {
        NatKind::SymmetricRandom => "        oifname \"wan0\" masquerade random\n".to_owned(),
        NatKind::SymmetricFullyRandom => {
            "        oifname \"wan0\" masquerade fully-random\n".to_owned()
        }
        NatKind::SymmetricSequential => format!(
            "        oifname \"wan0\" meta l4proto udp snat ip to {wan}:numgen inc mod {SEQUENTIAL_PORTS} map {{ {} }}\n\
             \x20       oifname \"wan0\" masquerade\n",
            sequential_port_map()
        ),
        _ => "        oifname \"wan0\" masquerade\n".to_owned(),
    };
    format!(
        "table ip {TABLE} {{\n\
         \x20   chain forward {{\n\
         \x20       type filter hook forward priority filter; policy drop;\n\
         \x20       ct state established,related accept\n\
         {udp_drop}\
         \x20       iifname \"lan0\" oifname \"wan0\" accept\n\
         {inbound_accept}\
         \x20   }}\n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy accept;\n\
         \x20       iifname \"wan0\" ct state established,related accept\n\
         \x20       iifname \"wan0\" udp sport {{ 3478, 3479 }} accept\n\
         \x20       iifname \"wan0\" meta l4proto udp drop\n\
         \x20   }}\n\
         \x20   chain postrouting {{\n\
         \x20       type nat hook postrouting priority srcnat; policy accept;\n\
         {snat}\
         \x20   }}\n\
         {cone}\
         }}\n"
    )
}

/// Name of the nftables table of a router's hairpinning.
pub const HAIRPIN_TABLE: &str = "hairpin";

/// Name of the nftables table of a router's IPv6 firewall.
pub const IPV6_TABLE: &str = "lab6";

/// The rules (for `nft -f`, on top of [`ruleset`]) that make a router of
/// `kind` whose WAN address is `wan` hairpin UDP: from the LAN to a live
/// external port and back into the LAN, from the WAN address.
pub fn hairpin_rules(kind: NatKind, wan: Ipv4Addr) -> String {
    // Kinds with a forward filter must let the hairpinned packets through
    // it: appended, so ahead of the chain's drop policy.
    let forward = if kind == NatKind::StockLinux {
        String::new()
    } else {
        format!(
            "add rule ip {TABLE} forward iifname \"lan0\" oifname \"lan0\" ct status dnat accept\n"
        )
    };
    format!(
        "{forward}\
         table ip {HAIRPIN_TABLE} {{\n\
         \x20   map mappings {{\n\
         \x20       type inet_service : ipv4_addr . inet_service\n\
         \x20       flags dynamic,timeout\n\
         \x20       timeout {MAPPING_TIMEOUT}\n\
         \x20   }}\n\
         \x20   chain record {{\n\
         \x20       type filter hook postrouting priority srcnat + 10; policy accept;\n\
         \x20       oifname \"wan0\" meta l4proto udp ct direction original update @mappings {{ udp sport : ct original ip saddr . ct original proto-src }}\n\
         \x20   }}\n\
         \x20   chain prerouting {{\n\
         \x20       type nat hook prerouting priority dstnat; policy accept;\n\
         \x20       iifname \"lan0\" ip daddr {wan} meta l4proto udp dnat ip to udp dport map @mappings\n\
         \x20   }}\n\
         \x20   chain postrouting {{\n\
         \x20       type nat hook postrouting priority srcnat; policy accept;\n\
         \x20       iifname \"lan0\" oifname \"lan0\" ct status dnat snat ip to {wan}\n\
         \x20   }}\n\
         }}\n"
    )
}

/// The IPv6 firewall of a dual-stack router (for `nft -f`): what the LAN
/// sends goes out, and only what belongs to it comes in.
pub fn ipv6_firewall() -> String {
    format!(
        "table ip6 {IPV6_TABLE} {{\n\
         \x20   chain forward {{\n\
         \x20       type filter hook forward priority filter; policy drop;\n\
         \x20       ct state established,related accept\n\
         \x20       iifname \"lan0\" oifname \"wan0\" accept\n\
         \x20       counter comment \"unsolicited from the WAN\"\n\
         \x20   }}\n\
         }}\n"
    )
}

const INBOUND_ACCEPT: &str = "        iifname \"wan0\" oifname \"lan0\" ct status dnat accept\n";

/// Maps and chains that forward inbound UDP to the internal endpoint
/// behind an external port: from anyone, or only from addresses the
/// internal endpoint has sent to (`restricted`).
fn cone_rules(restricted: bool) -> String {
    let (contacted_set, record_contacted, match_contacted) = if restricted {
        (
            format!(
                "    set contacted {{\n\
                 \x20       type inet_service . ipv4_addr\n\
                 \x20       flags dynamic,timeout\n\
                 \x20       timeout {MAPPING_TIMEOUT}\n\
                 \x20   }}\n"
            ),
            "        oifname \"wan0\" meta l4proto udp ct direction original update @contacted { udp sport . ip daddr }\n",
            "udp dport . ip saddr @contacted ",
        )
    } else {
        (String::new(), "", "")
    };
    format!(
        "    map mappings {{\n\
         \x20       type inet_service : ipv4_addr . inet_service\n\
         \x20       flags dynamic,timeout\n\
         \x20       timeout {MAPPING_TIMEOUT}\n\
         \x20   }}\n\
         {contacted_set}\
         \x20   chain record {{\n\
         \x20       type filter hook postrouting priority srcnat + 10; policy accept;\n\
         \x20       oifname \"wan0\" meta l4proto udp ct direction original update @mappings {{ udp sport : ct original ip saddr . ct original proto-src }}\n\
         {record_contacted}\
         \x20   }}\n\
         \x20   chain prerouting {{\n\
         \x20       type nat hook prerouting priority dstnat; policy accept;\n\
         \x20       iifname \"wan0\" meta l4proto udp {match_contacted}dnat ip to udp dport map @mappings\n\
         \x20   }}\n"
    )
}

/// `0 : 20000, 1 : 20001, …`: the counter-to-port map of the sequential NAT.
///
/// A map, not `numgen inc mod N offset 20000`: nft hands the counter to
/// the NAT expression in host byte order while the NAT reads a port in
/// network byte order, so successive counter values land 256 ports apart
/// (seen here: 8526, 8782, 9038). Map values are typed ports and are
/// stored in network byte order.
fn sequential_port_map() -> String {
    (0..SEQUENTIAL_PORTS)
        .map(|i| format!("{i} : {}", SEQUENTIAL_FIRST_PORT + i))
        .collect::<Vec<_>>()
        .join(", ")
}
