//! What the hole-punching machine must know of the rest of the node: facts
//! about members ([`Members`], which the node's peer table answers) and
//! about this node's own addresses and NAT ([`OwnView`]).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use crate::identity::NodeId;
use crate::node::NatMapping;

/// What the machine knows of one member at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemberFacts {
    /// A session with it is up on a direct path (not through a relay) that
    /// answers.
    pub(crate) direct: bool,
    /// Where it is, as gossip or our session says.
    pub(crate) endpoint: Option<SocketAddr>,
    /// When our last punch toward it started.
    pub(crate) last_punch: Option<Instant>,
    /// Punches toward it in a row that found no path.
    pub(crate) punch_failures: u8,
    /// Traffic to or from it is waiting or flowed lately: a missed punch is
    /// retried at once rather than after a backoff.
    pub(crate) active: bool,
}

/// The members, as the machine asks about them.
pub(crate) trait Members {
    /// What we know of `member`; `None` if it is not one we know.
    fn facts(&self, now: Instant, member: &NodeId) -> Option<MemberFacts>;

    /// The extra sockets that sessions use.
    fn sockets_in_use(&self) -> BTreeSet<u16>;

    /// Members reached directly from the main socket that answer, with
    /// their endpoints (whom the NAT self-check may probe).
    fn direct_from_main(&self, now: Instant) -> Vec<(NodeId, SocketAddr)>;
}

/// This node's own addresses and NAT, as the rest of the node knows them.
#[derive(Debug, Clone)]
pub(crate) struct OwnView {
    /// This node's ID.
    pub(crate) id: NodeId,
    /// The port our router maps for us.
    pub(crate) mapped: Option<SocketAddr>,
    /// Our endpoints as STUN servers and members saw them, freshest first.
    pub(crate) reflexive: Vec<SocketAddr>,
    /// What STUN answers tell of our NAT.
    pub(crate) stun: NatMapping,
}
