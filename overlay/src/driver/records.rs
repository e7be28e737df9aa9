//! Records in the daemon: the control requests `record_publish` (key 64
//! hex digits, value hex, lifetime in seconds) and `record_fetch`, answered
//! once the node has sent the record or its fetch has ended.

use std::time::{Duration, Instant};

use data_encoding::HEXLOWER_PERMISSIVE as HEX;

use super::control::answers::{RecordEntry, RecordFetchAnswer, RecordPublishAnswer};
use super::control::api::{reply, Reply};
use super::control::{ApiError, ErrorCode, Replier};
use super::waiting::Waiting;
use crate::identity::NodeId;
use crate::node::{Node, RecordError};

/// How long a fetch request waits before it is answered with a timeout
/// (the node itself gives up after its tries, well before).
const TIMEOUT: Duration = Duration::from_secs(15);

fn parse_key(hex: &str) -> Result<[u8; 32], ApiError> {
    match HEX.decode(hex.trim().as_bytes()).map(<[u8; 32]>::try_from) {
        Ok(Ok(key)) => Ok(key),
        _ => Err(ApiError::bad_request("a record key is 64 hex digits")),
    }
}

fn record_error(e: &RecordError) -> ApiError {
    match e {
        RecordError::Busy => ApiError::new(ErrorCode::Busy, e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}

/// Fetch requests waiting for the node's answer.
#[derive(Default)]
pub(crate) struct PendingRecords {
    waiting: Waiting<[u8; 32]>,
}

impl PendingRecords {
    /// Starts a `record_fetch` of `key` (hex).
    pub(crate) fn fetch(&mut self, node: &mut Node, key: &str, reply: Replier, now: Instant) {
        let key = match parse_key(key) {
            Ok(key) => key,
            Err(e) => return reply.err(e),
        };
        match node.fetch_record(now, key) {
            Ok(()) => self.waiting.push(key, reply, now + TIMEOUT),
            Err(e) => reply.err(record_error(&e)),
        }
    }

    /// Answers every request for `key` with the fetch's result.
    pub(crate) fn answer(&mut self, key: &[u8; 32], records: &[(NodeId, Vec<u8>)]) {
        let body = RecordFetchAnswer {
            key: HEX.encode(key),
            records: records
                .iter()
                .map(|(publisher, value)| RecordEntry {
                    publisher: publisher.to_string(),
                    value: HEX.encode(value),
                })
                .collect(),
        };
        for r in self.waiting.take(key) {
            r.ok(&body);
        }
    }

    /// Answers the requests whose time is up.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.waiting
            .expire(now, "the record fetch got no answer in 15 s");
    }

    /// The earliest deadline of a waiting request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.next_deadline()
    }
}

/// `record_publish`: signs and sends the record.
pub(crate) fn publish(node: &mut Node, key: &str, ttl_s: u64, value: &str, now: Instant) -> Reply {
    let key = parse_key(key)?;
    let value = HEX
        .decode(value.trim().as_bytes())
        .map_err(|_| ApiError::bad_request("the value is not hex"))?;
    node.publish_record(now, key, &value, Duration::from_secs(ttl_s))
        .map_err(|e| record_error(&e))?;
    reply(&RecordPublishAnswer {
        key: HEX.encode(&key),
    })
}
