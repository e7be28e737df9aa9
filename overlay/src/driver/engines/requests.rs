//! What local programs ask through `engines.sock`, as transport commands.
//!
//! Requests come parsed ([`Request`], from either encoding) with the id
//! the answer repeats ([`RequestId`]); answers go back in the client's
//! encoding ([`EngineHost::answer`]). A target named by a name nobody here
//! knows parks its request until the lookup ends.

use serde_json::Value;
use tessel_actors::local::frame::{begin_frame, end_frame, Encoding};
use tessel_actors::local::{json, Answer, Push, Request, Target};
use tessel_actors::{EngineAddr, Persistence, SubId};

use super::clients::ClientInput;
use super::{Client, EngineHost, Parked};

/// Default call timeout (`timeout_ms` overrides).
const CALL_TIMEOUT_MS: u32 = 5_000;

/// A request that cannot be carried out.
type Refusal = String;

/// How a request is named in its answer: any JSON value, or a binary id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestId {
    /// The `id` of a JSON request (`null` if it had none).
    Json(Value),
    /// The id of a binary request.
    Binary(u64),
}

impl RequestId {
    /// The encoding the request came in.
    fn encoding(&self) -> Encoding {
        match self {
            Self::Json(_) => Encoding::Json,
            Self::Binary(_) => Encoding::Binary,
        }
    }
}

/// Appends the frame answering `id` to `out`.
fn frame_answer(out: &mut Vec<u8>, id: &RequestId, answer: &Answer) {
    let start = begin_frame(out);
    let written = match id {
        RequestId::Json(id) => {
            serde_json::to_writer(&mut *out, &json::answer(id, answer)).map_err(|e| e.to_string())
        }
        RequestId::Binary(id) => answer.write(*id, out).map_err(|e| e.to_string()),
    };
    if let Err(e) = written.and_then(|()| end_frame(out, start).map_err(|e| e.to_string())) {
        out.truncate(start);
        tracing::debug!(error = %e, "engine socket answer dropped");
    }
}

/// Appends a pushed frame in `encoding` to `out`.
pub(super) fn frame_push(out: &mut Vec<u8>, encoding: Encoding, push: &Push) {
    let start = begin_frame(out);
    let written = match encoding {
        Encoding::Json => {
            serde_json::to_writer(&mut *out, &json::push(push)).map_err(|e| e.to_string())
        }
        Encoding::Binary => push.write(out).map_err(|e| e.to_string()),
    };
    if let Err(e) = written.and_then(|()| end_frame(out, start).map_err(|e| e.to_string())) {
        out.truncate(start);
        tracing::debug!(error = %e, "engine socket frame dropped");
    }
}

impl EngineHost {
    pub(super) fn client_input(&mut self, input: ClientInput) {
        match input {
            ClientInput::Opened {
                client,
                out,
                hangup,
            } => {
                self.clients.insert(
                    client,
                    Client {
                        out,
                        hangup,
                        pending: Vec::new(),
                        encoding: Encoding::Json,
                        engines: Vec::new(),
                        replies: Default::default(),
                    },
                );
            }
            ClientInput::Request {
                client,
                id,
                request,
            } => {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.encoding = id.encoding();
                }
                match request {
                    Ok(r) => self.request(client, id, r),
                    Err(error) => self.answer(client, &id, &Answer::Refused { error }),
                }
            }
            ClientInput::Flushed { client, out } => {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.out.returned(out);
                }
            }
            ClientInput::Closed { client } => self.client_gone(client),
        }
    }

    /// Stops a departed (or disconnected) client's engines and closes its
    /// connection.
    pub(super) fn client_gone(&mut self, client: u64) {
        if let Some(c) = self.clients.remove(&client) {
            // Its reader sees the end, and a flusher waiting on a client
            // that does not read fails.
            let _ = c.hangup.shutdown(std::net::Shutdown::Both);
            for e in c.engines {
                self.owners.remove(&e);
                self.transport.stop_engine(e);
            }
        }
        self.calls.retain(|_, (c, _)| *c != client);
    }

    /// Queues the answer to `id` for `client`.
    pub(super) fn answer(&mut self, client: u64, id: &RequestId, answer: &Answer) {
        if let Some(c) = self.clients.get_mut(&client) {
            frame_answer(&mut c.pending, id, answer);
        }
    }

    /// Queues a pushed frame for `client`.
    pub(super) fn push(&mut self, client: u64, push: &Push) {
        if let Some(c) = self.clients.get_mut(&client) {
            frame_push(&mut c.pending, c.encoding, push);
        }
    }

    /// Carries out one request and answers it (or parks it for a lookup,
    /// or leaves a call's answer to its end). In the binary encoding a
    /// `cast` or `reply` is answered only when refused.
    pub(super) fn request(&mut self, client: u64, id: RequestId, r: Request) {
        let quiet = matches!(r, Request::Cast { .. } | Request::Reply { .. })
            && id.encoding() == Encoding::Binary;
        let answer = match self.op(client, &id, r) {
            Ok(None) => return,
            Ok(Some(_)) if quiet => return,
            Ok(Some(a)) => a,
            Err(error) => Answer::Refused { error },
        };
        self.answer(client, &id, &answer);
    }

    fn op(&mut self, client: u64, id: &RequestId, r: Request) -> Result<Option<Answer>, Refusal> {
        self.transport.set_time(super::time());
        let a = match r {
            Request::Start { persistent, name } => {
                self.op_start(client, persistent.as_deref(), name.as_deref())?
            }
            Request::Stop { engine } => {
                self.owned(client, engine)?;
                self.transport.stop_engine(engine);
                self.owners.remove(&engine);
                if let Some(c) = self.clients.get_mut(&client) {
                    c.engines.retain(|x| *x != engine);
                }
                Answer::Done
            }
            Request::Cast {
                engine,
                to,
                payload,
            } => {
                self.owned(client, engine)?;
                let Some(dst) = self.target(client, id, &to, || Request::Cast {
                    engine,
                    to: to.clone(),
                    payload: payload.clone(),
                })?
                else {
                    return Ok(None);
                };
                self.transport
                    .cast(engine, dst, payload)
                    .map_err(|e| e.to_string())?;
                Answer::Done
            }
            Request::Call {
                engine,
                to,
                payload,
                timeout_ms,
            } => {
                self.owned(client, engine)?;
                let Some(dst) = self.target(client, id, &to, || Request::Call {
                    engine,
                    to: to.clone(),
                    payload: payload.clone(),
                    timeout_ms,
                })?
                else {
                    return Ok(None);
                };
                let timeout = timeout_ms.unwrap_or(CALL_TIMEOUT_MS);
                let call = self
                    .transport
                    .call(engine, dst, payload, timeout)
                    .map_err(|e| e.to_string())?;
                self.calls.insert(call, (client, id.clone()));
                return Ok(None);
            }
            Request::Reply { reply_to, payload } => {
                let to = self
                    .clients
                    .get_mut(&client)
                    .and_then(|c| c.replies.remove(&reply_to))
                    .ok_or("no call waits for that reply")?;
                self.transport
                    .reply(to, payload)
                    .map_err(|e| e.to_string())?;
                Answer::Done
            }
            Request::Subscribe {
                engine,
                publisher,
                filter,
            } => {
                self.owned(client, engine)?;
                let sub = self
                    .transport
                    .subscribe(engine, publisher, filter)
                    .map_err(|e| e.to_string())?;
                Answer::Subscribed { sub: sub.0 }
            }
            Request::Unsubscribe { sub } => Answer::Unsubscribed {
                removed: self.transport.unsubscribe(SubId(sub)),
            },
            Request::Publish { engine, event } => {
                self.owned(client, engine)?;
                let sent = self
                    .transport
                    .publish(engine, event)
                    .map_err(|e| e.to_string())?;
                Answer::Published { sent: sent as u64 }
            }
            Request::Register { engine, name } => {
                self.owned(client, engine)?;
                self.transport
                    .register(engine, &name)
                    .map_err(|e| e.to_string())?;
                Answer::Done
            }
            Request::Unregister { engine, name } => {
                self.owned(client, engine)?;
                self.transport
                    .unregister(engine, &name)
                    .map_err(|e| e.to_string())?;
                Answer::Done
            }
            Request::Whereis { name } => match self.transport.whereis(&name) {
                Some(engine) => Answer::Found { engine },
                None => {
                    let request = Request::Whereis { name: name.clone() };
                    self.park(client, id, &name, request)?;
                    return Ok(None);
                }
            },
            Request::Monitor { engine, target } => {
                self.owned(client, engine)?;
                let m = self
                    .transport
                    .monitor(engine, target)
                    .map_err(|e| e.to_string())?;
                Answer::Monitoring { monitor: m.0 }
            }
            Request::List => Answer::Listed {
                json: serde_json::to_string(&self.list()).map_err(|e| e.to_string())?,
            },
        };
        Ok(Some(a))
    }

    fn op_start(
        &mut self,
        client: u64,
        persistent: Option<&str>,
        name: Option<&str>,
    ) -> Result<Answer, Refusal> {
        let e = match persistent {
            None => self.transport.start_engine(Persistence::Ephemeral),
            Some(label) => match self.keys.get(label) {
                Some(e) => {
                    if !self.transport.resume_engine(e) {
                        return Err(format!("persistent engine `{label}` is already running"));
                    }
                    e
                }
                None => {
                    let e = self.transport.start_engine(Persistence::Persistent);
                    self.keys
                        .insert(label, e, self.transport.keys())
                        .map_err(|err| err.to_string())?;
                    e
                }
            },
        };
        self.owners.insert(e, client);
        if let Some(c) = self.clients.get_mut(&client) {
            c.engines.push(e);
        }
        let name_error = name.and_then(|n| self.transport.register(e, n).err());
        Ok(Answer::Started {
            engine: e,
            name_error: name_error.map(|err| err.to_string()),
        })
    }

    /// Checks that `engine` is one this client runs.
    fn owned(&self, client: u64, engine: EngineAddr) -> Result<(), Refusal> {
        if self.owners.get(&engine) != Some(&client) {
            return Err(format!(
                "engine {engine} is not one of this client's engines"
            ));
        }
        Ok(())
    }

    /// The engine a target names, or `None` when its request was parked
    /// (`again` rebuilds it) for a lookup of the name.
    fn target(
        &mut self,
        client: u64,
        id: &RequestId,
        to: &Target,
        again: impl FnOnce() -> Request,
    ) -> Result<Option<EngineAddr>, Refusal> {
        let name = match to {
            Target::Addr(a) => return Ok(Some(*a)),
            Target::Name(n) => n,
        };
        if let Some(a) = self.transport.whereis(name) {
            return Ok(Some(a));
        }
        self.park(client, id, name, again())?;
        Ok(None)
    }

    fn park(
        &mut self,
        client: u64,
        id: &RequestId,
        name: &str,
        request: Request,
    ) -> Result<(), Refusal> {
        if !self.parked.contains_key(name) {
            self.transport
                .lookup_name(name)
                .map_err(|e| e.to_string())?;
        }
        self.parked
            .entry(name.to_owned())
            .or_default()
            .push(Parked {
                client,
                id: id.clone(),
                request,
            });
        Ok(())
    }

    /// A lookup ended: retries the requests that waited on it, or refuses them.
    pub(super) fn name_found(&mut self, name: &str, owner: Option<EngineAddr>) {
        for p in self.parked.remove(name).unwrap_or_default() {
            let Parked {
                client,
                id,
                mut request,
            } = p;
            match (owner, &mut request) {
                (Some(engine), Request::Whereis { .. }) => {
                    self.answer(client, &id, &Answer::Found { engine });
                }
                (Some(engine), Request::Cast { to, .. } | Request::Call { to, .. }) => {
                    *to = Target::Addr(engine);
                    self.request(client, id, request);
                }
                (Some(_), _) => {}
                (None, _) => {
                    let error = format!("no engine has the name `{name}`");
                    self.answer(client, &id, &Answer::Refused { error });
                }
            }
        }
    }
}
