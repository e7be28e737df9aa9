//! The one place the demo reads a node's state: `tessel status --json` of
//! the node (by its state and runtime dirs), parsed into the few fields the
//! demo needs. Fields it does not find are left empty rather than failing,
//! so that the demo follows the status as it grows.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path as FsPath;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

/// How long one `tessel status` may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the demo knows of one node at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NodeView {
    /// Its node ID (`tessel-node-…`).
    pub(crate) node_id: String,
    /// Its overlay IPv4 address.
    pub(crate) ipv4: Option<Ipv4Addr>,
    /// Its overlay IPv6 address.
    pub(crate) ipv6: Option<Ipv6Addr>,
    /// The members it knows.
    pub(crate) peers: Vec<PeerView>,
    /// What it found out about its NAT.
    pub(crate) nat: NatView,
    /// The far ends of the TCP connections it dialed (UDP got it nowhere).
    pub(crate) tcp_dialed: Vec<String>,
}

/// One member as a node sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PeerView {
    /// The member's node ID.
    pub(crate) node_id: String,
    /// Whether a session with it is up.
    pub(crate) connected: bool,
    /// How traffic goes while connected.
    pub(crate) path: Path,
    /// Where the node reaches it.
    pub(crate) endpoint: Option<String>,
    /// What carries the direct path: `udp` or `tcp`.
    pub(crate) transport: Option<String>,
    /// Smoothed round-trip time of the direct path, in ms.
    pub(crate) rtt_ms: Option<f64>,
    /// Bytes received from it.
    pub(crate) rx_bytes: u64,
    /// Bytes sent to it.
    pub(crate) tx_bytes: u64,
}

/// How traffic to a member goes, as one side reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Path {
    /// Not connected.
    #[default]
    None,
    /// Straight to its endpoint.
    Direct,
    /// Through the member with this node ID.
    Relay(String),
}

/// What a node found out about its NAT.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NatView {
    /// `endpoint_independent`, `dependent` or `unknown`.
    pub(crate) mapping: String,
    /// `preserved`, `sequential (step +N)`, `random` or `unknown`.
    pub(crate) allocation: String,
    /// Its reflexive addresses, freshest first.
    pub(crate) reflexive: Vec<String>,
}

/// Asks the node whose dirs these are for its status, with the `tessel`
/// binary at `exe`.
pub(crate) fn node_status(
    exe: &FsPath,
    state_dir: &FsPath,
    runtime_dir: &FsPath,
) -> Result<NodeView> {
    let mut cmd = Command::new(exe);
    cmd.args(["status", "--json", "--state-dir"])
        .arg(state_dir)
        .arg("--runtime-dir")
        .arg(runtime_dir);
    let out = tessel_lab::process::run_ok(cmd, STATUS_TIMEOUT)?;
    parse(&out)
}

/// Reads the JSON of `tessel status --json`.
pub(crate) fn parse(text: &str) -> Result<NodeView> {
    let v: Value = serde_json::from_str(text).context("tessel status printed no JSON")?;
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let peers = v["peers"]
        .as_array()
        .map(|a| a.iter().map(peer).collect())
        .unwrap_or_default();
    let tcp_dialed = v["tcp"]["connections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|c| c["direction"] == "dialed")
                .filter_map(|c| s(&c["remote"]))
                .collect()
        })
        .unwrap_or_default();
    Ok(NodeView {
        node_id: s(&v["node_id"]).context("tessel status has no node_id")?,
        ipv4: v["ipv4"].as_str().and_then(|a| a.parse().ok()),
        ipv6: v["ipv6"].as_str().and_then(|a| a.parse().ok()),
        peers,
        nat: NatView {
            mapping: s(&v["nat"]["mapping"]).unwrap_or_default(),
            allocation: s(&v["nat"]["allocation"]).unwrap_or_default(),
            reflexive: strings(&v["nat"]["reflexive_addresses"]),
        },
        tcp_dialed,
    })
}

fn peer(p: &Value) -> PeerView {
    let connected = p["connected"].as_bool() == Some(true);
    let path = match p["path"].as_str() {
        _ if !connected => Path::None,
        Some("direct") | None => Path::Direct,
        Some(other) => Path::Relay(other.strip_prefix("relay ").unwrap_or(other).to_owned()),
    };
    PeerView {
        node_id: p["node_id"].as_str().unwrap_or_default().to_owned(),
        connected,
        path,
        endpoint: p["endpoint"].as_str().map(str::to_owned),
        transport: p["transport"].as_str().map(str::to_owned),
        rtt_ms: p["rtt_ms"].as_f64(),
        rx_bytes: p["rx_bytes"].as_u64().unwrap_or_default(),
        tx_bytes: p["tx_bytes"].as_u64().unwrap_or_default(),
    }
}

impl NodeView {
    /// How this node reaches the member with `node_id`.
    pub(crate) fn path_to(&self, node_id: &str) -> Path {
        self.peer(node_id)
            .map(|p| p.path.clone())
            .unwrap_or_default()
    }

    /// The member with `node_id`, as this node sees it.
    pub(crate) fn peer(&self, node_id: &str) -> Option<&PeerView> {
        self.peers.iter().find(|p| p.node_id == node_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_the_demo_needs() {
        let v = parse(
            r#"{"node_id":"tessel-node-a","ipv4":"100.64.0.1","ipv6":"fd00::1",
                "peers":[{"node_id":"tessel-node-b","connected":true,"path":"relay tessel-node-r","endpoint":null,
                          "rx_bytes":10,"tx_bytes":20,"rtt_ms":null,"transport":null},
                         {"node_id":"tessel-node-r","connected":true,"path":"direct","endpoint":"198.51.100.1:9740",
                          "rtt_ms":0.5,"transport":"tcp"},
                         {"node_id":"tessel-node-c","connected":false,"path":null}],
                "nat":{"mapping":"dependent","allocation":"random","reflexive_addresses":["203.0.113.4:1234"]},
                "tcp":{"connections":[{"direction":"dialed","remote":"198.51.100.1:9740"},
                                      {"direction":"accepted","remote":"203.0.113.9:1"}]}}"#,
        )
        .unwrap();
        assert_eq!(v.node_id, "tessel-node-a");
        assert_eq!(
            v.path_to("tessel-node-b"),
            Path::Relay("tessel-node-r".into())
        );
        assert_eq!(v.path_to("tessel-node-r"), Path::Direct);
        assert_eq!(v.path_to("tessel-node-c"), Path::None);
        assert_eq!(v.path_to("tessel-node-unknown"), Path::None);
        assert_eq!(v.nat.allocation, "random");
        let b = v.peer("tessel-node-b").unwrap();
        assert_eq!((b.rx_bytes, b.tx_bytes, b.rtt_ms), (10, 20, None));
        let r = v.peer("tessel-node-r").unwrap();
        assert_eq!((r.rtt_ms, r.transport.as_deref()), (Some(0.5), Some("tcp")));
        assert_eq!(v.tcp_dialed, vec!["198.51.100.1:9740".to_owned()]);
        assert!(parse(r#"{"peers":[]}"#).is_err(), "no node_id");
        assert!(parse("not json").is_err());
    }
}
