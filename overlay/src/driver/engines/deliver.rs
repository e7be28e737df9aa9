//! Deliveries and notices for local programs' engines, as frames in each
//! client's encoding: pushed deliveries and notices ([`Push`]), and call
//! results, which answer the `call` request itself (by its id).

use tessel_actors::local::{Answer, Push};
use tessel_actors::{Delivery, EngineAddr, Notice};

use super::outbox::Sent;
use super::requests::frame_push;
use super::EngineHost;

/// Bytes of frames a client may fall behind by before it is disconnected.
const MAX_BACKLOG: usize = 32 << 20;

impl EngineHost {
    /// Moves every mailbox's deliveries and every notice to the owning clients.
    pub(super) fn deliver(&mut self) {
        for (&engine, &client) in &self.owners {
            while let Some(d) = self.transport.recv(engine) {
                let push = match d {
                    Delivery::Cast { from, payload } => Push::Cast {
                        engine,
                        from,
                        payload,
                    },
                    Delivery::Call {
                        from,
                        reply,
                        payload,
                    } => {
                        let reply_to = self.next_token;
                        self.next_token += 1;
                        self.calls_waiting = true;
                        if let Some(c) = self.clients.get_mut(&client) {
                            c.replies.insert(reply_to, reply);
                        }
                        Push::Call {
                            engine,
                            from,
                            reply_to,
                            payload,
                        }
                    }
                    Delivery::Event { from, event } => Push::Event {
                        engine,
                        from,
                        event,
                    },
                };
                if let Some(c) = self.clients.get_mut(&client) {
                    frame_push(&mut c.pending, c.encoding, &push);
                }
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
                let answer = match result {
                    Ok(payload) => Answer::Replied { payload },
                    Err(e) => Answer::Refused {
                        error: e.to_string(),
                    },
                };
                self.answer(client, &id, &answer);
                self.calls_waiting = true;
            }
            Notice::Down {
                monitor,
                watcher,
                target,
                reason,
            } => {
                let push = Push::Down {
                    engine: watcher,
                    monitor: monitor.0,
                    target,
                    reason,
                };
                self.push_to_owner(watcher, &push);
            }
            Notice::NameLost {
                name,
                loser,
                winner,
            } => {
                let push = Push::NameLost {
                    engine: loser,
                    name,
                    winner,
                };
                self.push_to_owner(loser, &push);
            }
            Notice::NameFound { name, owner } => self.name_found(&name, owner),
            n @ (Notice::ScopeAnswer { .. } | Notice::ScopeSent { .. }) => self.scope_notice(n),
        }
    }

    fn push_to_owner(&mut self, engine: EngineAddr, push: &Push) {
        if let Some(&c) = self.owners.get(&engine) {
            self.push(c, push);
        }
    }

    /// Writes each client's queued frames. Frames a client is not taking
    /// wait here (and [`Self::backlogged`] asks for a prompt retry); a
    /// client more than [`MAX_BACKLOG`] bytes behind is disconnected (its
    /// engines stop).
    pub(crate) fn flush_clients(&mut self) {
        self.calls_waiting = false;
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
