//! Membership gossip: tell each neighbour about the members we know, with
//! the age of our news of each, and learn of members from theirs. A node
//! keeps sessions with a few neighbours at all times; everyone else it
//! learns of gets a session when traffic needs one.

use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::Node;
use crate::identity::NodeId;
use crate::limits::{MAX_GOSSIP_ENTRIES, MAX_NEIGHBOURS, PEER_EXPIRY};
use crate::wire::gossip::{self, Entry};

/// How long the higher node ID waits before initiating to a member it just
/// learned of, so that the lower one's initiation usually goes first.
const TIE_BREAK_DELAY: Duration = Duration::from_millis(500);

impl Node {
    /// Sends `to` a random sample of the members we have fresh news of.
    pub(super) fn send_gossip(&mut self, now: Instant, to: NodeId) {
        let mut entries: Vec<Entry> = self
            .peers
            .values()
            .filter(|p| p.id != to)
            .filter_map(|p| {
                let endpoint = p.endpoint?;
                let age = if p.connected(now) {
                    Duration::ZERO
                } else {
                    now.saturating_duration_since(p.freshness())
                };
                (age < PEER_EXPIRY).then(|| Entry {
                    node_id: *p.id.as_bytes(),
                    age_secs: age.as_secs().min(u64::from(u16::MAX)) as u16,
                    endpoint,
                })
            })
            .collect();
        entries.sort_by_key(|e| e.node_id);
        // Partial Fisher-Yates with the node's seeded RNG keeps runs deterministic.
        let keep = entries.len().min(MAX_GOSSIP_ENTRIES);
        for i in 0..keep {
            let j = i + (self.rng.next_u64() as usize) % (entries.len() - i);
            entries.swap(i, j);
        }
        entries.truncate(keep);
        let msg = gossip::emit(&entries);
        self.send_encrypted(now, to, &msg);
    }

    /// Handles a gossip message from the verified member `from`.
    pub(super) fn consume_gossip(&mut self, now: Instant, from: NodeId, msg: &[u8]) {
        let Ok(entries) = gossip::parse(msg) else {
            self.drops.add(super::DropReason::BadInner);
            return;
        };
        let mut neighbours = self.neighbour_count();
        for entry in entries {
            let Ok(entry) = entry else {
                self.drops.add(super::DropReason::BadInner);
                break;
            };
            let Ok(id) = NodeId::from_bytes(entry.node_id) else {
                continue;
            };
            let age = Duration::from_secs(u64::from(entry.age_secs));
            if id == self.id || id == from || age >= PEER_EXPIRY {
                continue;
            }
            let heard_at = now.checked_sub(age).unwrap_or(now);
            let delay = if self.id < id {
                Duration::ZERO
            } else {
                TIE_BREAK_DELAY
            };
            let Some(peer) = self.add_peer(id, Some(entry.endpoint), heard_at, now) else {
                break;
            };
            if !peer.connected(now) && peer.handshake.is_none() && heard_at > peer.freshness() {
                // Fresher news of a member we are not talking to: its endpoint
                // is our best information.
                peer.endpoint = Some(entry.endpoint);
                peer.heard_at = heard_at;
            }
            if peer.neighbour {
                if !peer.connected(now) {
                    self.make_neighbour(now, id, delay);
                }
            } else if neighbours < MAX_NEIGHBOURS {
                neighbours += 1;
                self.make_neighbour(now, id, delay);
            }
        }
    }
}
