//! One node's view for its map, made from its status: the node itself with
//! its NAT, every member it has a live session with and how that session
//! carries traffic, and the pairs of other members whose frames it relays.
//! Links between other members that it does not carry are not known here,
//! and none are made up.

use std::time::{Duration, Instant};

use super::snapshot::{nat_kind, Link, LinkKind, MapSnapshot, Member, Nat, View, ViewKind};
use crate::identity::NodeId;
use crate::limits::PERSISTENT_KEEPALIVE;
use crate::node::{Node, PeerStatus, Status};

/// A member silent for this long is left off the map: a live one sends at
/// least a keepalive every [`PERSISTENT_KEEPALIVE`] (25 s), so this much
/// silence means it stopped or its path died.
pub const SILENT_AFTER: Duration = Duration::from_secs(PERSISTENT_KEEPALIVE.as_secs() + 10);

/// A relayed pair counts as carried while a frame of it crossed this node
/// within this long (a relayed session sends at least a keepalive every
/// 25 s).
pub const CARRIED_WITHIN: Duration = Duration::from_secs(PERSISTENT_KEEPALIVE.as_secs() + 5);

/// What the page says about a node's view.
const NOTE: &str = "Seen by this node: its own sessions (direct, relayed or TCP, with RTT \
                    and traffic) and the pairs of members it relays for. Links between \
                    other members are not known here.";

/// The map of `node` at `now`.
pub fn node_snapshot_of(node: &Node, now: Instant) -> MapSnapshot {
    node_snapshot(&node.status(now), &node.relayed_pairs(now, CARRIED_WITHIN))
}

/// The map of the node whose status is `status`, with the pairs of other
/// members whose frames it relayed lately (`carried`).
pub fn node_snapshot(status: &Status, carried: &[(NodeId, NodeId)]) -> MapSnapshot {
    let live: Vec<&PeerStatus> = status.peers.iter().filter(|p| is_live(p)).collect();
    let mut members = vec![Member {
        id: status.node_id.clone(),
        name: status.name.as_ref().map(|n| n.name.clone()),
        this_node: true,
        ipv4: Some(status.ipv4.clone()),
        ipv6: Some(status.ipv6.clone()),
        nat: Some(Nat {
            kind: nat_kind(&status.nat.mapping, &status.nat.allocation),
            mapping: status.nat.mapping.clone(),
            allocation: status.nat.allocation.clone(),
            reflexive: status.nat.reflexive_addresses.clone(),
            port_mapping: status.port_mapping.as_ref().map(|m| m.external.to_string()),
        }),
    }];
    members.extend(live.iter().map(|p| Member {
        id: p.node_id.clone(),
        name: p.name.clone(),
        this_node: false,
        ipv4: p.ipv4.clone(),
        ipv6: Some(p.ipv6.clone()),
        nat: None,
    }));
    let mut links: Vec<Link> = live
        .iter()
        .filter_map(|p| own_link(&status.node_id, p))
        .collect();
    let drawn = |id: &str| members.iter().any(|m| m.id == id);
    for (a, b) in carried {
        let (a, b) = (a.to_string(), b.to_string());
        if drawn(&a) && drawn(&b) {
            links.push(Link {
                a,
                b,
                kind: LinkKind::Relay,
                via: Some(status.node_id.clone()),
                rtt_ms: None,
                rx_bytes: None,
                tx_bytes: None,
                endpoint: None,
                carried: true,
            });
        }
    }
    MapSnapshot {
        view: View {
            kind: ViewKind::Node,
            centre: Some(status.node_id.clone()),
            note: NOTE.to_owned(),
        },
        silent_members: status.peers.len() - live.len(),
        members,
        links,
        story: Vec::new(),
    }
}

/// Whether a member has a usable session that it spoke on lately.
fn is_live(p: &PeerStatus) -> bool {
    p.connected
        && p.last_seen_ago_secs
            .is_some_and(|s| s < SILENT_AFTER.as_secs_f64())
}

/// The link of this node (`own`) to a live member, if the session has a
/// path.
fn own_link(own: &str, p: &PeerStatus) -> Option<Link> {
    let path = p.path.as_deref()?;
    let (kind, via) = match path.strip_prefix("relay ") {
        Some(via) => (LinkKind::Relay, Some(via.to_owned())),
        None if p.transport.as_deref() == Some("tcp") => (LinkKind::Tcp, None),
        None => (LinkKind::Direct, None),
    };
    let direct = kind != LinkKind::Relay;
    Some(Link {
        a: own.to_owned(),
        b: p.node_id.clone(),
        kind,
        via,
        rtt_ms: p.rtt_ms.filter(|_| direct),
        rx_bytes: Some(p.rx_bytes),
        tx_bytes: Some(p.tx_bytes),
        endpoint: p.endpoint.clone().filter(|_| direct),
        carried: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::NodeKey;
    use crate::node::NatStatus;

    fn id(n: u8) -> NodeId {
        NodeKey::from_seed([n; 32]).id()
    }

    fn peer(n: u8, path: Option<&str>, transport: &str, seen: f64) -> PeerStatus {
        PeerStatus {
            node_id: id(n).to_string(),
            ipv6: format!("fd00::{n}"),
            endpoint: Some(format!("192.0.2.{n}:9740")),
            rtt_ms: Some(1.5),
            path: path.map(str::to_owned),
            connected: path.is_some(),
            rx_bytes: 100,
            tx_bytes: 200,
            last_seen_ago_secs: Some(seen),
            transport: Some(transport.to_owned()),
            name: (n == 2).then(|| "two".to_owned()),
            ..PeerStatus::default()
        }
    }

    fn status(peers: Vec<PeerStatus>) -> Status {
        let mut s: Status = serde_json::from_value(serde_json::json!({
            "node_id": id(1).to_string(), "network_id": "n", "ipv6": "fd00::1",
            "ipv4": "100.64.0.1", "listen": "", "peers": [], "drops": {},
        }))
        .unwrap();
        s.peers = peers;
        s.nat = NatStatus {
            reflexive_addresses: vec!["203.0.113.1:9740".into()],
            mapping: "endpoint_independent".into(),
            allocation: "preserved".into(),
            ..NatStatus::default()
        };
        s
    }

    #[test]
    fn own_sessions_become_links_of_their_kind() {
        let relay = format!("relay {}", id(2));
        let s = status(vec![
            peer(2, Some("direct"), "udp", 1.0),
            peer(3, Some(&relay), "udp", 1.0),
            peer(4, Some("direct"), "tcp", 1.0),
            // Known, but silent for longer than a keepalive allows.
            peer(5, Some("direct"), "udp", 60.0),
            // Known, no session.
            peer(6, None, "udp", 1.0),
        ]);
        let snap = node_snapshot(&s, &[]);
        assert_eq!(snap.view.centre.as_deref(), Some(s.node_id.as_str()));
        let ids: Vec<&str> = snap.members.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), 4, "this node and three live members: {ids:?}");
        assert!(snap.members[0].this_node);
        assert_eq!(
            snap.members[0].nat.as_ref().unwrap().reflexive,
            vec!["203.0.113.1:9740".to_owned()]
        );
        assert_eq!(snap.members[1].name.as_deref(), Some("two"));
        assert_eq!(snap.silent_members, 2);
        let kind_of = |n: u8| {
            let l = snap
                .links
                .iter()
                .find(|l| l.b == id(n).to_string())
                .unwrap();
            (l.kind, l.via.clone(), l.rtt_ms)
        };
        assert_eq!(kind_of(2), (LinkKind::Direct, None, Some(1.5)));
        assert_eq!(
            kind_of(3),
            (LinkKind::Relay, Some(id(2).to_string()), None),
            "no RTT shown for a relayed path"
        );
        assert_eq!(kind_of(4), (LinkKind::Tcp, None, Some(1.5)));
        assert_eq!(snap.links.len(), 3);
    }

    #[test]
    fn carried_pairs_between_drawn_members_only() {
        let s = status(vec![
            peer(2, Some("direct"), "udp", 1.0),
            peer(3, Some("direct"), "udp", 1.0),
        ]);
        let snap = node_snapshot(&s, &[(id(2), id(3)), (id(2), id(9))]);
        let carried: Vec<&Link> = snap.links.iter().filter(|l| l.carried).collect();
        assert_eq!(
            carried.len(),
            1,
            "the pair with an unknown member is left out"
        );
        assert_eq!(carried[0].kind, LinkKind::Relay);
        assert_eq!(carried[0].via.as_deref(), Some(s.node_id.as_str()));
    }
}
