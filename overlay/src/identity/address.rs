//! Overlay addresses, computable by anyone from the network ID and a node ID.
//!
//! - IPv6: the network owns the ULA `/48` `fdXX:XXXX:XXXX::/48` whose 40 bits
//!   come from its network ID; a node's address fills the remaining 80 bits
//!   from a hash of its node ID.
//! - IPv4: each node has a sequence of candidate addresses in `100.64.0.0/10`
//!   (hashes of network ID, node ID and the candidate's index). Among the known
//!   members, sorted by node ID, each takes its first candidate not already
//!   taken by a member sorted before it. Every node that knows the same members
//!   computes the same assignment, so a collision is resolved the same way
//!   everywhere, and an address always maps to exactly one member.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{NetworkId, NodeId};

/// The `/48` IPv6 prefix of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPrefix {
    bytes: [u8; 6],
}

/// Prefix length of a network's IPv6 range.
pub const IPV6_PREFIX_LEN: u8 = 48;
/// The IPv4 range that overlay addresses come from.
pub const IPV4_RANGE: (Ipv4Addr, u8) = (Ipv4Addr::new(100, 64, 0, 0), 10);

impl NetworkPrefix {
    /// The prefix of the network with this ID.
    pub fn of(network: &NetworkId) -> Self {
        let h = blake3::derive_key("tessel 2026 ula prefix", network.as_bytes());
        let mut bytes = [0u8; 6];
        bytes[0] = 0xfd;
        bytes[1..6].copy_from_slice(&h[..5]);
        Self { bytes }
    }

    /// The prefix as an address with the host bits zero.
    pub fn addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&self.bytes);
        Ipv6Addr::from(o)
    }

    /// The overlay IPv6 address of `node` in this network.
    pub fn node_addr(&self, node: &NodeId) -> Ipv6Addr {
        let h = blake3::derive_key("tessel 2026 node ipv6", node.as_bytes());
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&self.bytes);
        o[6..].copy_from_slice(&h[..10]);
        Ipv6Addr::from(o)
    }

    /// The overlay address that the record key `key` maps to: the members
    /// whose addresses are nearest it keep the record (see
    /// [`crate::wire::record`]). No member owns it.
    pub fn record_addr(&self, key: &[u8; 32]) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&self.bytes);
        o[6..].copy_from_slice(&key[..10]);
        Ipv6Addr::from(o)
    }

    /// Whether `addr` lies inside this network's `/48`.
    pub fn contains(&self, addr: &Ipv6Addr) -> bool {
        addr.octets()[..6] == self.bytes
    }
}

/// The addresses a node starts with: its IPv6 address, and its first IPv4
/// candidate (which a collision may later move, see the module doc).
pub fn initial_addresses(network: &NetworkId, node: &NodeId) -> (Ipv6Addr, Ipv4Addr) {
    let ipv4 = Ipv4Assignment::compute(network, [*node].iter())
        .addr_of(node)
        .expect("a member is assigned");
    (NetworkPrefix::of(network).node_addr(node), ipv4)
}

/// The `k`-th IPv4 candidate of `node` in `network`.
pub fn ipv4_candidate(network: &NetworkId, node: &NodeId, k: u32) -> Ipv4Addr {
    let mut h = blake3::Hasher::new_derive_key("tessel 2026 node ipv4");
    h.update(network.as_bytes());
    h.update(node.as_bytes());
    h.update(&k.to_le_bytes());
    let d = h.finalize();
    let v = u32::from_le_bytes([
        d.as_bytes()[0],
        d.as_bytes()[1],
        d.as_bytes()[2],
        d.as_bytes()[3],
    ]);
    let host = v & ((1 << 22) - 1);
    Ipv4Addr::from(u32::from(IPV4_RANGE.0) | host)
}

/// Whether `addr` is usable as a node's IPv4 (not the first or last of the range).
fn usable(addr: Ipv4Addr) -> bool {
    let host = u32::from(addr) & ((1 << 22) - 1);
    host != 0 && host != (1 << 22) - 1
}

/// Whether `addr` lies in the overlay's IPv4 range.
pub fn in_ipv4_range(addr: &Ipv4Addr) -> bool {
    u32::from(*addr) >> 22 == u32::from(IPV4_RANGE.0) >> 22
}

/// The IPv4 addresses of a set of members, resolved as the module doc says,
/// and kept up to date as members come and go.
#[derive(Debug, Clone, Default)]
pub struct Ipv4Assignment {
    /// Each member's address and the index of the candidate it holds.
    by_node: HashMap<NodeId, (Ipv4Addr, u32)>,
    by_addr: HashMap<Ipv4Addr, NodeId>,
}

impl Ipv4Assignment {
    /// Computes the assignment for `members` (duplicates are ignored).
    pub fn compute<'a>(network: &NetworkId, members: impl IntoIterator<Item = &'a NodeId>) -> Self {
        let mut out = Self::default();
        for m in members {
            out.insert(network, *m);
        }
        out
    }

    /// Adds a member. A member with a lower node ID may take the address of
    /// one with a higher ID, which then moves on to its next free candidate:
    /// the result is the same as computing the whole set from scratch.
    /// Returns the members whose address changed (the new one included).
    pub fn insert(&mut self, network: &NetworkId, node: NodeId) -> Vec<NodeId> {
        let mut moved = Vec::new();
        if self.by_node.contains_key(&node) {
            return moved;
        }
        let mut placing = Some((node, 0u32));
        while let Some((n, from_k)) = placing.take() {
            moved.push(n);
            for k in from_k.. {
                let addr = ipv4_candidate(network, &n, k);
                if !usable(addr) {
                    continue;
                }
                match self.by_addr.get(&addr).copied() {
                    None => {
                        self.take(n, addr, k);
                        break;
                    }
                    Some(holder) if holder > n => {
                        // The lower ID wins; the holder moves on.
                        let (_, holder_k) = self.by_node[&holder];
                        self.take(n, addr, k);
                        placing = Some((holder, holder_k + 1));
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
        moved
    }

    /// Removes a member; members that wanted its address move back. Returns
    /// the members whose address changed.
    pub fn remove(&mut self, network: &NetworkId, node: &NodeId) -> Vec<NodeId> {
        if self.by_node.remove(node).is_none() {
            return Vec::new();
        }
        let before = std::mem::take(&mut self.by_node);
        let mut members: Vec<NodeId> = before.keys().copied().collect();
        members.sort_unstable();
        self.by_addr.clear();
        for m in members {
            // Lower members are already placed, so each takes its first free candidate.
            let (addr, k) = (0u32..)
                .map(|k| (ipv4_candidate(network, &m, k), k))
                .find(|(a, _)| usable(*a) && !self.by_addr.contains_key(a))
                .expect("the candidate sequence is unbounded");
            self.take(m, addr, k);
        }
        let mut moved: Vec<NodeId> = self
            .by_node
            .iter()
            .filter(|(n, (a, _))| before.get(n).map(|b| b.0) != Some(*a))
            .map(|(n, _)| *n)
            .collect();
        moved.sort_unstable();
        moved
    }

    fn take(&mut self, node: NodeId, addr: Ipv4Addr, k: u32) {
        if let Some((old, _)) = self.by_node.insert(node, (addr, k)) {
            if self.by_addr.get(&old) == Some(&node) {
                self.by_addr.remove(&old);
            }
        }
        self.by_addr.insert(addr, node);
    }

    /// The address assigned to `node`, if it is a member.
    pub fn addr_of(&self, node: &NodeId) -> Option<Ipv4Addr> {
        self.by_node.get(node).map(|(a, _)| *a)
    }

    /// The member that owns `addr`.
    pub fn owner_of(&self, addr: &Ipv4Addr) -> Option<NodeId> {
        self.by_addr.get(addr).copied()
    }
}

/// The assignment by its definition, for differential tests.
#[cfg(test)]
fn reference_assignment(network: &NetworkId, members: &[NodeId]) -> HashMap<NodeId, Ipv4Addr> {
    use std::collections::HashSet;
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut taken = HashSet::new();
    let mut out = HashMap::new();
    for node in sorted {
        let addr = (0u32..)
            .map(|k| ipv4_candidate(network, &node, k))
            .find(|a| usable(*a) && !taken.contains(a))
            .expect("unbounded");
        taken.insert(addr);
        out.insert(node, addr);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{NetworkKey, NodeKey};

    fn ids(n: u32) -> Vec<NodeId> {
        (0..n)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                NodeKey::from_seed(seed).id()
            })
            .collect()
    }

    #[test]
    fn ipv6_is_inside_the_network_prefix() {
        let net = NetworkKey::from_secret([1; 32]).id();
        let p = NetworkPrefix::of(&net);
        let a = p.node_addr(&ids(1)[0]);
        assert!(p.contains(&a));
        assert_eq!(a.octets()[0], 0xfd);
        let other = NetworkPrefix::of(&NetworkKey::from_secret([2; 32]).id());
        assert!(!other.contains(&a));
    }

    #[test]
    fn ipv4_collisions_resolve_the_same_way_in_any_order() {
        let net = NetworkKey::from_secret([1; 32]).id();
        let members = ids(6000);
        // With 6000 members in 2^22 addresses, first candidates collide.
        let mut seen = HashMap::new();
        let mut collision = None;
        for m in &members {
            if let Some(prev) = seen.insert(ipv4_candidate(&net, m, 0), *m) {
                collision = Some((prev, *m));
                break;
            }
        }
        let (a, b) = collision.expect("a first-candidate collision among 6000 members");
        assert_eq!(
            reference_assignment(&net, &[a, b])[&a.min(b)],
            ipv4_candidate(&net, &a.min(b), 0)
        );
        let forward = Ipv4Assignment::compute(&net, [a, b].iter());
        let backward = Ipv4Assignment::compute(&net, [b, a].iter());
        for n in [a, b] {
            assert_eq!(forward.addr_of(&n), backward.addr_of(&n));
        }
        assert_ne!(forward.addr_of(&a), forward.addr_of(&b));
        let low = a.min(b);
        assert_eq!(forward.addr_of(&low), Some(ipv4_candidate(&net, &low, 0)));
    }

    #[test]
    fn assignment_is_a_bijection_and_in_range() {
        let net = NetworkKey::from_secret([3; 32]).id();
        let members = ids(5000);
        let asg = Ipv4Assignment::compute(&net, members.iter());
        for m in &members {
            let a = asg.addr_of(m).unwrap();
            assert!(in_ipv4_range(&a) && usable(a));
            assert_eq!(asg.owner_of(&a), Some(*m));
        }
    }

    /// Members whose first candidates collide in a tiny address space: the
    /// incremental assignment equals the definition after every insert and
    /// removal, in random orders.
    #[test]
    fn incremental_matches_definition() {
        use rand_chacha::ChaCha8Rng;
        use rand_core::{RngCore, SeedableRng};
        let net = NetworkKey::from_secret([4; 32]).id();
        // Find members that pairwise collide, so the cascade is exercised.
        let pool = ids(7000);
        let mut by_first: HashMap<Ipv4Addr, Vec<NodeId>> = HashMap::new();
        for m in &pool {
            by_first
                .entry(ipv4_candidate(&net, m, 0))
                .or_default()
                .push(*m);
        }
        let mut members: Vec<NodeId> = by_first
            .values()
            .filter(|v| v.len() > 1)
            .flatten()
            .copied()
            .collect();
        members.extend(pool.iter().take(40));
        members.sort_unstable();
        members.dedup();
        assert!(
            members.len() > 45,
            "collisions found: {}",
            members.len() - 40
        );
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _round in 0..20 {
            let mut inc = Ipv4Assignment::default();
            let mut present: Vec<NodeId> = Vec::new();
            for _ in 0..120 {
                let m = members[(rng.next_u32() as usize) % members.len()];
                if present.contains(&m) && rng.next_u32() % 3 == 0 {
                    inc.remove(&net, &m);
                    present.retain(|x| *x != m);
                } else if !present.contains(&m) {
                    inc.insert(&net, m);
                    present.push(m);
                }
                let want = reference_assignment(&net, &present);
                for p in &present {
                    assert_eq!(inc.addr_of(p), Some(want[p]));
                    assert_eq!(inc.owner_of(&want[p]), Some(*p));
                }
                assert_eq!(inc.by_addr.len(), present.len());
            }
        }
    }
}
