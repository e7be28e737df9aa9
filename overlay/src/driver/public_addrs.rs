//! Tells whoever asked ([`super::RunOptions::public_addresses`]) where
//! machines elsewhere may reach the node, as soon as the node learns it
//! from a port mapping or a STUN answer (`tessel up` then prints its join
//! command again with that address). The node is looked at once a second,
//! only while someone listens.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;

use crate::node::Node;

/// How often the node's public addresses are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The sender and its ticker.
pub(crate) struct PublicWatch {
    tx: Option<watch::Sender<Vec<SocketAddr>>>,
    tick: tokio::time::Interval,
}

impl PublicWatch {
    /// Watches for `tx` (nothing if `None`).
    pub(crate) fn new(tx: Option<watch::Sender<Vec<SocketAddr>>>) -> Self {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self { tx, tick }
    }

    /// Resolves when the node should be looked at; never once nobody
    /// listens.
    pub(crate) async fn due(&mut self) {
        match &self.tx {
            Some(tx) if !tx.is_closed() => {
                self.tick.tick().await;
            }
            _ => std::future::pending().await,
        }
    }

    /// Sends the node's public addresses if they changed.
    pub(crate) fn check(&mut self, node: &Node) {
        let Some(tx) = &self.tx else {
            return;
        };
        if tx.is_closed() {
            self.tx = None;
            return;
        }
        let now = node.public_addresses();
        tx.send_if_modified(|v| {
            let changed = *v != now;
            if changed {
                v.clone_from(&now);
            }
            changed
        });
    }
}
