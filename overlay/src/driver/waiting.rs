//! Control requests waiting for the node's answer, each with a deadline
//! after which it is answered with the error `timeout`.

use std::time::Instant;

use super::control::{ApiError, ErrorCode, Replier};

/// Requests waiting for what `K` names (a ping nonce, a record key).
pub(crate) struct Waiting<K> {
    entries: Vec<(K, Replier, Instant)>,
}

impl<K> Default for Waiting<K> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: PartialEq> Waiting<K> {
    /// Waits for `key` until `deadline`.
    pub(crate) fn push(&mut self, key: K, reply: Replier, deadline: Instant) {
        self.entries.push((key, reply, deadline));
    }

    /// Takes every request waiting for `key`.
    pub(crate) fn take(&mut self, key: &K) -> Vec<Replier> {
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|(k, _, _)| k == key);
        self.entries = waiting;
        done.into_iter().map(|(_, reply, _)| reply).collect()
    }

    /// Answers the requests whose time is up with `timeout` and `message`.
    pub(crate) fn expire(&mut self, now: Instant, message: &str) {
        // Called after every input of the event loop: nothing to do is
        // the usual case, and costs no allocation.
        if self.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let (late, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|(_, _, deadline)| *deadline <= now);
        self.entries = waiting;
        for (_, reply, _) in late {
            reply.err(ApiError::new(ErrorCode::Timeout, message));
        }
    }

    /// The earliest deadline of a waiting request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.iter().map(|(_, _, d)| *d).min()
    }
}
