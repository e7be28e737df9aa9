//! Membership gossip: tell each neighbour about the members we know, with
//! the age of our news of each, and learn of members from theirs. A node
//! keeps sessions with a few neighbours at all times; everyone else it
//! learns of gets a session when traffic needs one.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::Node;
use crate::identity::NodeId;
use crate::limits::{MAX_GOSSIP_ENTRIES, MAX_NEIGHBOURS, PEER_EXPIRY};
use crate::wire::gossip::{self, Entry};

/// How long a member must have been silent before gossip about a new
/// endpoint of it is followed (longer than the keepalive interval, so that a
/// member behind a NAT that maps per destination is not chased from one
/// gossiper's view of it to another's).
const SILENCE_BEFORE_FOLLOWING: Duration = Duration::from_secs(30);

/// News younger than this means the gossiper reaches the member itself, so
/// signals for the member can go through it.
const VIA_FRESHNESS: Duration = Duration::from_secs(60);

/// Entries of each gossip message given to the members nearest to the
/// recipient; the others are drawn at random.
const NEAREST_ENTRIES: usize = 6;

/// How long the higher node ID waits before initiating to a member it just
/// learned of, so that the lower one's initiation usually goes first.
const TIE_BREAK_DELAY: Duration = Duration::from_millis(500);

/// Whether an address only makes sense on a local network: private and
/// shared IPv4 ranges (RFC 1918, RFC 6598, RFC 2544's benchmarking range,
/// link-local, loopback), IPv6 unique-local, link-local and loopback.
pub(super) fn local_scope(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && o[1] & 0xc0 == 64)
                || (o[0] == 198 && o[1] & 0xfe == 18)
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            a.is_loopback() || s & 0xfe00 == 0xfc00 || s & 0xffc0 == 0xfe80
        }
    }
}

impl Node {
    /// Tells our gossip partners at once of `pid`, which just came up on a
    /// direct session (it joined, or came back), rather than at their next
    /// gossip: they learn where it is, and a punch toward it may search
    /// ports there as soon as it needs to (another member's word for its
    /// address, see traversal/limits.rs). One entry per partner, once per
    /// session that comes up: partners are few, and each session took a
    /// handshake.
    pub(super) fn announce_arrival(&mut self, now: Instant, pid: NodeId) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        let Some(endpoint) = p.endpoint.filter(|e| !local_scope(e.ip())) else {
            return;
        };
        if p.relay_hop.is_some() {
            return;
        }
        let entry = Entry {
            node_id: *pid.as_bytes(),
            age_secs: 0,
            metric: self.announced_metric(p, now),
            endpoint,
        };
        let mut partners: Vec<NodeId> = self
            .peers
            .with_session()
            .filter(|q| q.id != pid && q.gossip_partner(now))
            .map(|q| q.id)
            .collect();
        // Table order is arbitrary; the node's behaviour must not be.
        partners.sort_unstable();
        let mut msg = Vec::new();
        gossip::emit(std::slice::from_ref(&entry), &mut msg);
        for to in partners {
            self.send_encrypted(now, to, &msg);
        }
    }

    /// Sends `to` a random sample of the members we have fresh news of.
    pub(super) fn send_gossip(&mut self, now: Instant, to: NodeId) {
        // Measure the link with every gossip message.
        self.link_ping(now, to);
        // Members in node ID order, from the table's roster (the sample must
        // not depend on the map's order). Fresh news is younger than
        // PEER_EXPIRY (all of it, when `now` is that early); a merely
        // unexpired session is no news.
        let target = self.key_of(&to);
        let roster = self.peers.roster();
        let skip = roster.position(&to).ok();
        let oldest = now.checked_sub(PEER_EXPIRY);
        let mut fresh: Vec<u32> = (0..roster.len() as u32)
            .filter(|&i| {
                let i = i as usize;
                Some(i) != skip
                    && roster.has_endpoint(i)
                    && oldest.is_none_or(|o| roster.freshness[i] > o)
            })
            .collect();
        // Partial Fisher-Yates with the node's seeded RNG keeps runs deterministic.
        let keep = fresh.len().min(MAX_GOSSIP_ENTRIES);
        for i in 0..keep {
            let j = i + (self.rng.next_u64() as usize) % (fresh.len() - i);
            fresh.swap(i, j);
        }
        let random = keep.saturating_sub(NEAREST_ENTRIES);
        let mut chosen: Vec<NodeId> = fresh[..random]
            .iter()
            .map(|&i| roster.ids[i as usize])
            .collect();
        // The rest: the members nearest to the recipient by key, so that
        // every member learns of its nearest ones (see `contacts`). The
        // roster is in node ID order, so its index breaks ties as the ID
        // would.
        let mut rest: Vec<(u128, u32)> = fresh[random..]
            .iter()
            .map(|&i| (roster.keys[i as usize] ^ target, i))
            .collect();
        let nearest = rest.len().min(keep - random);
        if nearest > 0 && rest.len() > nearest {
            rest.select_nth_unstable(nearest - 1);
        }
        rest.truncate(nearest);
        rest.sort_unstable();
        chosen.extend(rest.into_iter().map(|(_, i)| roster.ids[i as usize]));
        let to_on_lan = self
            .peers
            .get(&to)
            .and_then(|p| p.endpoint)
            .is_some_and(|e| local_scope(e.ip()));
        let entries: Vec<Entry> = chosen
            .iter()
            .filter_map(|id| {
                let p = self.peers.get(id)?;
                let age = now.saturating_duration_since(p.freshness());
                // Whole seconds, rounded up: news passed on from member to
                // member must never grow fresher on the way, or news of a
                // member that left would outlive PEER_EXPIRY.
                let age_secs = age.as_secs() + u64::from(age.subsec_nanos() > 0);
                Some(Entry {
                    node_id: *p.id.as_bytes(),
                    age_secs: age_secs.min(u64::from(u16::MAX)) as u16,
                    // Split horizon with poisoned reverse: a route through
                    // `to` is no news to it.
                    metric: if p.route.next_hop == Some(to)
                        && !(p.relay_hop.is_none() && p.reachable(now))
                    {
                        gossip::UNREACHABLE
                    } else {
                        self.announced_metric(p, now)
                    },
                    // A LAN address means nothing off that LAN: only a
                    // member we reach on a LAN hears of one.
                    endpoint: p.endpoint.filter(|e| to_on_lan || !local_scope(e.ip()))?,
                })
            })
            .collect();
        let mut msg = Vec::new();
        gossip::emit(&entries, &mut msg);
        self.send_encrypted(now, to, &msg);
    }

    /// Handles a gossip message from the verified member `from`.
    pub(super) fn consume_gossip(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(entries) = gossip::parse(msg) else {
            self.drops.add(super::DropReason::BadInner);
            return;
        };
        // `from` counts us as a neighbour: it hears our news too, the first
        // time at once.
        if let Some(peer) = self.peers.get_mut(&from) {
            let partner = peer.gossip_partner(now);
            peer.history_mut().gossip_heard = Some(now);
            if !partner {
                peer.timers.gossip = Some(now);
            }
        }
        let mut neighbours = self.neighbour_count();
        // Whether `from` takes routed traffic, and at what cost, holds for
        // the whole message: its entries never change `from`.
        let hop_cost = self.hop_cost(now, &from);
        for entry in entries {
            let Ok(entry) = entry else {
                self.drops.add(super::DropReason::BadInner);
                break;
            };
            // Stale news, and news of us or of the gossiper, are dropped
            // before any lookup.
            let age = Duration::from_secs(u64::from(entry.age_secs));
            if age >= PEER_EXPIRY
                || entry.node_id == *self.id.as_bytes()
                || entry.node_id == *from.as_bytes()
            {
                continue;
            }
            // A member's ID is checked to be a key only when a handshake
            // to it is due (see `NodeId::unchecked`).
            let heard_at = now.checked_sub(age).unwrap_or(now);
            let id = NodeId::unchecked(entry.node_id);
            // Another member's word for where `id` is: lets a punch toward
            // `id` search ports there (traversal/limits.rs).
            self.traversal.limits.vouch(now, id, entry.endpoint.ip());
            if !self.peers.contains_key(&id)
                && self
                    .add_peer(id, Some(entry.endpoint), heard_at, now)
                    .is_none()
            {
                break;
            }
            let delay = if self.id < id {
                Duration::ZERO
            } else {
                TIE_BREAK_DELAY
            };
            if let Some(cost) = hop_cost.filter(|_| age < VIA_FRESHNESS) {
                self.route_update_through(now, from, cost, id, entry.metric);
            }
            // Read once: most news changes nothing, and a member changed
            // through the table costs a reindex.
            let peer = &self.peers[&id];
            let connected = peer.connected(now);
            // Fresher news than our own of a member we have not heard from
            // lately: it moved, or its NAT mapping changed. Its endpoint is
            // our best information, even while an old session lingers.
            let silent = peer
                .last_received
                .is_none_or(|r| now.saturating_duration_since(r) > SILENCE_BEFORE_FOLLOWING);
            let update = heard_at > peer.freshness() && (silent || !connected);
            let follow = update && connected && peer.endpoint != Some(entry.endpoint);
            let retry_pending = peer.retry_at.is_some_and(|t| t > now);
            let neighbour = peer.neighbour;
            if update {
                let peer = self.peers.get_mut(&id).expect("known");
                peer.endpoint = Some(entry.endpoint);
                peer.heard_at = heard_at;
            }
            if follow {
                // Our session's other end went quiet: meet it where it is now.
                tracing::debug!(peer = %id.short(), endpoint = %entry.endpoint, "following a member that moved");
                self.initiate(now, id);
                continue;
            }
            if retry_pending {
                continue;
            }
            if neighbour {
                if !connected {
                    self.make_neighbour(now, id, delay);
                }
            } else if neighbours < MAX_NEIGHBOURS {
                neighbours += 1;
                self.make_neighbour(now, id, delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_scope;

    #[test]
    fn lan_addresses_are_local_and_public_ones_are_not() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "198.18.3.4",
            "198.19.255.1",
            "169.254.0.1",
            "127.0.0.1",
            "fd00::1",
            "fe80::1",
            "::1",
        ] {
            assert!(local_scope(a.parse().unwrap()), "{a}");
        }
        for a in [
            "198.51.100.1",
            "203.0.113.9",
            "8.8.8.8",
            "100.128.0.1",
            "2001:db8::1",
        ] {
            assert!(!local_scope(a.parse().unwrap()), "{a}");
        }
    }
}
