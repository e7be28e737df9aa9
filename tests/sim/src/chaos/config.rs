//! What a chaos run does: its size, length, mix of places and rates of
//! faults and traffic.

use std::time::Duration;

use crate::link::Link;

/// Parameters of a chaos run. [`ChaosConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Nodes that join (anchors included).
    pub nodes: usize,
    /// Virtual time during which agents act.
    pub chaos: Duration,
    /// Seed of everything.
    pub seed: u64,
    /// Public nodes that everyone bootstraps from. They crash and restart
    /// but never leave or move.
    pub anchors: usize,
    /// Share of the other nodes that have a public IPv4 address; the rest sit
    /// behind cone NATs.
    pub public_fraction: f64,
    /// Nodes per NAT, on average.
    pub nodes_per_nat: f64,
    /// Share of NATs that are home routers behind one carrier-grade NAT.
    pub carrier_fraction: f64,
    /// Non-anchor nodes join at random times in `[0, join_window)`.
    pub join_window: Duration,
    /// Agent actions (crash, leave, roam, cut, take a link down) per node per
    /// virtual minute.
    pub actions_per_node_minute: f64,
    /// Whether agents roam (move to another LAN or public address, or have
    /// their NAT renumbered).
    pub roaming: bool,
    /// Network partitions per virtual minute (in total).
    pub partitions_per_minute: f64,
    /// App packets between random pairs, per node per virtual minute.
    pub packets_per_node_minute: f64,
    /// After the chaos stops, every pair of live nodes must talk again within this.
    pub recovery_bound: Duration,
    /// How often the recovery check probes a pair that has not answered yet.
    pub probe_interval: Duration,
    /// Pairs that the recovery check probes, at most (all pairs if fewer).
    pub max_probe_pairs: usize,
    /// Every host's and NAT's access link.
    pub link: Link,
    /// Threads that run the nodes (the run is the same whatever the number).
    pub threads: usize,
}

impl ChaosConfig {
    /// The default run of `nodes` nodes for `minutes` virtual minutes.
    pub fn new(nodes: usize, minutes: f64, seed: u64) -> Self {
        let chaos = Duration::from_secs_f64(minutes * 60.0);
        Self {
            nodes,
            chaos,
            seed,
            anchors: 3.min(nodes),
            public_fraction: 0.3,
            nodes_per_nat: 3.0,
            carrier_fraction: 0.1,
            join_window: (chaos / 3).min(Duration::from_secs(60)),
            actions_per_node_minute: 0.1,
            roaming: true,
            partitions_per_minute: 0.2,
            packets_per_node_minute: 2.0,
            recovery_bound: Duration::from_secs(60),
            probe_interval: Duration::from_secs(2),
            max_probe_pairs: 300,
            link: Link::wide_area(),
            threads: 1,
        }
    }
}
