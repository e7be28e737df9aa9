//! Settings that change while the node runs (the daemon reloads its
//! configuration): the bootstrap addresses (`--peer`) and the STUN servers
//! (`--stun`). Relaying has its own switch ([`Node::set_relaying`]).
//!
//! A bootstrap address that stays keeps its state (its backoff, the member
//! found there); a new one is greeted at once; one that goes is no longer
//! greeted, and members met there stay members. New STUN servers are asked
//! at once, in a new round.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Bootstrap, Node};
use crate::limits::HELLO_INTERVAL;

impl Node {
    /// Replaces the bootstrap addresses with `addrs` (duplicates once).
    pub fn set_bootstrap(&mut self, now: Instant, addrs: &[SocketAddr]) {
        let mut kept: Vec<Bootstrap> = Vec::with_capacity(addrs.len());
        for &addr in addrs {
            if kept.iter().any(|b| b.addr == addr) {
                continue;
            }
            let b = match self.bootstrap.iter().position(|b| b.addr == addr) {
                Some(k) => self.bootstrap.swap_remove(k),
                None => Bootstrap::new(addr, now),
            };
            kept.push(b);
        }
        self.bootstrap = kept;
    }

    /// The bootstrap addresses, in the order given.
    pub fn bootstrap(&self) -> Vec<SocketAddr> {
        self.bootstrap.iter().map(|b| b.addr).collect()
    }

    /// Replaces the STUN servers with `servers`; if any is new, a round
    /// starts now.
    pub fn set_stun_servers(&mut self, now: Instant, servers: &[SocketAddr]) {
        self.stun.replace_servers(servers, now);
    }

    /// The configured STUN servers.
    pub fn stun_servers(&self) -> &[SocketAddr] {
        self.stun.servers()
    }
}

impl Bootstrap {
    /// An address to greet from `now` on.
    pub(super) fn new(addr: SocketAddr, now: Instant) -> Self {
        Self {
            addr,
            next_hello: now,
            interval: HELLO_INTERVAL,
            unanswered: 0,
            member: None,
        }
    }
}

#[cfg(test)]
// Tests start their virtual clock at any instant.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use crate::node::test_nodes::lone_node;
    use crate::node::Node;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([198, 51, 100, i], 9740))
    }

    /// Runs the node's timers at `now` and returns where it sent datagrams.
    fn sent_at(node: &mut Node, now: Instant) -> Vec<SocketAddr> {
        node.handle_timeout(now);
        std::iter::from_fn(|| node.poll_transmit())
            .map(|t| t.to)
            .collect()
    }

    #[test]
    fn a_new_bootstrap_address_is_greeted_at_once_and_a_removed_one_never() {
        let t0 = Instant::now();
        let mut node = lone_node(t0);
        assert!(sent_at(&mut node, t0).is_empty());
        let (x, y) = (addr(1), addr(2));
        let t1 = t0 + Duration::from_secs(5);
        node.set_bootstrap(t1, &[x, x]);
        assert_eq!(node.bootstrap(), vec![x]);
        assert!(node.poll_timeout().is_some_and(|t| t <= t1));
        assert_eq!(sent_at(&mut node, t1), vec![x]);
        // x keeps its backoff: adding y greets y only.
        node.set_bootstrap(t1, &[x, y]);
        assert_eq!(sent_at(&mut node, t1), vec![y]);
        // Without x, only y is greeted from now on.
        node.set_bootstrap(t1, &[y]);
        let later: Vec<SocketAddr> = (1..120)
            .flat_map(|s| sent_at(&mut node, t1 + Duration::from_secs(s)))
            .collect();
        assert!(later.contains(&y) && !later.contains(&x), "{later:?}");
        node.set_bootstrap(t1, &[]);
        assert!(node.bootstrap().is_empty());
    }

    #[test]
    fn new_stun_servers_are_asked_at_once() {
        let t0 = Instant::now();
        let mut node = lone_node(t0);
        let t1 = t0 + Duration::from_secs(5);
        assert!(sent_at(&mut node, t1).is_empty());
        let server = addr(50);
        node.set_stun_servers(t1, &[server]);
        assert_eq!(node.stun_servers(), &[server]);
        assert!(node.poll_timeout().is_some_and(|t| t <= t1));
        assert_eq!(sent_at(&mut node, t1), vec![server]);
        // The same list again starts no new round.
        node.set_stun_servers(t1, &[server]);
        assert!(sent_at(&mut node, t1).is_empty());
    }
}
