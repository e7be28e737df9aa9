//! `whois` in the daemon: who a member is, found by node ID, overlay
//! address or name (`NAME` or `NAME.<domain>`, among the name claims the
//! node holds) among the per-peer entries of the node's status (so whois shows
//! whatever `status` shows of a member), or this node itself.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::control::answers::WhoisAnswer;
use super::control::api::{reply, ApiError, ErrorCode, Reply};
use crate::identity::{NodeId, NodeName};
use crate::node::{Node, PeerCert, PeerStatus, Status};

/// What a whois target names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Node(NodeId),
    Addr(IpAddr),
}

impl Target {
    /// `text` as a node ID or an address, else as a name (its first
    /// label): `Ok(None)` when no member this node knows of holds it,
    /// an error when it is none of the three.
    fn parse(node: &Node, text: &str) -> Result<Option<Self>, ApiError> {
        let text = text.trim();
        match (text.parse::<IpAddr>(), NodeId::parse(text)) {
            (Ok(ip), _) => Ok(Some(Self::Addr(ip))),
            (_, Ok(id)) => Ok(Some(Self::Node(id))),
            _ => {
                let label = text.split('.').next().unwrap_or_default();
                let name = NodeName::parse(label).map_err(|e| {
                    ApiError::bad_request(format!(
                        "`{text}` is neither a node ID (tessel-node-…), an overlay address nor a name: {e}"
                    ))
                })?;
                Ok(node.member_by_name(&name).map(Self::Node))
            }
        }
    }

    /// Whether the member with this ID and these addresses is the target.
    fn names(self, node_id: &str, ipv6: &str, ipv4: Option<&str>) -> bool {
        let is = |text: &str, ip: IpAddr| text.parse::<IpAddr>().is_ok_and(|a| a == ip);
        match self {
            Self::Node(id) => id.to_string() == node_id,
            Self::Addr(ip) => is(ipv6, ip) || ipv4.is_some_and(|v4| is(v4, ip)),
        }
    }
}

/// The `whois` answer for `target` on `node`, which listens on `listen`.
pub(crate) fn answer(node: &Node, target: &str, listen: SocketAddr, now: Instant) -> Reply {
    let parsed = Target::parse(node, target)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no member holds the name `{}` as far as this node knows",
                target.trim()
            ),
        )
    })?;
    let mut status = node.status(now);
    status.listen = listen.to_string();
    reply(&find(status, parsed).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "no member {} is known to this node (it has not joined, or no member told this node of it yet)",
                target.trim()
            ),
        )
    })?)
}

/// The entry of `status` that `target` names.
fn find(status: Status, target: Target) -> Option<WhoisAnswer> {
    if target.names(&status.node_id, &status.ipv6, Some(&status.ipv4)) {
        return Some(WhoisAnswer {
            this_node: true,
            member: this_node(status),
        });
    }
    status
        .peers
        .into_iter()
        .find(|p| target.names(&p.node_id, &p.ipv6, p.ipv4.as_deref()))
        .map(|member| WhoisAnswer {
            this_node: false,
            member,
        })
}

/// This node as a member entry: its ID, addresses, listen address, name
/// and, in managed mode, its own certificate.
fn this_node(status: Status) -> PeerStatus {
    let (name, name_held_by) = match status.name {
        Some(n) => (Some(n.name), n.held_by),
        None => (None, None),
    };
    PeerStatus {
        name,
        name_held_by,
        node_id: status.node_id,
        ipv6: status.ipv6,
        ipv4: Some(status.ipv4),
        endpoint: Some(status.listen),
        certificate: status.managed.map(|m| PeerCert {
            name: m.name,
            groups: m.groups,
            not_after: m.not_after,
            by_previous_owner: false,
        }),
        ..PeerStatus::default()
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::identity::{NetworkKey, NodeKey};
    use crate::node::Config;

    fn node(seed: u8, peers: Vec<(NodeId, SocketAddr)>, now: Instant) -> Node {
        let config = Config {
            node_key: NodeKey::from_seed([seed; 32]),
            network_key: NetworkKey::from_secret([9; 32]),
            ipv4_range: crate::identity::address::Ipv4Range::DEFAULT,
            bootstrap: Vec::new(),
            known_peers: peers,
            stun_servers: Vec::new(),
            seed: [seed; 32],
            unix_ms: 1_800_000_000_000,
        };
        Node::new(config, now)
    }

    #[test]
    fn whois_finds_members_by_id_and_address_and_says_what_it_does_not_know() {
        let now = Instant::now();
        let other = NodeKey::from_seed([2; 32]).id();
        let endpoint: SocketAddr = "198.51.100.7:9740".parse().unwrap();
        let n = node(1, vec![(other, endpoint)], now);
        let listen: SocketAddr = "0.0.0.0:9740".parse().unwrap();
        let body = |target: &str| answer(&n, target, listen, now);

        let peer = n.status(now).peers[0].clone();
        assert_eq!(peer.node_id, other.to_string());
        for target in [other.to_string(), peer.ipv6.clone()] {
            let got = body(&target).unwrap();
            assert_eq!(got["this_node"], false, "{target}");
            assert_eq!(got["node_id"], other.to_string(), "{target}");
            assert_eq!(got["endpoint"], endpoint.to_string(), "{target}");
        }
        let own = body(&n.ipv4().to_string()).unwrap();
        assert_eq!(own["this_node"], true);
        assert_eq!(own["node_id"], n.id().to_string());
        assert_eq!(own["endpoint"], listen.to_string());

        let unknown = NodeKey::from_seed([3; 32]).id().to_string();
        let e = body(&unknown).unwrap_err();
        assert!(e.is(ErrorCode::NotFound), "{e:?}");
        assert!(e.message.contains(&unknown), "{}", e.message);
        assert!(body("fd00::1").unwrap_err().is(ErrorCode::NotFound));
        let e = body("somebody").unwrap_err();
        assert!(e.is(ErrorCode::NotFound), "{e:?}");
        assert!(e.message.contains("name `somebody`"), "{}", e.message);
        let e = body("some_body!").unwrap_err();
        assert!(e.is(ErrorCode::BadRequest), "{e:?}");
    }
}
