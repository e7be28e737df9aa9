//! `tessel ping` in the daemon: control requests `ping TARGET` wait for the
//! node's pong (or a timeout) and are answered with JSON.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::waiting::Waiting;
use crate::identity::NodeId;
use crate::node::{Node, Path, PingTarget, Pong};

/// How long a ping waits for its pong.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Ping requests waiting for their pong.
#[derive(Default)]
pub(crate) struct PendingPings {
    waiting: Waiting<u64>,
}

fn error(msg: impl std::fmt::Display) -> String {
    serde_json::json!({ "error": msg.to_string() }).to_string()
}

impl PendingPings {
    /// Sends a ping to `target` (a node ID or an overlay address).
    pub(crate) fn start(
        &mut self,
        node: &mut Node,
        target: &str,
        reply: oneshot::Sender<String>,
        now: Instant,
    ) {
        let target = target.trim();
        let parsed = match (target.parse::<IpAddr>(), NodeId::parse(target)) {
            (Ok(ip), _) => PingTarget::Addr(ip),
            (_, Ok(id)) => PingTarget::Node(id),
            _ => {
                let _ = reply.send(error(format!(
                    "`{target}` is neither a node ID (tessel-node-…) nor an overlay address"
                )));
                return;
            }
        };
        match node.ping(parsed, now) {
            Ok(nonce) => self.waiting.push(nonce, reply, now + TIMEOUT),
            Err(e) => {
                let _ = reply.send(error(e));
            }
        }
    }

    /// Answers the request that `pong` is for.
    pub(crate) fn answer(&mut self, pong: &Pong) {
        let Some(reply) = self.waiting.take(&pong.nonce).pop() else {
            return;
        };
        let (path, via, endpoint) = match pong.path {
            Some(Path::Direct(e)) => ("direct", None, Some(e.to_string())),
            Some(Path::Relayed(r)) => ("relay", Some(r.to_string()), None),
            None => ("none", None, None),
        };
        let _ = reply.send(
            serde_json::json!({
                "peer": pong.peer.to_string(),
                "path": path,
                "relay": via,
                "endpoint": endpoint,
                "rtt_ms": pong.rtt.as_secs_f64() * 1000.0,
            })
            .to_string(),
        );
    }

    /// Answers the requests whose time is up.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.waiting.expire(now);
    }

    /// The earliest deadline of a waiting request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.next_deadline()
    }
}
