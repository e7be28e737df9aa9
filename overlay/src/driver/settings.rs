//! What may change while the daemon runs (`tessel up` reloads its config
//! file on SIGHUP): the `--peer` addresses, the STUN servers and relaying.
//! Whoever reloads sends [`RuntimeSettings`] over the channel in
//! [`super::RunOptions::settings`]; the event loop applies them to the node
//! between two inputs, so the protocol state keeps its one owner.

use std::net::SocketAddr;
use std::time::Instant;

use super::tcp::TcpTransport;
use crate::node::Node;

/// The settings that apply without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Members to greet (`--peer`), resolved.
    pub peers: Vec<SocketAddr>,
    /// STUN servers (`--stun`), resolved.
    pub stun_servers: Vec<SocketAddr>,
    /// Whether to relay for other members (not `--no-relay`).
    pub relay: bool,
}

/// Applies `new` to the node (and the TCP transport's `--peer` links) and
/// logs each change; returns the names of the settings that changed.
pub(crate) fn apply(
    node: &mut Node,
    tcp: &mut TcpTransport,
    new: &RuntimeSettings,
    now: Instant,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if node.bootstrap() != new.peers {
        tracing::info!(peers = ?new.peers, "reload: greeting the new --peer list");
        node.set_bootstrap(now, &new.peers);
        tcp.add_peers(&new.peers);
        changed.push("peer");
    }
    if node.stun_servers() != new.stun_servers.as_slice() {
        tracing::info!(servers = ?new.stun_servers, "reload: asking the new STUN servers");
        node.set_stun_servers(now, &new.stun_servers);
        changed.push("stun");
    }
    if node.relay_stats().enabled != new.relay {
        tracing::info!(
            relay = new.relay,
            "reload: {} for other members",
            if new.relay {
                "relaying"
            } else {
                "no longer relaying"
            }
        );
        node.set_relaying(new.relay);
        changed.push("no-relay");
    }
    changed
}
