//! Records in the daemon: control requests `record-publish HEX` (a signed
//! record, see [`crate::wire::record`]) and `record-fetch KEY` (64 hex
//! digits), answered with JSON once the node has published the record or
//! its fetch has ended.

use std::time::{Duration, Instant};

use data_encoding::HEXLOWER_PERMISSIVE as HEX;
use tokio::sync::oneshot;

use crate::node::Node;
use crate::wire::record::Record;

/// How long a fetch request waits before it is answered with a timeout
/// (the node itself gives up after its tries, well before).
const TIMEOUT: Duration = Duration::from_secs(15);

fn error(msg: impl std::fmt::Display) -> String {
    serde_json::json!({ "error": msg.to_string() }).to_string()
}

/// Fetch requests waiting for the node's answer.
#[derive(Default)]
pub(crate) struct PendingRecords {
    waiting: Vec<([u8; 32], oneshot::Sender<String>, Instant)>,
}

impl PendingRecords {
    /// Handles a `record-…` control request; false if `command` is none.
    pub(crate) fn request(
        &mut self,
        node: &mut Node,
        command: &str,
        reply: oneshot::Sender<String>,
        now: Instant,
    ) -> Result<(), oneshot::Sender<String>> {
        if let Some(hex) = command.strip_prefix("record-publish ") {
            let answer = match HEX.decode(hex.trim().as_bytes()) {
                Err(_) => error("the record is not hex"),
                Ok(bytes) => match node.publish_record(now, &bytes) {
                    Ok(()) => {
                        let key = Record::parse(&bytes).map(|r| r.key()).unwrap_or_default();
                        serde_json::json!({ "published": HEX.encode(&key) }).to_string()
                    }
                    Err(e) => error(e),
                },
            };
            let _ = reply.send(answer);
            return Ok(());
        }
        let Some(hex) = command.strip_prefix("record-fetch ") else {
            return Err(reply);
        };
        let key: [u8; 32] = match HEX.decode(hex.trim().as_bytes()).map(<[u8; 32]>::try_from) {
            Ok(Ok(key)) => key,
            _ => {
                let _ = reply.send(error("a record key is 64 hex digits"));
                return Ok(());
            }
        };
        match node.fetch_record(now, key) {
            Ok(()) => self.waiting.push((key, reply, now + TIMEOUT)),
            Err(e) => {
                let _ = reply.send(error(e));
            }
        }
        Ok(())
    }

    /// Answers every request for `key` with the fetch's result.
    pub(crate) fn answer(&mut self, key: &[u8; 32], record: Option<&[u8]>) {
        let text = serde_json::json!({
            "key": HEX.encode(key),
            "record": record.map(|r| HEX.encode(r)),
        })
        .to_string();
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(k, _, _)| k == key);
        self.waiting = waiting;
        for (_, reply, _) in done {
            let _ = reply.send(text.clone());
        }
    }

    /// Answers the requests whose time is up.
    pub(crate) fn expire(&mut self, now: Instant) {
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(_, _, deadline)| *deadline <= now);
        self.waiting = waiting;
        for (_, reply, _) in late {
            let _ = reply.send(serde_json::json!({ "timeout": true }).to_string());
        }
    }

    /// The earliest deadline of a waiting request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.iter().map(|(_, _, d)| *d).min()
    }
}
