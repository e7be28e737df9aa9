//! Records in the daemon: control requests `record-publish KEY TTL_S VALUE`
//! (key 64 hex digits, value hex) and `record-fetch KEY`, answered with
//! JSON once the node has sent the record or its fetch has ended.

use std::time::{Duration, Instant};

use data_encoding::HEXLOWER_PERMISSIVE as HEX;
use tokio::sync::oneshot;

use super::waiting::Waiting;
use crate::identity::NodeId;
use crate::node::Node;

/// How long a fetch request waits before it is answered with a timeout
/// (the node itself gives up after its tries, well before).
const TIMEOUT: Duration = Duration::from_secs(15);

fn error(msg: impl std::fmt::Display) -> String {
    serde_json::json!({ "error": msg.to_string() }).to_string()
}

fn parse_key(hex: &str) -> Result<[u8; 32], String> {
    match HEX.decode(hex.as_bytes()).map(<[u8; 32]>::try_from) {
        Ok(Ok(key)) => Ok(key),
        _ => Err(error("a record key is 64 hex digits")),
    }
}

/// Fetch requests waiting for the node's answer.
#[derive(Default)]
pub(crate) struct PendingRecords {
    waiting: Waiting<[u8; 32]>,
}

impl PendingRecords {
    /// Handles a `record-…` control request; gives `reply` back if
    /// `command` is none.
    pub(crate) fn request(
        &mut self,
        node: &mut Node,
        command: &str,
        reply: oneshot::Sender<String>,
        now: Instant,
    ) -> Result<(), oneshot::Sender<String>> {
        if let Some(args) = command.strip_prefix("record-publish ") {
            let _ = reply.send(publish(node, args, now));
            return Ok(());
        }
        let Some(hex) = command.strip_prefix("record-fetch ") else {
            return Err(reply);
        };
        let key = match parse_key(hex.trim()) {
            Ok(key) => key,
            Err(e) => {
                let _ = reply.send(e);
                return Ok(());
            }
        };
        match node.fetch_record(now, key) {
            Ok(()) => self.waiting.push(key, reply, now + TIMEOUT),
            Err(e) => {
                let _ = reply.send(error(e));
            }
        }
        Ok(())
    }

    /// Answers every request for `key` with the fetch's result.
    pub(crate) fn answer(&mut self, key: &[u8; 32], records: &[(NodeId, Vec<u8>)]) {
        let list: Vec<_> = records
            .iter()
            .map(|(publisher, value)| {
                serde_json::json!({ "publisher": publisher.to_string(), "value": HEX.encode(value) })
            })
            .collect();
        let text = serde_json::json!({ "key": HEX.encode(key), "records": list }).to_string();
        for reply in self.waiting.take(key) {
            let _ = reply.send(text.clone());
        }
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

/// `record-publish KEY TTL_S VALUE`.
fn publish(node: &mut Node, args: &str, now: Instant) -> String {
    let mut words = args.split_whitespace();
    let (Some(key), Some(ttl), value) = (words.next(), words.next(), words.next()) else {
        return error("usage: record-publish KEY TTL_S VALUE (hex key and value)");
    };
    let key = match parse_key(key) {
        Ok(key) => key,
        Err(e) => return e,
    };
    let Ok(ttl) = ttl.parse::<u64>() else {
        return error("the lifetime is a number of seconds");
    };
    let Ok(value) = HEX.decode(value.unwrap_or("").as_bytes()) else {
        return error("the value is not hex");
    };
    match node.publish_record(now, key, &value, Duration::from_secs(ttl)) {
        Ok(()) => serde_json::json!({ "published": HEX.encode(&key) }).to_string(),
        Err(e) => error(e),
    }
}
