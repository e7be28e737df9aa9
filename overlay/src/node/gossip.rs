//! Membership gossip: tell each peer which members we reach, and connect to
//! the members that peers tell us about.

use std::time::{Duration, Instant};

use rand_core::RngCore;

use super::Node;
use crate::identity::NodeId;
use crate::limits::MAX_GOSSIP_ENTRIES;
use crate::wire::gossip::{self, Entry};

/// How long the higher node ID waits before initiating to a member it just
/// learned of, so that the lower one's initiation usually goes first.
const TIE_BREAK_DELAY: Duration = Duration::from_millis(500);

impl Node {
    /// Sends `to` the members we have live sessions with (a random sample if
    /// there are more than fit).
    pub(super) fn send_gossip(&mut self, now: Instant, to: NodeId) {
        let mut entries: Vec<Entry> = self
            .peers
            .values()
            .filter(|p| p.id != to && p.verified && p.connected(now))
            .filter_map(|p| {
                Some(Entry {
                    node_id: *p.id.as_bytes(),
                    endpoint: p.endpoint?,
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
        for entry in entries {
            let Ok(entry) = entry else {
                self.drops.add(super::DropReason::BadInner);
                break;
            };
            let Ok(id) = NodeId::from_bytes(entry.node_id) else {
                continue;
            };
            if id == self.id || id == from {
                continue;
            }
            let delay = if self.id < id {
                Duration::ZERO
            } else {
                TIE_BREAK_DELAY
            };
            let Some(peer) = self.add_peer(id, Some(entry.endpoint), now) else {
                break;
            };
            if peer.connected(now) || peer.handshake.is_some() {
                continue;
            }
            // Not connected: the gossiped endpoint is our best information.
            peer.endpoint = Some(entry.endpoint);
            let at = now + delay;
            if peer.timers.connect.is_none_or(|c| c > at) {
                peer.timers.connect = Some(at);
            }
            self.wake_at(Some(at));
        }
    }
}
