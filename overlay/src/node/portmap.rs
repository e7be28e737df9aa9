//! The gateway's port mapping of the node's UDP port, as the driver's port
//! mapper reports it: an external address where members outside reach
//! this node without hole punching (a candidate for traversal), shown in
//! the status.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Node;

/// A port mapping as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMappingStatus {
    /// How it was obtained: `pcp`, `nat-pmp` or `upnp`.
    pub protocol: String,
    /// The external address and port that reach the node's UDP port.
    pub external: SocketAddr,
}

impl Node {
    /// Records the current port mapping (`None`: there is none), as
    /// (protocol name, external address).
    pub fn set_port_mapping(&mut self, mapping: Option<(&str, SocketAddr)>) {
        let new = mapping.map(|(protocol, external)| PortMappingStatus {
            protocol: protocol.to_owned(),
            external,
        });
        if new != self.port_mapping {
            tracing::debug!(mapping = ?new, "port mapping changed");
            self.port_mapping = new;
        }
    }

    /// The external address the gateway maps to our UDP port, if any.
    pub fn port_mapping(&self) -> Option<SocketAddr> {
        self.port_mapping.as_ref().map(|m| m.external)
    }

    /// Where machines elsewhere on the Internet may reach this node's UDP
    /// port: the gateway's mapping first, then the reflexive addresses that
    /// reflectors saw (freshest first) unless the NAT maps each destination
    /// apart (then they reach nobody else); empty until one is known.
    pub fn public_addresses(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = self.port_mapping().into_iter().collect();
        if self.nat_mapping().behaviour != super::NatBehaviour::Dependent {
            for a in self.reflexive_addresses() {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::time::Instant;

    use crate::identity::{NetworkKey, NodeKey};
    use crate::node::{Config, Node};

    #[test]
    fn mapping_is_kept_and_shown_in_status() {
        let now = Instant::now();
        let mut node = Node::new(
            Config {
                node_key: NodeKey::from_seed([1; 32]),
                network_key: NetworkKey::from_secret([2; 32]),
                ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
                bootstrap: Vec::new(),
                known_peers: Vec::new(),
                stun_servers: Vec::new(),
                seed: [3; 32],
                unix_ms: 0,
            },
            now,
        );
        assert_eq!(node.port_mapping(), None);
        assert!(node.status(now).port_mapping.is_none());
        let ext = "203.0.113.1:9740".parse().unwrap();
        node.set_port_mapping(Some(("pcp", ext)));
        assert_eq!(node.port_mapping(), Some(ext));
        assert_eq!(node.public_addresses(), vec![ext]);
        let json = serde_json::to_value(node.status(now)).unwrap();
        assert_eq!(json["port_mapping"]["protocol"], "pcp");
        assert_eq!(json["port_mapping"]["external"], "203.0.113.1:9740");
        node.set_port_mapping(None);
        let json = serde_json::to_value(node.status(now)).unwrap();
        assert!(json["port_mapping"].is_null());
        assert!(node.public_addresses().is_empty());
    }
}
