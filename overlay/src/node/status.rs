//! A snapshot of the node for `tessel status`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{DropReason, Node};

/// The node as `tessel status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// This node's ID.
    pub node_id: String,
    /// The network's public ID.
    pub network_id: String,
    /// Overlay IPv6 address.
    pub ipv6: String,
    /// Overlay IPv4 address.
    pub ipv4: String,
    /// The UDP address the node listens on (filled in by the driver).
    pub listen: String,
    /// Known members.
    pub peers: Vec<PeerStatus>,
    /// Dropped packets by reason (every reason, zero or not).
    pub drops: BTreeMap<String, u64>,
    /// Hole punching: attempts, outcomes, probes.
    #[serde(default)]
    pub traversal: super::TraversalStats,
    /// Relaying for others and through others.
    #[serde(default)]
    pub relay: super::RelayStats,
    /// Reflexive addresses and what they say about the NAT.
    #[serde(default)]
    pub nat: super::NatStatus,
    /// The external address the gateway maps to our UDP port, if any.
    #[serde(default)]
    pub port_mapping: Option<super::PortMappingStatus>,
    /// Handshake work done and avoided (Diffie-Hellmans, cookie replies).
    #[serde(default)]
    pub handshakes: super::HandshakeStats,
    /// The network key: its epoch, and during a grace period when the
    /// old key stops working.
    #[serde(default)]
    pub network_key: NetworkKeyStatus,
    /// Managed mode: the owner, this node's certificate, the revocation
    /// list held (`None`: joined by the network key alone).
    #[serde(default)]
    pub managed: Option<super::ManagedStatus>,
    /// This node's name, and the member that holds it instead if this
    /// node lost it (`None`: no name).
    #[serde(default)]
    pub name: Option<super::NameStatus>,
}

/// One member as `tessel status` and `tessel whois` show it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The member's node ID.
    pub node_id: String,
    /// Its overlay IPv6 address.
    pub ipv6: String,
    /// Its overlay IPv4 address, once verified.
    pub ipv4: Option<String>,
    /// Where we reach it.
    pub endpoint: Option<String>,
    /// Smoothed round-trip time of the direct session, in ms.
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    /// How traffic to it goes while connected: `direct` (to `endpoint`) or
    /// `relay NODE_ID` (through that member).
    #[serde(default)]
    pub path: Option<String>,
    /// Whether a usable session exists.
    pub connected: bool,
    /// When the last handshake completed, in ms since the Unix epoch.
    pub last_handshake_unix_ms: Option<u64>,
    /// How long ago the last handshake completed.
    pub last_handshake_ago_secs: Option<f64>,
    /// Bytes received from it (datagrams as sent on the wire).
    pub rx_bytes: u64,
    /// Bytes sent to it.
    pub tx_bytes: u64,
    /// Its member certificate as checked in its last handshake (managed mode).
    #[serde(default)]
    pub certificate: Option<super::PeerCert>,
    /// How long ago an authenticated datagram last came from it.
    #[serde(default)]
    pub last_seen_ago_secs: Option<f64>,
    /// What carries the direct path to `endpoint`: `udp`, or `tcp` (a TCP
    /// connection, where UDP is blocked); `None` without an endpoint.
    #[serde(default)]
    pub transport: Option<String>,
    /// The name it claims, as far as this node knows.
    #[serde(default)]
    pub name: Option<String>,
    /// The member that holds that name instead (`tessel-node-…`), when
    /// another claimed it first.
    #[serde(default)]
    pub name_held_by: Option<String>,
}

/// The network key's state, for `tessel status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkKeyStatus {
    /// The current key's epoch (0 until the first rotation).
    pub epoch: u32,
    /// The epoch of the key being retired, during a grace period.
    pub retiring_epoch: Option<u32>,
    /// When the retiring key stops working (Unix ms).
    pub old_key_refused_after_unix_ms: Option<u64>,
    /// Key update counters.
    pub updates: super::RotationStats,
}

impl Node {
    /// A snapshot of the node and its members at `now`.
    pub fn status(&self, now: Instant) -> Status {
        let name_of = |id| self.name_of(&id);
        let mut peers: Vec<PeerStatus> = self
            .peers
            .values()
            .map(|p| PeerStatus {
                node_id: p.id.to_string(),
                ipv6: p.ipv6.to_string(),
                ipv4: self.ipv4s.addr_of(&p.id).map(|a| a.to_string()),
                endpoint: p.endpoint.map(|e| e.to_string()),
                rtt_ms: p.link.srtt.map(|r| r.as_secs_f64() * 1000.0),
                path: p.connected(now).then(|| match p.relay_hop {
                    None => "direct".to_string(),
                    Some(r) => format!("relay {r}"),
                }),
                connected: p.connected(now),
                last_handshake_unix_ms: p.last_handshake().map(|t| self.unix_ms_at(t)),
                last_handshake_ago_secs: p
                    .last_handshake()
                    .map(|t| now.saturating_duration_since(t).as_secs_f64()),
                rx_bytes: p.rx_bytes,
                tx_bytes: p.tx_bytes,
                certificate: self.peer_certificate(&p.id).cloned(),
                last_seen_ago_secs: p
                    .last_received
                    .map(|t| now.saturating_duration_since(t).as_secs_f64()),
                transport: p.endpoint.map(|_| {
                    let tcp = p.socket >= super::STREAM_IDS_FROM;
                    (if tcp { "tcp" } else { "udp" }).to_owned()
                }),
                name: name_of(p.id).map(|n| n.to_string()),
                name_held_by: name_of(p.id)
                    .and_then(|n| self.member_by_name(&n))
                    .filter(|h| *h != p.id)
                    .map(|h| h.to_string()),
            })
            .collect();
        peers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Status {
            node_id: self.id.to_string(),
            network_id: self.network.to_string(),
            ipv6: self.ipv6.to_string(),
            ipv4: self.ipv4.to_string(),
            listen: String::new(),
            peers,
            drops: DropReason::ALL
                .iter()
                .map(|r| (r.name().to_string(), self.drops.get(*r)))
                .collect(),
            traversal: self.traversal.stats,
            relay: self.relay_stats(),
            nat: self.nat_status(now),
            port_mapping: self.port_mapping.clone(),
            handshakes: self.initiation_guard.cookies.stats,
            network_key: NetworkKeyStatus {
                epoch: self.network_key().epoch(),
                retiring_epoch: self.retiring_key().map(|(k, _)| k.epoch()),
                old_key_refused_after_unix_ms: self.retiring_key().map(|(_, t)| t),
                updates: self.rotation_stats(),
            },
            managed: self.managed_status(),
            name: self.name_status(),
        }
    }
}
