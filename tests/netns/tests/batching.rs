//! The batched data path (TUN offloads both ways, UDP GSO on send and GRO
//! on receive): bulk TCP transfers in both directions at once, one over
//! IPv6 and one over IPv4 (so batches mix the families), arrive byte for
//! byte, also through a link that delays, reorders and drops the tunnel's
//! datagrams; and a node with every offload off interoperates with one
//! that has them on.
//!
//! Topology: two hosts joined by one veth pair (`Topology::line`), a node on
//! each; b has a's link address as its peer.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use tessel_netns::cluster::{wait_full_mesh, MESH_TIMEOUT};
use tessel_netns::lab::{Impairer, Impairment};
use tessel_netns::tessel::{self, DEFAULT_PORT};
use tessel_netns::topology::Topology;
use tessel_netns::transfer::{ensure_same, write_pattern, Download};
use tessel_netns::{NodeConfig, TempDir, TesselNode};

/// Bytes each way.
const BYTES: usize = 8 << 20;
/// Time limit of each transfer.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// The HTTP servers' port.
const HTTP_PORT: u16 = 8080;
/// What turns a node's offloads off (see the driver's `tun` and `udp`).
const NO_OFFLOAD: [(&str, &str); 2] = [
    ("TESSEL_TUN_NO_OFFLOAD", "1"),
    ("TESSEL_UDP_NO_OFFLOAD", "1"),
];

struct Pair {
    topo: Topology,
    nodes: Vec<TesselNode>,
}

impl Pair {
    /// Two connected nodes; `offloads[i]` says whether node `i` uses them.
    fn start(offloads: [bool; 2]) -> Result<Self> {
        let topo = Topology::line(&["a", "b"])?;
        let key = tessel::new_network_key()?;
        let mut nodes = Vec::new();
        for (i, on) in offloads.into_iter().enumerate() {
            let mut cfg = NodeConfig::new(&key)
                .port_mapping("off")
                .lan_discovery(false);
            if i == 1 {
                cfg = cfg.peer(topo.endpoint(0, 1, DEFAULT_PORT)?);
            }
            if !on {
                for (k, v) in NO_OFFLOAD {
                    cfg = cfg.env(k, v);
                }
            }
            nodes.push(TesselNode::start(topo.role(i), topo.host(i).clone(), cfg)?);
        }
        let (a, b) = nodes.split_at_mut(1);
        wait_full_mesh(&mut [&mut a[0], &mut b[0]], MESH_TIMEOUT)?;
        Ok(Self { topo, nodes })
    }

    /// b fetches a file from a over IPv6 while a fetches one from b over
    /// IPv4; both must arrive intact.
    fn transfer_both_ways(&self, logs: &Path) -> Result<()> {
        let a_ips = self.nodes[0].ip()?;
        let b_ips = self.nodes[1].ip()?;
        let ways = [
            (0, IpAddr::from(a_ips.v6), 1, "from-a-v6"),
            (1, IpAddr::from(b_ips.v4), 0, "from-b-v4"),
        ];
        let mut running = Vec::new();
        for (server, addr, client, name) in ways {
            let dir = logs.join(name);
            std::fs::create_dir_all(&dir)?;
            let blob = dir.join("blob");
            write_pattern(&blob, BYTES)?;
            let out = logs.join(format!("{name}.out"));
            let download = Download::start(
                self.topo.host(server),
                SocketAddr::new(addr, HTTP_PORT),
                &blob,
                self.topo.host(client),
                &out,
                None,
                TRANSFER_TIMEOUT,
                logs,
            )?;
            running.push((download, blob, out));
        }
        for (download, blob, out) in running {
            download.finish(TRANSFER_TIMEOUT)?;
            ensure_same(&blob, &out)?;
        }
        Ok(())
    }
}

/// Both directions and both families at once, through a link that adds
/// 1–4 ms to each tunnel datagram (so they overtake each other) and drops
/// 1 % of them, each way: GRO receives out-of-order runs, the offloads
/// coalesce what TCP retransmits, and every byte arrives.
#[test]
fn transfers_both_ways_over_both_families_arrive_intact_through_reordering_and_loss() -> Result<()>
{
    let pair = Pair::start([true, true])?;
    let spec = Impairment::none()
        .delay(Duration::from_millis(1))
        .jitter(Duration::from_millis(3))
        .loss(0.01);
    let _a = Impairer::start_output(pair.topo.host(0), &["to-b"], &spec.clone().seed(1))?;
    let _b = Impairer::start_output(pair.topo.host(1), &["to-a"], &spec.seed(2))?;
    let logs = TempDir::new("batching-impaired")?;
    pair.transfer_both_ways(logs.path())
}

/// A node with every offload off (one packet per read and write, one
/// datagram per send and receive) and one with them on carry transfers both
/// ways: nothing on the wire depends on how either side batches.
#[test]
fn a_node_without_offloads_interoperates_with_one_that_has_them() -> Result<()> {
    let pair = Pair::start([true, false])?;
    let logs = TempDir::new("batching-mixed")?;
    pair.transfer_both_ways(logs.path())
}
