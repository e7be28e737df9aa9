//! Overlay addresses, computable by anyone from the network ID and a node ID.
//!
//! - IPv6: the network owns the ULA `/48` `fdXX:XXXX:XXXX::/48` whose 40 bits
//!   come from its network ID; a node's address fills the remaining 80 bits
//!   from a hash of its node ID. This is the authenticated address: only the
//!   holder of the node key has it.
//! - IPv4: each node has a sequence of candidate addresses in `100.64.0.0/10`
//!   (hashes of network ID, node ID and the candidate's index). With 22 bits,
//!   candidates collide, and a member can make up keys until one of its
//!   candidates is any address it likes, so IPv4 is held, not proven: each
//!   node keeps its own view ([`Ipv4Assignment`]) of itself and of the
//!   members it completed a handshake with. A member takes its first
//!   candidate that nobody in the view holds; an address held never moves
//!   to a newcomer (the one exception is a node's own address in its first
//!   minute in the network, when a member with a lower node ID that wants it
//!   takes it and the node moves on, so that two members that join together
//!   agree). Members only heard of hold nothing.
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
/// candidate (which a collision while the address is provisional may move,
/// see [`Ipv4Assignment`]).
pub fn initial_addresses(network: &NetworkId, node: &NodeId) -> (Ipv6Addr, Ipv4Addr) {
    (
        NetworkPrefix::of(network).node_addr(node),
        first_ipv4(network, node),
    )
}

/// The first usable IPv4 candidate of `node`: the address it starts with,
/// and the one others expect of it before they hold another member there.
pub fn first_ipv4(network: &NetworkId, node: &NodeId) -> Ipv4Addr {
    (0u32..)
        .map(|k| ipv4_candidate(network, node, k))
        .find(|a| usable(*a))
        .expect("the candidate sequence is unbounded")
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

/// One node's view of who holds which IPv4 address: the node itself and the
/// members it completed a handshake with (verified), never members it only
/// heard of. See the module documentation for the rule.
#[derive(Debug, Clone)]
pub struct Ipv4Assignment {
    me: NodeId,
    by_node: HashMap<NodeId, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, NodeId>,
}

impl Ipv4Assignment {
    /// The view of node `me`, alone: it holds its first candidate.
    pub fn new(network: &NetworkId, me: NodeId) -> Self {
        let mut out = Self {
            me,
            by_node: HashMap::new(),
            by_addr: HashMap::new(),
        };
        out.take(me, first_ipv4(network, &me));
        out
    }

    /// Adds a verified member: it takes its first candidate that nobody in
    /// this view holds. An address held stays with its holder, with one
    /// exception: while our own address is `provisional` (we only just
    /// joined, nothing uses it yet), a member with a lower node ID that
    /// wants it takes it, and we move to our own first free candidate, as
    /// that member's view will have it. Returns our new address if it moved.
    /// Costs one probe per held candidate skipped (about one).
    pub fn insert(
        &mut self,
        network: &NetworkId,
        node: NodeId,
        provisional: bool,
    ) -> Option<Ipv4Addr> {
        if self.by_node.contains_key(&node) {
            return None;
        }
        for k in 0u32.. {
            let addr = ipv4_candidate(network, &node, k);
            if !usable(addr) {
                continue;
            }
            match self.by_addr.get(&addr).copied() {
                None => {
                    self.take(node, addr);
                    return None;
                }
                Some(holder) if holder == self.me && provisional && node < self.me => {
                    self.take(node, addr);
                    let mine = self.first_free(network, self.me);
                    self.take(self.me, mine);
                    return Some(mine);
                }
                Some(_) => {}
            }
        }
        unreachable!("the candidate sequence is unbounded")
    }

    /// Removes a member (never ourselves). Nobody moves: an address freed
    /// waits for the next member that wants it. Constant time.
    pub fn remove(&mut self, node: &NodeId) {
        if *node == self.me {
            return;
        }
        if let Some(addr) = self.by_node.remove(node) {
            if self.by_addr.get(&addr) == Some(node) {
                self.by_addr.remove(&addr);
            }
        }
    }

    /// `node`'s first candidate not held by anyone else.
    fn first_free(&self, network: &NetworkId, node: NodeId) -> Ipv4Addr {
        (0u32..)
            .map(|k| ipv4_candidate(network, &node, k))
            .find(|a| usable(*a) && self.by_addr.get(a).is_none_or(|h| *h == node))
            .expect("the candidate sequence is unbounded")
    }

    fn take(&mut self, node: NodeId, addr: Ipv4Addr) {
        if let Some(old) = self.by_node.insert(node, addr) {
            if self.by_addr.get(&old) == Some(&node) {
                self.by_addr.remove(&old);
            }
        }
        self.by_addr.insert(addr, node);
    }

    /// The address `node` holds in this view, if it is ourselves or a
    /// verified member.
    pub fn addr_of(&self, node: &NodeId) -> Option<Ipv4Addr> {
        self.by_node.get(node).copied()
    }

    /// The member (or ourselves) that holds `addr` in this view.
    pub fn owner_of(&self, addr: &Ipv4Addr) -> Option<NodeId> {
        self.by_addr.get(addr).copied()
    }
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

    /// Two members among `pool` whose first candidates collide.
    fn colliding(net: &NetworkId, pool: &[NodeId]) -> (NodeId, NodeId) {
        let mut seen = HashMap::new();
        pool.iter()
            .find_map(|m| seen.insert(first_ipv4(net, m), *m).map(|p| (p, *m)))
            .expect("a first-candidate collision among the pool")
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
    fn a_held_address_never_moves_to_a_newcomer() {
        let net = NetworkKey::from_secret([1; 32]).id();
        let (x, y) = colliding(&net, &ids(6000));
        let (low, high) = (x.min(y), x.max(y));
        let me = ids(1)[0];
        // `high` holds the address; `low` comes later and wants it too.
        let mut view = Ipv4Assignment::new(&net, me);
        assert_eq!(view.insert(&net, high, false), None);
        let held = view.addr_of(&high).unwrap();
        assert_eq!(held, first_ipv4(&net, &high));
        assert_eq!(view.insert(&net, low, true), None);
        assert_eq!(view.addr_of(&high), Some(held));
        assert_eq!(view.owner_of(&held), Some(high));
        let other = view.addr_of(&low).unwrap();
        assert_ne!(other, held);
        assert_eq!(view.owner_of(&other), Some(low));
        // The holder leaves: nobody moves; the address waits for the next.
        view.remove(&high);
        assert_eq!(view.owner_of(&held), None);
        assert_eq!(view.addr_of(&low), Some(other));
    }

    #[test]
    fn our_own_address_yields_only_while_provisional_and_to_a_lower_id() {
        let net = NetworkKey::from_secret([1; 32]).id();
        let (x, y) = colliding(&net, &ids(6000));
        let (low, high) = (x.min(y), x.max(y));
        let addr = first_ipv4(&net, &high);
        // Settled: we keep it, whoever comes.
        let mut settled = Ipv4Assignment::new(&net, high);
        assert_eq!(settled.insert(&net, low, false), None);
        assert_eq!(settled.owner_of(&addr), Some(high));
        // Provisional, and a higher ID comes: we keep it.
        let mut keep = Ipv4Assignment::new(&net, low);
        assert_eq!(keep.insert(&net, high, true), None);
        assert_eq!(keep.owner_of(&addr), Some(low));
        // Provisional, and a lower ID comes: we move, as its view says.
        let mut yields = Ipv4Assignment::new(&net, high);
        let moved = yields.insert(&net, low, true).expect("we move");
        assert_eq!(yields.owner_of(&addr), Some(low));
        assert_eq!(yields.addr_of(&high), Some(moved));
        assert_eq!(keep.addr_of(&high), Some(moved), "both views agree");
    }

    /// Random joins and departures: every holder keeps its address while it
    /// stays, and the view stays a bijection.
    #[test]
    fn holders_keep_their_address_through_random_changes() {
        use rand_chacha::ChaCha8Rng;
        use rand_core::{RngCore, SeedableRng};
        let net = NetworkKey::from_secret([4; 32]).id();
        // Members that pairwise collide, so the rule is exercised.
        let pool = ids(7000);
        let mut by_first: HashMap<Ipv4Addr, Vec<NodeId>> = HashMap::new();
        for m in &pool {
            by_first.entry(first_ipv4(&net, m)).or_default().push(*m);
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
        let me = members.pop().expect("members");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut view = Ipv4Assignment::new(&net, me);
        let mut held: HashMap<NodeId, Ipv4Addr> = HashMap::new();
        held.insert(me, view.addr_of(&me).unwrap());
        for _ in 0..2000 {
            let m = members[(rng.next_u32() as usize) % members.len()];
            if held.contains_key(&m) {
                view.remove(&m);
                held.remove(&m);
            } else {
                let provisional = rng.next_u32().is_multiple_of(2);
                if let Some(mine) = view.insert(&net, m, provisional) {
                    held.insert(me, mine);
                }
                held.insert(m, view.addr_of(&m).unwrap());
            }
            assert_eq!(view.by_node.len(), held.len());
            assert_eq!(view.by_addr.len(), held.len());
            for (n, a) in &held {
                assert_eq!(view.addr_of(n), Some(*a));
                assert_eq!(view.owner_of(a), Some(*n));
                assert!(in_ipv4_range(a) && usable(*a));
            }
        }
    }
}
