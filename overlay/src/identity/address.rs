//! Overlay addresses, computable by anyone from the network ID and a node ID.
//!
//! - IPv6: the network owns the ULA `/48` `fdXX:XXXX:XXXX::/48` whose 40 bits
//!   come from its network ID; a node's address fills the remaining 80 bits
//!   from a hash of its node ID. This is the authenticated address: only the
//!   holder of the node key has it.
//! - IPv4: each node has a sequence of candidate addresses in the network's
//!   IPv4 range ([`Ipv4Range`], by default `100.64.0.0/10`): hashes of
//!   network ID, node ID and the candidate's index, cut to the range's host
//!   bits. With 22 bits (16 in a `/16`), candidates collide, and a member can make up keys until one of its
//!   candidates is any address it likes, so IPv4 is held, not proven: each
//!   node keeps its own view ([`Ipv4Assignment`]) of itself and of the
//!   members it completed a handshake with. A member takes its first
//!   candidate that nobody in the view holds; an address held never moves
//!   to a newcomer (the one exception is a node's own address in its first
//!   minute in the network, when a member with a lower node ID that wants it
//!   takes it and the node moves on, so that two members that join together
//!   agree). Members only heard of hold nothing. A view tries at most
//!   [`MAX_IPV4_CANDIDATES`] candidates per member, so in a range that is
//!   full a member gets no IPv4 address (IPv6 always works).
//!
//! Every member of a network must use the same range: a member's IPv4
//! candidates are computed in the range of whoever computes them.
use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::{NetworkId, NodeId};

/// The `/48` IPv6 prefix of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPrefix {
    bytes: [u8; 6],
}

/// Prefix length of a network's IPv6 range.
pub const IPV6_PREFIX_LEN: u8 = 48;
/// Candidates a view tries for one member before it gives up and the
/// member holds no IPv4 address (only in a range that is nearly full).
pub const MAX_IPV4_CANDIDATES: u32 = 256;

/// The IPv4 range that overlay addresses come from (`--ipv4-range`): a
/// prefix of length [`Ipv4Range::MIN_PREFIX_LEN`] to
/// [`Ipv4Range::MAX_PREFIX_LEN`] with its host bits zero. The default is
/// the shared address space `100.64.0.0/10` (RFC 6598).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Range {
    base: Ipv4Addr,
    prefix_len: u8,
}

/// Why a text or a prefix is not an IPv4 range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ipv4RangeError {
    /// Not `A.B.C.D/LEN`.
    #[error("`{0}` is not an IPv4 prefix: write it as ADDRESS/LENGTH, e.g. 100.64.0.0/10")]
    Syntax(String),
    /// A prefix length outside the accepted bounds.
    #[error(
        "the prefix length /{0} is outside /{min}../{max}: a shorter prefix would route \
         a large part of the Internet into the overlay, a longer one leaves too few addresses",
        min = Ipv4Range::MIN_PREFIX_LEN,
        max = Ipv4Range::MAX_PREFIX_LEN
    )]
    PrefixLength(u8),
    /// Bits set after the prefix.
    #[error("{given} has host bits set: the range is {suggested}")]
    HostBits {
        /// The text given.
        given: String,
        /// The same prefix with the host bits cleared.
        suggested: String,
    },
}

impl Ipv4Range {
    /// The default range, `100.64.0.0/10`.
    pub const DEFAULT: Self = Self {
        base: Ipv4Addr::new(100, 64, 0, 0),
        prefix_len: 10,
    };
    /// The shortest prefix accepted: a `/8` is already 16 million addresses.
    pub const MIN_PREFIX_LEN: u8 = 8;
    /// The longest prefix accepted: a `/24` leaves 254 addresses.
    pub const MAX_PREFIX_LEN: u8 = 24;

    /// The range `base/prefix_len`.
    ///
    /// # Errors
    /// If the length is outside [`Self::MIN_PREFIX_LEN`]..=[`Self::MAX_PREFIX_LEN`]
    /// or `base` has host bits set.
    pub fn new(base: Ipv4Addr, prefix_len: u8) -> Result<Self, Ipv4RangeError> {
        if !(Self::MIN_PREFIX_LEN..=Self::MAX_PREFIX_LEN).contains(&prefix_len) {
            return Err(Ipv4RangeError::PrefixLength(prefix_len));
        }
        let range = Self { base, prefix_len };
        if u32::from(base) & range.host_mask() != 0 {
            let cleared = Ipv4Addr::from(u32::from(base) & !range.host_mask());
            return Err(Ipv4RangeError::HostBits {
                given: format!("{base}/{prefix_len}"),
                suggested: format!("{cleared}/{prefix_len}"),
            });
        }
        Ok(range)
    }

    /// The first address of the range (host bits zero).
    pub fn base(&self) -> Ipv4Addr {
        self.base
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `addr` lies in the range.
    pub fn contains(&self, addr: &Ipv4Addr) -> bool {
        u32::from(*addr) & !self.host_mask() == u32::from(self.base)
    }

    /// The host bits of an address of the range.
    fn host_mask(&self) -> u32 {
        u32::MAX >> self.prefix_len
    }

    /// The address of the range with host part `bits` (cut to the host bits).
    fn with_host(&self, bits: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) | (bits & self.host_mask()))
    }

    /// Whether `addr` may be a node's: not the first or last of the range.
    fn usable(&self, addr: Ipv4Addr) -> bool {
        let host = u32::from(addr) & self.host_mask();
        host != 0 && host != self.host_mask()
    }
}

impl Default for Ipv4Range {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix_len)
    }
}

impl FromStr for Ipv4Range {
    type Err = Ipv4RangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || Ipv4RangeError::Syntax(s.to_owned());
        let (addr, len) = s.trim().split_once('/').ok_or_else(syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| syntax())?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 2 {
            return Err(syntax());
        }
        let len: u8 = len.parse().map_err(|_| syntax())?;
        if len > 32 {
            return Err(syntax());
        }
        Self::new(addr, len)
    }
}

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
/// candidate in `range` (which a collision while the address is
/// provisional may move, see [`Ipv4Assignment`]).
pub fn initial_addresses(
    range: &Ipv4Range,
    network: &NetworkId,
    node: &NodeId,
) -> (Ipv6Addr, Ipv4Addr) {
    (
        NetworkPrefix::of(network).node_addr(node),
        first_ipv4(range, network, node),
    )
}

/// The first usable IPv4 candidate of `node`: the address it starts with,
/// and the one others expect of it before they hold another member there.
pub fn first_ipv4(range: &Ipv4Range, network: &NetworkId, node: &NodeId) -> Ipv4Addr {
    // Two of a range's addresses are unusable, so a usable candidate comes
    // within a few tries; hashes that all miss are not a practical concern.
    (0u32..)
        .map(|k| ipv4_candidate(range, network, node, k))
        .find(|a| range.usable(*a))
        .expect("the candidate sequence is unbounded")
}

/// The `k`-th IPv4 candidate of `node` in `network`, in `range`.
pub fn ipv4_candidate(range: &Ipv4Range, network: &NetworkId, node: &NodeId, k: u32) -> Ipv4Addr {
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
    range.with_host(v)
}

/// One node's view of who holds which IPv4 address: the node itself and the
/// members it completed a handshake with (verified), never members it only
/// heard of. See the module documentation for the rule.
#[derive(Debug, Clone)]
pub struct Ipv4Assignment {
    range: Ipv4Range,
    me: NodeId,
    by_node: HashMap<NodeId, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, NodeId>,
}

impl Ipv4Assignment {
    /// The view of node `me`, alone, in `range`: it holds its first
    /// candidate.
    pub fn new(range: Ipv4Range, network: &NetworkId, me: NodeId) -> Self {
        let mut out = Self {
            range,
            me,
            by_node: HashMap::new(),
            by_addr: HashMap::new(),
        };
        out.take(me, first_ipv4(&range, network, &me));
        out
    }

    /// The range the addresses come from.
    pub fn range(&self) -> Ipv4Range {
        self.range
    }

    /// Adds a verified member: it takes its first candidate that nobody in
    /// this view holds. An address held stays with its holder, with one
    /// exception: while our own address is `provisional` (we only just
    /// joined, nothing uses it yet), a member with a lower node ID that
    /// wants it takes it, and we move to our own first free candidate, as
    /// that member's view will have it (unless no candidate of ours is
    /// free). Returns our new address if it moved. Costs one probe per held
    /// candidate skipped (about one); after [`MAX_IPV4_CANDIDATES`] the
    /// member holds nothing.
    pub fn insert(
        &mut self,
        network: &NetworkId,
        node: NodeId,
        provisional: bool,
    ) -> Option<Ipv4Addr> {
        if self.by_node.contains_key(&node) {
            return None;
        }
        for k in 0..MAX_IPV4_CANDIDATES {
            let addr = ipv4_candidate(&self.range, network, &node, k);
            if !self.range.usable(addr) {
                continue;
            }
            match self.by_addr.get(&addr).copied() {
                None => {
                    self.take(node, addr);
                    return None;
                }
                Some(holder) if holder == self.me && provisional && node < self.me => {
                    let Some(mine) = self.first_free(network, self.me, addr) else {
                        continue;
                    };
                    self.take(node, addr);
                    self.take(self.me, mine);
                    return Some(mine);
                }
                Some(_) => {}
            }
        }
        None
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

    /// `node`'s first candidate not held by anyone else, nor `given_up`
    /// (the address it is about to hand over); `None` if none of its
    /// candidates is.
    fn first_free(
        &self,
        network: &NetworkId,
        node: NodeId,
        given_up: Ipv4Addr,
    ) -> Option<Ipv4Addr> {
        (0..MAX_IPV4_CANDIDATES)
            .map(|k| ipv4_candidate(&self.range, network, &node, k))
            .find(|a| {
                *a != given_up
                    && self.range.usable(*a)
                    && self.by_addr.get(a).is_none_or(|h| *h == node)
            })
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

    /// The default range, which these tests use unless they say otherwise.
    const R: Ipv4Range = Ipv4Range::DEFAULT;

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
            .find_map(|m| seen.insert(first_ipv4(&R, net, m), *m).map(|p| (p, *m)))
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
        let mut view = Ipv4Assignment::new(R, &net, me);
        assert_eq!(view.insert(&net, high, false), None);
        let held = view.addr_of(&high).unwrap();
        assert_eq!(held, first_ipv4(&R, &net, &high));
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
        let addr = first_ipv4(&R, &net, &high);
        // Settled: we keep it, whoever comes.
        let mut settled = Ipv4Assignment::new(R, &net, high);
        assert_eq!(settled.insert(&net, low, false), None);
        assert_eq!(settled.owner_of(&addr), Some(high));
        // Provisional, and a higher ID comes: we keep it.
        let mut keep = Ipv4Assignment::new(R, &net, low);
        assert_eq!(keep.insert(&net, high, true), None);
        assert_eq!(keep.owner_of(&addr), Some(low));
        // Provisional, and a lower ID comes: we move, as its view says.
        let mut yields = Ipv4Assignment::new(R, &net, high);
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
            by_first
                .entry(first_ipv4(&R, &net, m))
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
        let me = members.pop().expect("members");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut view = Ipv4Assignment::new(R, &net, me);
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
                assert!(R.contains(a) && R.usable(*a));
            }
        }
    }

    #[test]
    fn ranges_parse_and_refuse_what_they_should() {
        let r: Ipv4Range = "100.96.0.0/12".parse().unwrap();
        assert_eq!(
            (r.base(), r.prefix_len()),
            (Ipv4Addr::new(100, 96, 0, 0), 12)
        );
        assert_eq!(r.to_string(), "100.96.0.0/12");
        assert_eq!(
            " 10.213.0.0/16 ".parse::<Ipv4Range>().unwrap().prefix_len(),
            16
        );
        assert_eq!(Ipv4Range::default(), Ipv4Range::DEFAULT);
        assert_eq!(Ipv4Range::DEFAULT.to_string(), "100.64.0.0/10");
        for bad in [
            "",
            "100.64.0.0",
            "100.64.0.0/",
            "100.64.0/10",
            "x/10",
            "100.64.0.0/+9",
            "100.64.0.0/33",
            "100.64.0.0/123",
        ] {
            assert!(
                matches!(bad.parse::<Ipv4Range>(), Err(Ipv4RangeError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(
            "10.0.0.0/7".parse::<Ipv4Range>(),
            Err(Ipv4RangeError::PrefixLength(7))
        );
        assert_eq!(
            "10.1.2.0/25".parse::<Ipv4Range>(),
            Err(Ipv4RangeError::PrefixLength(25))
        );
        let e = "100.64.1.0/10".parse::<Ipv4Range>().unwrap_err();
        assert!(e.to_string().contains("100.64.0.0/10"), "{e}");
        assert!("8.0.0.0/8".parse::<Ipv4Range>().is_ok());
        assert!("192.168.7.0/24".parse::<Ipv4Range>().is_ok());
    }

    #[test]
    fn contains_is_exactly_the_prefix() {
        let r: Ipv4Range = "10.213.0.0/16".parse().unwrap();
        assert!(r.contains(&Ipv4Addr::new(10, 213, 0, 0)));
        assert!(r.contains(&Ipv4Addr::new(10, 213, 255, 255)));
        assert!(!r.contains(&Ipv4Addr::new(10, 212, 255, 255)));
        assert!(!r.contains(&Ipv4Addr::new(10, 214, 0, 0)));
        let d = Ipv4Range::DEFAULT;
        assert!(d.contains(&Ipv4Addr::new(100, 127, 255, 255)));
        assert!(!d.contains(&Ipv4Addr::new(100, 128, 0, 0)));
        assert!(!d.contains(&Ipv4Addr::new(100, 63, 255, 255)));
    }

    /// The default range gives the addresses that the fixed `100.64.0.0/10`
    /// gave before the range could be configured: the low 22 bits of the
    /// hash after the range's first address.
    #[test]
    fn the_default_range_keeps_the_addresses_it_always_gave() {
        let net = NetworkKey::from_secret([9; 32]).id();
        for node in ids(50) {
            for k in 0..4 {
                let mut h = blake3::Hasher::new_derive_key("tessel 2026 node ipv4");
                h.update(net.as_bytes());
                h.update(node.as_bytes());
                h.update(&u32::to_le_bytes(k));
                let d = h.finalize();
                let v = u32::from_le_bytes(d.as_bytes()[..4].try_into().unwrap());
                let old = Ipv4Addr::from(0x6440_0000 | (v & ((1 << 22) - 1)));
                assert_eq!(ipv4_candidate(&R, &net, &node, k), old);
            }
        }
    }

    #[test]
    fn candidates_in_another_range_keep_their_host_bits() {
        let net = NetworkKey::from_secret([3; 32]).id();
        let small: Ipv4Range = "10.213.0.0/16".parse().unwrap();
        for node in ids(200) {
            let a = first_ipv4(&small, &net, &node);
            assert!(small.contains(&a) && small.usable(a), "{a}");
            let (_, v4) = initial_addresses(&small, &net, &node);
            assert_eq!(v4, a);
            // The same hash: the host bits that both ranges share agree.
            let d = ipv4_candidate(&R, &net, &node, 0);
            assert_eq!(
                u32::from(ipv4_candidate(&small, &net, &node, 0)) & 0xffff,
                u32::from(d) & 0xffff
            );
        }
    }

    /// In a `/24` with more members than addresses, every member that gets
    /// an address gets its own, inside the range, and the rest get none;
    /// nothing loops forever.
    #[test]
    fn a_full_range_leaves_the_last_members_without_ipv4() {
        let net = NetworkKey::from_secret([6; 32]).id();
        let tiny: Ipv4Range = "192.168.7.0/24".parse().unwrap();
        let members = ids(400);
        let mut view = Ipv4Assignment::new(tiny, &net, members[0]);
        assert_eq!(view.range(), tiny);
        for (i, m) in members.iter().enumerate().skip(1) {
            let moved = view.insert(&net, *m, i % 2 == 0);
            if let Some(mine) = moved {
                assert!(tiny.contains(&mine));
            }
        }
        let held: Vec<Ipv4Addr> = members.iter().filter_map(|m| view.addr_of(m)).collect();
        let mut distinct = held.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), held.len(), "an address held twice");
        assert!(held.iter().all(|a| tiny.contains(a) && tiny.usable(*a)));
        assert!(held.len() <= 254 && held.len() > 200, "{} held", held.len());
        assert!(view.addr_of(&members[0]).is_some(), "we always hold one");
    }
}
