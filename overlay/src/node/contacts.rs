//! Contacts at every distance: the structure that lets a message for any
//! overlay address find its way without a route to it.
//!
//! Members are placed by their **key**, their overlay IPv6 address read as a
//! 128-bit number (all members share the network's prefix, so only the 80
//! bits derived from the node ID differ). The distance between two keys is
//! their XOR, as in Kademlia. A node sorts the other members into
//! **buckets** by the length of the prefix their key shares with its own:
//! bucket `b` holds the members whose key first differs from ours at bit
//! `b`, about half of the network in the first bucket, a quarter in the
//! next, down to the one or two members nearest to us.
//!
//! A node makes one member of every bucket it knows a member in a
//! **neighbour** (a session kept at all times), nearest buckets first, up to
//! [`MAX_CONTACTS`] neighbours in all. A member of the bucket in which a key
//! lies is closer to that key than we are, so **greedy forwarding** (pass a
//! message to the member with a direct session that is closest to its
//! target) moves it at least one bit closer per hop and arrives within
//! about log2(n) hops: at the target's owner, or at a member with a session
//! to it. Anyone can compute the key of a node ID, and the key of an
//! overlay address is the address itself, so a message needs no more than
//! the address it is for.

use std::net::Ipv6Addr;
use std::time::Instant;

use super::Node;
use crate::identity::NodeId;
use crate::limits::MAX_CONTACTS;

/// The key of an overlay address.
pub(crate) fn key(addr: Ipv6Addr) -> u128 {
    u128::from(addr)
}

/// The bucket of `other` seen from `me`: the number of leading bits their
/// keys share (128 for the same key).
fn bucket(me: u128, other: u128) -> usize {
    (me ^ other).leading_zeros() as usize
}

impl Node {
    /// The key of a member.
    pub(crate) fn key_of(&self, id: &NodeId) -> u128 {
        match self.peers.get(id) {
            Some(p) => key(p.ipv6),
            None => key(self.prefix.node_addr(id)),
        }
    }

    /// Whether `id` takes messages from us as a hop: a direct session that
    /// answers.
    pub(crate) fn usable_hop(&self, now: Instant, id: &NodeId) -> bool {
        self.peers
            .get(id)
            .is_some_and(|p| p.relay_hop.is_none() && p.reachable(now))
    }

    /// The member with a direct session that answers whose key is closest to
    /// `target`, if it is closer than ours; never `came_from`.
    pub(crate) fn greedy_hop(
        &self,
        now: Instant,
        target: u128,
        came_from: Option<NodeId>,
    ) -> Option<NodeId> {
        self.closest_hop(now, target, came_from.as_slice(), true)
    }

    /// The member with a direct session that answers whose key is closest to
    /// `target`, never one of `avoid`; if `closer` only one closer than us
    /// (a message we start may take a first step away: from there on each
    /// step is closer).
    pub(crate) fn closest_hop(
        &self,
        now: Instant,
        target: u128,
        avoid: &[NodeId],
        closer: bool,
    ) -> Option<NodeId> {
        let ours = key(self.ipv6) ^ target;
        // Nearest first by the keys alone; only then is each member looked
        // at, and usually the first one answers.
        let mut by_distance: Vec<(u128, NodeId)> = self
            .peers
            .session_keys_as_filed()
            .map(|(id, k)| (k ^ target, id))
            .filter(|(d, id)| (!closer || *d < ours) && !avoid.contains(id))
            .collect();
        by_distance.sort_unstable();
        by_distance
            .into_iter()
            .find(|(_, id)| {
                self.peers
                    .get(id)
                    .is_some_and(|p| p.relay_hop.is_none() && p.reachable(now))
            })
            .map(|(_, id)| id)
    }

    /// Gives free neighbour places to members of the buckets that no
    /// neighbour on a direct path (or on its way there) covers yet, nearest
    /// buckets first, up to [`MAX_CONTACTS`] neighbours; in each bucket the
    /// member with the freshest news.
    pub(crate) fn fill_buckets(&mut self, now: Instant) {
        let mut free = MAX_CONTACTS.saturating_sub(self.neighbour_count());
        if free == 0 {
            return;
        }
        let me = key(self.ipv6);
        let mut covered = [false; 129];
        let mut best: [Option<(Instant, NodeId)>; 129] = [None; 129];
        for p in self.peers.values() {
            let b = bucket(me, key(p.ipv6));
            if p.neighbour {
                if (p.connected(now) && p.relay_hop.is_none()) || p.handshake.is_some() {
                    covered[b] = true;
                }
                continue;
            }
            let eligible = p.endpoint.is_some()
                && p.handshake.is_none()
                && !p.connected(now)
                && p.retry_at.is_none_or(|t| t <= now);
            if eligible {
                let candidate = (p.freshness(), p.id);
                // Freshest news first; node IDs break ties.
                if best[b].is_none_or(|c| {
                    (candidate.0, std::cmp::Reverse(candidate.1)) > (c.0, std::cmp::Reverse(c.1))
                }) {
                    best[b] = Some(candidate);
                }
            }
        }
        for b in (0..129).rev() {
            if free == 0 {
                break;
            }
            if covered[b] {
                continue;
            }
            if let Some((_, id)) = best[b] {
                self.make_neighbour(now, id, std::time::Duration::ZERO);
                free -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_shared_leading_bits() {
        assert_eq!(bucket(0, 1 << 127), 0);
        assert_eq!(bucket(0, 1), 127);
        assert_eq!(bucket(5, 5), 128);
        assert_eq!(bucket(0b1000, 0b1100), 125);
    }

    #[test]
    fn a_member_of_the_targets_bucket_is_closer_than_we_are() {
        use rand_chacha::ChaCha20Rng;
        use rand_core::{RngCore, SeedableRng};
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut r = || (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        for _ in 0..10_000 {
            let (me, target, other) = (r(), r(), r());
            if bucket(me, other) == bucket(me, target) && me != target {
                assert!(other ^ target < me ^ target);
            }
        }
    }
}
