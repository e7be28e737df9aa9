//! `ping` in the daemon: a control request waits for the node's pong (or
//! its timeout) and is answered with [`PingAnswer`].

use std::net::IpAddr;
use std::time::Instant;

use super::control::answers::PingAnswer;
use super::control::{ApiError, ErrorCode, Replier};
use super::waiting::Waiting;
use crate::identity::NodeId;
use crate::node::{Node, Path, PingError, PingTarget, Pong, PING_TIMEOUT};

/// Ping requests waiting for their pong.
#[derive(Default)]
pub(crate) struct PendingPings {
    waiting: Waiting<u64>,
}

impl PendingPings {
    /// Sends a ping to `target` (a node ID or an overlay address).
    pub(crate) fn start(&mut self, node: &mut Node, target: &str, reply: Replier, now: Instant) {
        let target = target.trim();
        let parsed = match (target.parse::<IpAddr>(), NodeId::parse(target)) {
            (Ok(ip), _) => PingTarget::Addr(ip),
            (_, Ok(id)) => PingTarget::Node(id),
            _ => {
                return reply.err(ApiError::bad_request(format!(
                    "`{target}` is neither a node ID (tessel-node-…) nor an overlay address"
                )));
            }
        };
        match node.ping(parsed, now) {
            Ok(nonce) => self.waiting.push(nonce, reply, now + PING_TIMEOUT),
            Err(e @ PingError::Unknown) => {
                reply.err(ApiError::new(ErrorCode::NotFound, e.to_string()))
            }
            Err(e) => reply.err(ApiError::bad_request(e.to_string())),
        }
    }

    /// Answers the request that `pong` is for.
    pub(crate) fn answer(&mut self, pong: &Pong) {
        let Some(reply) = self.waiting.take(&pong.nonce).pop() else {
            return;
        };
        let (path, relay, endpoint) = match pong.path {
            Some(Path::Direct(e)) => ("direct", None, Some(e.to_string())),
            Some(Path::Relayed(r)) => ("relay", Some(r.to_string()), None),
            None => ("none", None, None),
        };
        reply.ok(&PingAnswer {
            peer: pong.peer.to_string(),
            path: path.to_owned(),
            relay,
            endpoint,
            rtt_ms: pong.rtt.as_secs_f64() * 1000.0,
        });
    }

    /// Answers the requests whose time is up.
    pub(crate) fn expire(&mut self, now: Instant) {
        // Called after every input: the message is made only when needed.
        if self.next_deadline().is_some_and(|d| d <= now) {
            let why = format!(
                "no pong within {} s (a session may still be starting: ping again)",
                PING_TIMEOUT.as_secs()
            );
            self.waiting.expire(now, &why);
        }
    }

    /// The earliest deadline of a waiting request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.next_deadline()
    }
}
