//! A simulated machine: its address and link, the node running on it (if
//! it is up), its state dir, and its bookkeeping.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use tessel_overlay::identity::NodeId;
use tessel_overlay::node::Node;

use crate::ids::NatId;
use crate::link::Link;
use crate::stats::Traffic;
use crate::time::SimTime;

/// A network that hosts and NATs attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Net {
    /// The public Internet.
    Internet,
    /// The inside of a NAT.
    Lan(NatId),
}

/// Where to put a new host (or a host that moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On the Internet with a public IPv4 address.
    Public,
    /// On the Internet with a public IPv6 address.
    PublicV6,
    /// On a NAT's LAN.
    Behind(NatId),
}

/// Whether a host's node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The node runs.
    Up,
    /// It crashed; it may restart with its state dir.
    Crashed,
    /// It left the network; it may join again with its state dir.
    Left,
}

/// One machine. See the module documentation.
pub(crate) struct Host {
    pub(crate) node: Option<Node>,
    pub(crate) liveness: Liveness,
    /// Secret seed of the node key (kept in the state dir).
    pub(crate) key_seed: [u8; 32],
    pub(crate) node_id: NodeId,
    pub(crate) ipv6: Ipv6Addr,
    /// `--peer` addresses.
    pub(crate) bootstrap: Vec<SocketAddr>,
    /// The node's socket address on its network.
    pub(crate) addr: SocketAddr,
    pub(crate) net: Net,
    /// The access link between the host and its network.
    pub(crate) link: Link,
    /// `peers.json`: the members the node last reported (on `MembersChanged`).
    pub(crate) state_dir: Vec<(NodeId, SocketAddr)>,
    pub(crate) incarnation: u32,
    /// The wakeup scheduled for the node, and its generation (older ones are stale).
    pub(crate) wake: Option<SimTime>,
    pub(crate) wake_gen: u64,
    /// Consecutive wakeups that left the node due again at the same instant.
    pub(crate) spins: u32,
    /// Partition group: datagrams pass only within one group.
    pub(crate) group: u32,
    /// Sizes of data datagrams that will carry app packets the node queued
    /// while a handshake runs (to tell them from control traffic).
    pub(crate) pending_app: VecDeque<usize>,
    pub(crate) sent: Traffic,
    pub(crate) up_since: Option<SimTime>,
    pub(crate) uptime: Duration,
    /// The node's extra sockets: socket ID → local port (same IP as `addr`).
    pub(crate) extra: BTreeMap<u16, u16>,
}

/// Pending app datagrams remembered per host, at most (the node queues at
/// most 32 packets per peer; older entries are forgotten first).
const MAX_PENDING_APP: usize = 256;

impl Host {
    /// Whether the node runs.
    pub(crate) fn is_up(&self) -> bool {
        self.node.is_some()
    }

    /// Remembers that the node queued an app packet of `len` bytes.
    pub(crate) fn queued_app(&mut self, len: usize) {
        if self.pending_app.len() == MAX_PENDING_APP {
            self.pending_app.pop_front();
        }
        self.pending_app.push_back(len + 32);
    }

    /// Whether a data datagram of `len` bytes is a queued app packet leaving
    /// (and if so, forgets it).
    pub(crate) fn take_pending_app(&mut self, len: usize) -> bool {
        match self.pending_app.iter().position(|&l| l == len) {
            Some(i) => {
                self.pending_app.remove(i);
                true
            }
            None => false,
        }
    }

    /// Time up so far, including the current run.
    pub(crate) fn uptime_at(&self, now: SimTime) -> Duration {
        self.uptime
            + self
                .up_since
                .map_or(Duration::ZERO, |s| now.saturating_since(s))
    }
}
