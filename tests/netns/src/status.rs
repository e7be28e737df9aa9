//! Typed access to the JSON printed by `tessel status --json`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;

/// Drop reasons that every status must report.
pub const REQUIRED_DROP_REASONS: [&str; 3] = ["malformed", "bad_mac", "handshake_failed"];

/// One `tessel status --json` snapshot.
#[derive(Debug, Clone)]
pub struct Status(pub Value);

/// One entry of the `peers` array.
#[derive(Debug, Clone, Copy)]
pub struct PeerStatus<'a>(pub &'a Value);

impl Status {
    /// Parses the command's stdout.
    pub fn parse(text: &str) -> Result<Self> {
        let v: Value =
            serde_json::from_str(text).with_context(|| format!("status is not JSON: {text:?}"))?;
        Ok(Self(v))
    }

    /// This node's ID (`tessel-node-...`).
    pub fn node_id(&self) -> Result<&str> {
        str_field(&self.0, "node_id")
    }

    /// This node's network ID (`tessel-netid-...`).
    pub fn network_id(&self) -> Result<&str> {
        str_field(&self.0, "network_id")
    }

    /// This node's overlay IPv6 address.
    pub fn ipv6(&self) -> Result<Ipv6Addr> {
        str_field(&self.0, "ipv6")?.parse().context("status ipv6")
    }

    /// This node's overlay IPv4 address.
    pub fn ipv4(&self) -> Result<Ipv4Addr> {
        str_field(&self.0, "ipv4")?.parse().context("status ipv4")
    }

    /// Every peer entry (empty if the field is missing).
    pub fn peers(&self) -> Vec<PeerStatus<'_>> {
        self.0["peers"]
            .as_array()
            .map(|a| a.iter().map(PeerStatus).collect())
            .unwrap_or_default()
    }

    /// The entry for the peer with this node ID.
    pub fn peer(&self, node_id: &str) -> Option<PeerStatus<'_>> {
        self.peers()
            .into_iter()
            .find(|p| p.node_id().is_ok_and(|id| id == node_id))
    }

    /// True if the peer with this node ID is listed and connected.
    pub fn is_connected_to(&self, node_id: &str) -> bool {
        self.peer(node_id).is_some_and(|p| p.connected())
    }

    /// Node IDs of the connected peers.
    pub fn connected_ids(&self) -> Vec<String> {
        self.peers()
            .into_iter()
            .filter(|p| p.connected())
            .filter_map(|p| p.node_id().ok().map(str::to_owned))
            .collect()
    }

    /// The counter of drops for `reason` (e.g. `bad_mac`).
    pub fn drops(&self, reason: &str) -> Result<u64> {
        self.0["drops"][reason]
            .as_u64()
            .with_context(|| format!("status has no drops.{reason}: {}", self.0))
    }

    /// Checks the shape promised by the CLI contract.
    pub fn check_shape(&self) -> Result<()> {
        ensure!(self.node_id()?.starts_with("tessel-node-"), "bad node_id");
        ensure!(
            self.network_id()?.starts_with("tessel-netid-"),
            "bad network_id"
        );
        let v6 = self.ipv6()?;
        ensure!(
            v6.segments()[0] >> 8 == 0xfd,
            "ipv6 {v6} is not a ULA (fd00::/8)"
        );
        let v4 = self.ipv4()?;
        ensure!(in_cgnat(v4), "ipv4 {v4} is not in 100.64.0.0/10");
        str_field(&self.0, "listen")?
            .parse::<std::net::SocketAddr>()
            .context("listen is not ADDR:PORT")?;
        ensure!(self.0["peers"].is_array(), "peers is not an array");
        for p in self.peers() {
            p.check_shape()
                .with_context(|| format!("peer entry {}", p.0))?;
        }
        let drops = self.0["drops"]
            .as_object()
            .context("drops is not an object")?;
        for reason in REQUIRED_DROP_REASONS {
            ensure!(drops.contains_key(reason), "drops.{reason} missing");
        }
        for (k, v) in drops {
            ensure!(v.is_u64(), "drops.{k} is not a counter: {v}");
        }
        Ok(())
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl PeerStatus<'_> {
    /// The peer's node ID.
    pub fn node_id(&self) -> Result<&str> {
        str_field(self.0, "node_id")
    }

    /// True if a session with the peer is up.
    pub fn connected(&self) -> bool {
        self.0["connected"].as_bool() == Some(true)
    }

    /// When the last handshake with this peer completed, if ever.
    pub fn last_handshake_unix_ms(&self) -> Option<u64> {
        self.0["last_handshake_unix_ms"].as_u64()
    }

    /// The peer's underlay endpoint, if known.
    pub fn endpoint(&self) -> Option<&str> {
        self.0["endpoint"].as_str()
    }

    /// Bytes received from this peer.
    pub fn rx_bytes(&self) -> Option<u64> {
        self.0["rx_bytes"].as_u64()
    }

    /// Bytes sent to this peer.
    pub fn tx_bytes(&self) -> Option<u64> {
        self.0["tx_bytes"].as_u64()
    }

    /// The peer's overlay IPv6 address.
    pub fn ipv6(&self) -> Result<Ipv6Addr> {
        str_field(self.0, "ipv6")?.parse().context("peer ipv6")
    }

    fn check_shape(&self) -> Result<()> {
        ensure!(self.node_id()?.starts_with("tessel-node-"), "bad node_id");
        self.ipv6()?;
        match &self.0["ipv4"] {
            Value::Null => {}
            Value::String(s) => {
                s.parse::<Ipv4Addr>().context("peer ipv4")?;
            }
            other => bail!("ipv4 is neither null nor a string: {other}"),
        }
        match &self.0["endpoint"] {
            Value::Null => {}
            Value::String(s) => {
                s.parse::<std::net::SocketAddr>().context("peer endpoint")?;
            }
            other => bail!("endpoint is neither null nor a string: {other}"),
        }
        ensure!(self.0["connected"].is_boolean(), "connected is not a bool");
        for k in ["last_handshake_unix_ms", "last_handshake_ago_secs"] {
            ensure!(
                self.0[k].is_null() || self.0[k].is_number(),
                "{k} is neither null nor a number"
            );
        }
        ensure!(self.rx_bytes().is_some(), "rx_bytes missing");
        ensure!(self.tx_bytes().is_some(), "tx_bytes missing");
        Ok(())
    }
}

/// True if `a` is in 100.64.0.0/10.
pub fn in_cgnat(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 100 && (o[1] & 0xc0) == 64
}

/// True if `a` is an address the overlay may hand out (ULA or 100.64/10).
pub fn is_overlay_addr(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => in_cgnat(v4),
        IpAddr::V6(v6) => v6.segments()[0] >> 8 == 0xfd,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v[key]
        .as_str()
        .with_context(|| format!("status field {key:?} missing or not a string in {v}"))
}
