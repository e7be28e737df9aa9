//! What the map draws: the members, the links between them and what is
//! known of each member's NAT, as plain values that serialize to the JSON
//! the page reads (`docs/map.md` lists the fields). A snapshot is one
//! observer's view: one node's (`tessel up --map`) or the whole emulated
//! network's (`tessel demo --map`, which combines every node's status).
//! It holds only what the observer saw: a link between two members is in
//! it only if the observer is one of them, carries their traffic, or (the
//! demo) asked both.

use serde::{Deserialize, Serialize};

/// One observer's view of the network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MapSnapshot {
    /// Who saw this, and what that means for the links shown.
    pub view: View,
    /// The members drawn, in no particular order (the page orders them).
    pub members: Vec<Member>,
    /// The links between them.
    pub links: Vec<Link>,
    /// Members the observer knows of but has no live session with (not
    /// drawn: they may be gone).
    pub silent_members: usize,
    /// Recent lines of a story told alongside (the demo's narration),
    /// oldest first; empty for a node.
    pub story: Vec<String>,
}

/// Who saw a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Whose view it is.
    pub kind: ViewKind,
    /// The node ID the page puts at the centre: the observing node, or the
    /// demo's public member; `None`: none in particular.
    pub centre: Option<String>,
    /// One sentence on what the observer can and cannot see.
    pub note: String,
}

/// Whose view a snapshot is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewKind {
    /// One node's: its own sessions and the pairs it relays for.
    #[default]
    Node,
    /// Every node's, combined (the demo).
    Network,
}

/// One member.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Its node ID (`tessel-node-…`).
    pub id: String,
    /// Its name, if it has one (a node name, or the demo's name for it).
    pub name: Option<String>,
    /// Whether it is the node serving this view.
    pub this_node: bool,
    /// Its overlay IPv4 address, if known.
    pub ipv4: Option<String>,
    /// Its overlay IPv6 address, if known.
    pub ipv6: Option<String>,
    /// What is known of its NAT (`None`: nothing, as for other members
    /// seen by one node).
    pub nat: Option<Nat>,
}

/// What is known of a member's NAT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nat {
    /// In a few words, e.g. `cone (endpoint-independent mapping)` or, in the
    /// demo, the kind of NAT it was put behind.
    pub kind: String,
    /// The mapping behaviour the node found: `endpoint_independent`,
    /// `dependent` or `unknown`.
    pub mapping: String,
    /// How its NAT allocates ports: `preserved`, `sequential (step +N)`,
    /// `random` or `unknown`.
    pub allocation: String,
    /// Where the internet sees it (reflexive addresses), freshest first.
    pub reflexive: Vec<String>,
    /// The external address a gateway maps to it (PCP, NAT-PMP, UPnP).
    pub port_mapping: Option<String>,
}

/// How a link carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// UDP datagrams straight between the two.
    Direct,
    /// Through another member ([`Link::via`]).
    Relay,
    /// Straight between the two over a TCP connection (UDP blocked).
    Tcp,
}

/// A link between two members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// One end's node ID (the observer, when it is an end).
    pub a: String,
    /// The other end's node ID.
    pub b: String,
    /// How it carries traffic.
    pub kind: LinkKind,
    /// With [`LinkKind::Relay`]: the member in between, if known.
    pub via: Option<String>,
    /// Smoothed round-trip time of the direct path, in ms (measured on
    /// direct and TCP links only).
    pub rtt_ms: Option<f64>,
    /// Bytes `a` received from `b` (datagrams as on the wire), if counted.
    pub rx_bytes: Option<u64>,
    /// Bytes `a` sent to `b`, if counted.
    pub tx_bytes: Option<u64>,
    /// Where `a` sends to reach `b`, on direct and TCP links.
    pub endpoint: Option<String>,
    /// True when the observer is neither end but relays the pair's traffic.
    pub carried: bool,
}

impl MapSnapshot {
    /// The snapshot as the JSON the page reads.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// A short description of a NAT from the behaviour a node found.
pub fn nat_kind(mapping: &str, allocation: &str) -> String {
    let ports = match allocation {
        "" | "unknown" => String::new(),
        a => format!(", ports {a}"),
    };
    match mapping {
        "endpoint_independent" => {
            format!("cone or none (endpoint-independent mapping{ports})")
        }
        "dependent" => format!("symmetric (a new mapping per destination{ports})"),
        _ => "not known yet".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_the_fields_the_page_reads() {
        let s = MapSnapshot {
            view: View {
                kind: ViewKind::Node,
                centre: Some("tessel-node-a".into()),
                note: "n".into(),
            },
            members: vec![Member {
                id: "tessel-node-a".into(),
                this_node: true,
                ..Member::default()
            }],
            links: vec![Link {
                a: "tessel-node-a".into(),
                b: "tessel-node-b".into(),
                kind: LinkKind::Relay,
                via: Some("tessel-node-r".into()),
                rtt_ms: None,
                rx_bytes: Some(1),
                tx_bytes: Some(2),
                endpoint: None,
                carried: false,
            }],
            silent_members: 3,
            story: vec![],
        };
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["view"]["kind"], "node");
        assert_eq!(v["members"][0]["this_node"], true);
        assert_eq!(v["links"][0]["kind"], "relay");
        assert_eq!(v["links"][0]["via"], "tessel-node-r");
        assert_eq!(v["silent_members"], 3);
        let back: MapSnapshot = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn nat_kinds_read_well() {
        assert_eq!(
            nat_kind("endpoint_independent", "preserved"),
            "cone or none (endpoint-independent mapping, ports preserved)"
        );
        assert_eq!(
            nat_kind("dependent", "random"),
            "symmetric (a new mapping per destination, ports random)"
        );
        assert_eq!(nat_kind("unknown", "unknown"), "not known yet");
    }
}
