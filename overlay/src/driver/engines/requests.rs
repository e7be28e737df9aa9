//! What local programs ask through `engines.sock`, as transport commands.
//!
//! Every request is a JSON object with `op` and an optional `id`, which the
//! answer repeats. Answers carry `ok: true` and results, or `error`.
//! Payloads are base64 (`data`). Engines and publishers are named by address
//! (64 hex digits) or, where a target is expected, by a registered name.

use std::collections::BTreeMap;

use data_encoding::BASE64;
use serde_json::{json, Value};
use tessel_actors::{EngineAddr, Event, Filter, Persistence, SubId};

use super::clients::{frame, ClientInput};
use super::keys::parse_addr;
use super::{Client, EngineHost, Parked};

/// Default call timeout (`timeout_ms` overrides).
const CALL_TIMEOUT_MS: u32 = 5_000;

/// A request that cannot be carried out.
type Refusal = String;

fn str_field<'a>(r: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    r[name]
        .as_str()
        .ok_or_else(|| format!("missing string field `{name}`"))
}

fn data(r: &Value) -> Result<Vec<u8>, Refusal> {
    match r["data"].as_str() {
        None => Ok(Vec::new()),
        Some(s) => BASE64
            .decode(s.as_bytes())
            .map_err(|_| "`data` is not base64".to_owned()),
    }
}

fn addr_field(r: &Value, name: &str) -> Result<EngineAddr, Refusal> {
    parse_addr(str_field(r, name)?).ok_or_else(|| format!("`{name}` is not an engine address"))
}

fn fields(r: &Value) -> Result<BTreeMap<String, String>, Refusal> {
    match &r["fields"] {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok((k.clone(), v.to_owned())),
                None => Err(format!("field `{k}` is not a string")),
            })
            .collect(),
        _ => Err("`fields` is not an object".to_owned()),
    }
}

/// What a target resolves to.
enum Target {
    Addr(EngineAddr),
    /// A name nobody here knows yet: the request waits for a lookup.
    Parked,
}

impl EngineHost {
    pub(super) fn client_input(&mut self, input: ClientInput) {
        match input {
            ClientInput::Opened { client, out } => {
                self.clients.insert(
                    client,
                    Client {
                        out,
                        pending: Vec::new(),
                        engines: Vec::new(),
                        replies: Default::default(),
                    },
                );
            }
            ClientInput::Request { client, request } => match request {
                Ok(r) => self.request(client, r),
                Err(e) => self.send(client, &json!({ "error": format!("bad JSON: {e}") })),
            },
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
            c.out.close();
            for e in c.engines {
                self.owners.remove(&e);
                self.transport.stop_engine(e);
            }
        }
        self.calls.retain(|_, (c, _)| *c != client);
    }

    /// Queues a frame for `client`.
    pub(super) fn send(&mut self, client: u64, value: &Value) {
        if let Some(c) = self.clients.get_mut(&client) {
            frame(&mut c.pending, value);
        }
    }

    /// Carries out one request and answers it (or parks it for a lookup).
    pub(super) fn request(&mut self, client: u64, r: Value) {
        let id = r["id"].clone();
        let answer = match self.op(client, &r) {
            Ok(None) => return,
            Ok(Some(mut v)) => {
                v["ok"] = json!(true);
                v
            }
            Err(e) => json!({ "error": e }),
        };
        let mut answer = answer;
        answer["id"] = id;
        self.send(client, &answer);
    }

    fn op(&mut self, client: u64, r: &Value) -> Result<Option<Value>, Refusal> {
        self.transport.set_time(super::time());
        let op = str_field(r, "op")?;
        let v = match op {
            "start" => self.op_start(client, r)?,
            "stop" => {
                let e = self.owned(client, r, "engine")?;
                self.transport.stop_engine(e);
                self.owners.remove(&e);
                if let Some(c) = self.clients.get_mut(&client) {
                    c.engines.retain(|x| *x != e);
                }
                json!({})
            }
            "cast" | "call" => {
                let src = self.owned(client, r, "engine")?;
                let Target::Addr(dst) = self.target(client, r)? else {
                    return Ok(None);
                };
                let payload = data(r)?;
                if op == "cast" {
                    self.transport
                        .cast(src, dst, payload)
                        .map_err(|e| e.to_string())?;
                    json!({})
                } else {
                    let timeout = r["timeout_ms"]
                        .as_u64()
                        .map_or(CALL_TIMEOUT_MS, |t| t.min(u64::from(u32::MAX)) as u32);
                    let call = self
                        .transport
                        .call(src, dst, payload, timeout)
                        .map_err(|e| e.to_string())?;
                    self.calls.insert(call, (client, r["id"].clone()));
                    return Ok(None);
                }
            }
            "reply" => {
                let token = r["reply_to"].as_u64().ok_or("missing `reply_to`")?;
                let to = self
                    .clients
                    .get_mut(&client)
                    .and_then(|c| c.replies.remove(&token))
                    .ok_or("no call waits for that reply")?;
                self.transport
                    .reply(to, data(r)?)
                    .map_err(|e| e.to_string())?;
                json!({})
            }
            "subscribe" => {
                let sub = self.owned(client, r, "engine")?;
                let publisher = addr_field(r, "publisher")?;
                let filter = Filter {
                    topic_prefix: r["topic"].as_str().unwrap_or("").to_owned(),
                    fields: fields(r)?,
                };
                let id = self
                    .transport
                    .subscribe(sub, publisher, filter)
                    .map_err(|e| e.to_string())?;
                json!({ "sub": id.0 })
            }
            "unsubscribe" => {
                let id = r["sub"].as_u64().ok_or("missing `sub`")?;
                json!({ "removed": self.transport.unsubscribe(SubId(id)) })
            }
            "publish" => {
                let publisher = self.owned(client, r, "engine")?;
                let event = Event {
                    topic: str_field(r, "topic")?.to_owned(),
                    fields: fields(r)?,
                    payload: data(r)?,
                };
                let sent = self
                    .transport
                    .publish(publisher, event)
                    .map_err(|e| e.to_string())?;
                json!({ "sent": sent })
            }
            "register" | "unregister" => {
                let e = self.owned(client, r, "engine")?;
                let name = str_field(r, "name")?;
                let done = if op == "register" {
                    self.transport.register(e, name)
                } else {
                    self.transport.unregister(e, name)
                };
                done.map_err(|e| e.to_string())?;
                json!({})
            }
            "whereis" => {
                let name = str_field(r, "name")?;
                match self.transport.whereis(name) {
                    Some(e) => json!({ "engine": e.to_string() }),
                    None => {
                        self.park(client, name, r.clone())?;
                        return Ok(None);
                    }
                }
            }
            "monitor" => {
                let watcher = self.owned(client, r, "engine")?;
                let target = addr_field(r, "target")?;
                let m = self
                    .transport
                    .monitor(watcher, target)
                    .map_err(|e| e.to_string())?;
                json!({ "monitor": m.0 })
            }
            "list" => self.list(),
            other => return Err(format!("unknown op `{other}`")),
        };
        Ok(Some(v))
    }

    fn op_start(&mut self, client: u64, r: &Value) -> Result<Value, Refusal> {
        let label = r["persistent"].as_str();
        let e = match label {
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
        if let Some(name) = r["name"].as_str() {
            if let Err(err) = self.transport.register(e, name) {
                return Ok(json!({ "engine": e.to_string(), "name_error": err.to_string() }));
            }
        }
        Ok(json!({ "engine": e.to_string() }))
    }

    /// The engine in field `name`, which must be one this client runs.
    fn owned(&self, client: u64, r: &Value, name: &str) -> Result<EngineAddr, Refusal> {
        let e = addr_field(r, name)?;
        if self.owners.get(&e) != Some(&client) {
            return Err(format!("engine {e} is not one of this client's engines"));
        }
        Ok(e)
    }

    /// The `to` field: an address, or a name (looked up if unknown here).
    fn target(&mut self, client: u64, r: &Value) -> Result<Target, Refusal> {
        let to = str_field(r, "to")?;
        if let Some(a) = parse_addr(to).filter(|_| to.len() == 64) {
            return Ok(Target::Addr(a));
        }
        if let Some(a) = self.transport.whereis(to) {
            return Ok(Target::Addr(a));
        }
        self.park(client, to, r.clone())?;
        Ok(Target::Parked)
    }

    fn park(&mut self, client: u64, name: &str, request: Value) -> Result<(), Refusal> {
        if !self.parked.contains_key(name) {
            self.transport
                .lookup_name(name)
                .map_err(|e| e.to_string())?;
        }
        self.parked
            .entry(name.to_owned())
            .or_default()
            .push(Parked { client, request });
        Ok(())
    }

    /// A lookup ended: retries the requests that waited on it, or refuses them.
    pub(super) fn name_found(&mut self, name: &str, owner: Option<EngineAddr>) {
        for p in self.parked.remove(name).unwrap_or_default() {
            match owner {
                Some(e) if p.request["op"] != "whereis" => {
                    let mut request = p.request;
                    request["to"] = json!(e.to_string());
                    self.request(p.client, request);
                }
                Some(e) => {
                    let answer =
                        json!({ "id": p.request["id"], "ok": true, "engine": e.to_string() });
                    self.send(p.client, &answer);
                }
                None => {
                    let answer = json!({ "id": p.request["id"], "error": format!("no engine has the name `{name}`") });
                    self.send(p.client, &answer);
                }
            }
        }
    }
}
