//! Deliveries and notices for local programs' engines, as frames.
//!
//! Pushed frames have an `event` field instead of `ok`/`error`:
//! `cast`, `call` (answer it with `reply` and its `reply_to`), `event`,
//! `down` (a monitor fired) and `name_lost`. Call results answer the
//! `call` request itself (by its `id`).

use data_encoding::BASE64;
use serde_json::{json, Value};
use tessel_actors::{Delivery, Notice};

use super::outbox::Sent;
use super::EngineHost;

/// Bytes of frames a client may fall behind by before it is disconnected.
const MAX_BACKLOG: usize = 32 << 20;

impl EngineHost {
    /// Moves every mailbox's deliveries and every notice to the owning clients.
    pub(super) fn deliver(&mut self) {
        let engines: Vec<_> = self.owners.iter().map(|(&e, &c)| (e, c)).collect();
        for (engine, client) in engines {
            while let Some(d) = self.transport.recv(engine) {
                let v = match d {
                    Delivery::Cast { from, payload } => json!({
                        "event": "cast", "engine": engine.to_string(),
                        "from": from.to_string(), "data": BASE64.encode(&payload),
                    }),
                    Delivery::Call {
                        from,
                        reply,
                        payload,
                    } => {
                        let token = self.next_token;
                        self.next_token += 1;
                        if let Some(c) = self.clients.get_mut(&client) {
                            c.replies.insert(token, reply);
                        }
                        json!({
                            "event": "call", "engine": engine.to_string(),
                            "from": from.to_string(), "reply_to": token,
                            "data": BASE64.encode(&payload),
                        })
                    }
                    Delivery::Event { from, event } => json!({
                        "event": "event", "engine": engine.to_string(),
                        "from": from.to_string(), "topic": event.topic,
                        "fields": event.fields, "data": BASE64.encode(&event.payload),
                    }),
                };
                self.send(client, &v);
            }
        }
        while let Some(n) = self.transport.poll_notice() {
            self.notice(n);
        }
    }

    fn notice(&mut self, n: Notice) {
        match n {
            Notice::CallDone { call, result, .. } => {
                let Some((client, id)) = self.calls.remove(&call) else {
                    return;
                };
                let v = match result {
                    Ok(reply) => json!({ "id": id, "ok": true, "data": BASE64.encode(&reply) }),
                    Err(e) => json!({ "id": id, "error": e.to_string() }),
                };
                self.send(client, &v);
            }
            Notice::Down {
                monitor,
                watcher,
                target,
                reason,
            } => {
                let v = json!({
                    "event": "down", "engine": watcher.to_string(), "monitor": monitor.0,
                    "target": target.to_string(), "reason": format!("{reason:?}"),
                });
                self.send_to_owner(watcher, &v);
            }
            Notice::NameLost {
                name,
                loser,
                winner,
            } => {
                let v = json!({
                    "event": "name_lost", "engine": loser.to_string(),
                    "name": name, "winner": winner.to_string(),
                });
                self.send_to_owner(loser, &v);
            }
            Notice::NameFound { name, owner } => self.name_found(&name, owner),
        }
    }

    fn send_to_owner(&mut self, engine: tessel_actors::EngineAddr, v: &Value) {
        if let Some(&c) = self.owners.get(&engine) {
            self.send(c, v);
        }
    }

    /// Writes each client's queued frames. Frames a client is not taking
    /// wait here (and [`Self::backlogged`] asks for a prompt retry); a
    /// client more than [`MAX_BACKLOG`] bytes behind is disconnected (its
    /// engines stop).
    pub(crate) fn flush_clients(&mut self) {
        let mut stuck = Vec::new();
        for (&id, c) in &mut self.clients {
            if c.pending.is_empty() {
                continue;
            }
            match c.out.write(std::mem::take(&mut c.pending)) {
                Sent::Done => {}
                Sent::Full(pending) => {
                    c.pending = pending;
                    if c.pending.len() > MAX_BACKLOG {
                        stuck.push(id);
                    }
                }
                Sent::Closed => stuck.push(id),
            }
        }
        for id in stuck {
            tracing::debug!(client = id, "engine client not reading; disconnecting it");
            self.client_gone(id);
        }
    }

    /// Whether frames wait for a client that is not taking them.
    pub(super) fn backlogged(&self) -> bool {
        self.clients.values().any(|c| !c.pending.is_empty())
    }
}
