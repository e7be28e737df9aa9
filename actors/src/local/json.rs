//! The JSON encoding of the local engine socket (feature `json`).
//!
//! A request is an object with `op` and an optional `id` of any JSON
//! type, which the answer repeats; an answer has `ok: true` and its
//! results, or `error`. Pushed frames have `event` instead. Payloads are
//! base64 (`data`), engines 64 hex digits; a target (`to`) is an address
//! or a registered name. `docs/actors.md` lists every request.

use std::collections::BTreeMap;

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE as HEX};
use serde_json::{json, Map, Value};

use super::answer::{Answer, Push};
use super::request::{Request, Target};
use crate::filter::{Event, Filter};
use crate::ids::EngineAddr;

/// Why a request cannot be carried out, as the client is told.
pub type Refusal = String;

/// Parses a frame body: the request's `id` (`null` if none, or if the body
/// is no JSON object) and the request, or why it is refused.
pub fn parse(body: &[u8]) -> (Value, Result<Request, Refusal>) {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => (v["id"].clone(), request(&v)),
        Err(e) => (Value::Null, Err(format!("bad JSON: {e}"))),
    }
}

/// Parses an engine address (64 hex digits, surrounding blanks ignored).
pub fn parse_addr(s: &str) -> Option<EngineAddr> {
    let bytes = HEX.decode(s.trim().as_bytes()).ok()?;
    Some(EngineAddr(bytes.try_into().ok()?))
}

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

/// The `to` field: 64 hex digits name an engine, anything else a name.
fn target(r: &Value) -> Result<Target, Refusal> {
    let to = str_field(r, "to")?;
    Ok(match parse_addr(to).filter(|_| to.len() == 64) {
        Some(a) => Target::Addr(a),
        None => Target::Name(to.to_owned()),
    })
}

/// Reads a request object.
///
/// # Errors
/// A missing or malformed field, or an unknown `op`, as the message the
/// client gets.
pub fn request(r: &Value) -> Result<Request, Refusal> {
    let op = str_field(r, "op")?;
    Ok(match op {
        "start" => Request::Start {
            persistent: r["persistent"].as_str().map(str::to_owned),
            name: r["name"].as_str().map(str::to_owned),
        },
        "stop" => Request::Stop {
            engine: addr_field(r, "engine")?,
        },
        "cast" => Request::Cast {
            engine: addr_field(r, "engine")?,
            to: target(r)?,
            payload: data(r)?,
        },
        "call" => Request::Call {
            engine: addr_field(r, "engine")?,
            to: target(r)?,
            payload: data(r)?,
            timeout_ms: r["timeout_ms"]
                .as_u64()
                .map(|t| u32::try_from(t).unwrap_or(u32::MAX)),
        },
        "reply" => Request::Reply {
            reply_to: r["reply_to"].as_u64().ok_or("missing `reply_to`")?,
            payload: data(r)?,
        },
        "subscribe" => Request::Subscribe {
            engine: addr_field(r, "engine")?,
            publisher: addr_field(r, "publisher")?,
            filter: Filter {
                topic_prefix: r["topic"].as_str().unwrap_or("").to_owned(),
                fields: fields(r)?,
            },
        },
        "unsubscribe" => Request::Unsubscribe {
            sub: r["sub"].as_u64().ok_or("missing `sub`")?,
        },
        "publish" => Request::Publish {
            engine: addr_field(r, "engine")?,
            event: Event {
                topic: str_field(r, "topic")?.to_owned(),
                fields: fields(r)?,
                payload: data(r)?,
            },
        },
        "register" | "unregister" => {
            let engine = addr_field(r, "engine")?;
            let name = str_field(r, "name")?.to_owned();
            if op == "register" {
                Request::Register { engine, name }
            } else {
                Request::Unregister { engine, name }
            }
        }
        "whereis" => Request::Whereis {
            name: str_field(r, "name")?.to_owned(),
        },
        "monitor" => Request::Monitor {
            engine: addr_field(r, "engine")?,
            target: addr_field(r, "target")?,
        },
        "list" => Request::List,
        other => return Err(format!("unknown op `{other}`")),
    })
}

/// A request as a JSON object with `id` (for clients and tests).
pub fn request_value(id: &Value, req: &Request) -> Value {
    let to_value = |t: &Target| match t {
        Target::Addr(a) => json!(a.to_string()),
        Target::Name(n) => json!(n),
    };
    let mut v = match req {
        Request::Start { persistent, name } => {
            let mut v = json!({ "op": "start" });
            if let Some(p) = persistent {
                v["persistent"] = json!(p);
            }
            if let Some(n) = name {
                v["name"] = json!(n);
            }
            v
        }
        Request::Stop { engine } => json!({ "op": "stop", "engine": engine.to_string() }),
        Request::Cast {
            engine,
            to,
            payload,
        } => json!({
            "op": "cast", "engine": engine.to_string(), "to": to_value(to),
            "data": BASE64.encode(payload),
        }),
        Request::Call {
            engine,
            to,
            payload,
            timeout_ms,
        } => {
            let mut v = json!({
                "op": "call", "engine": engine.to_string(), "to": to_value(to),
                "data": BASE64.encode(payload),
            });
            if let Some(t) = timeout_ms {
                v["timeout_ms"] = json!(t);
            }
            v
        }
        Request::Reply { reply_to, payload } => {
            json!({ "op": "reply", "reply_to": reply_to, "data": BASE64.encode(payload) })
        }
        Request::Subscribe {
            engine,
            publisher,
            filter,
        } => json!({
            "op": "subscribe", "engine": engine.to_string(),
            "publisher": publisher.to_string(), "topic": filter.topic_prefix,
            "fields": filter.fields,
        }),
        Request::Unsubscribe { sub } => json!({ "op": "unsubscribe", "sub": sub }),
        Request::Publish { engine, event } => json!({
            "op": "publish", "engine": engine.to_string(), "topic": event.topic,
            "fields": event.fields, "data": BASE64.encode(&event.payload),
        }),
        Request::Register { engine, name } => {
            json!({ "op": "register", "engine": engine.to_string(), "name": name })
        }
        Request::Unregister { engine, name } => {
            json!({ "op": "unregister", "engine": engine.to_string(), "name": name })
        }
        Request::Whereis { name } => json!({ "op": "whereis", "name": name }),
        Request::Monitor { engine, target } => json!({
            "op": "monitor", "engine": engine.to_string(), "target": target.to_string(),
        }),
        Request::List => json!({ "op": "list" }),
    };
    if !id.is_null() {
        v["id"] = id.clone();
    }
    v
}

/// The answer to the request `id`.
pub fn answer(id: &Value, a: &Answer) -> Value {
    let mut v = match a {
        Answer::Refused { error } => return json!({ "id": id, "error": error }),
        Answer::Started { engine, name_error } => {
            let mut v = json!({ "engine": engine.to_string() });
            if let Some(e) = name_error {
                v["name_error"] = json!(e);
            }
            v
        }
        Answer::Done => json!({}),
        Answer::Replied { payload } => json!({ "data": BASE64.encode(payload) }),
        Answer::Subscribed { sub } => json!({ "sub": sub }),
        Answer::Unsubscribed { removed } => json!({ "removed": removed }),
        Answer::Published { sent } => json!({ "sent": sent }),
        Answer::Found { engine } => json!({ "engine": engine.to_string() }),
        Answer::Monitoring { monitor } => json!({ "monitor": monitor }),
        Answer::Listed { json } => match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(m)) => Value::Object(m),
            _ => Value::Object(Map::new()),
        },
    };
    v["ok"] = json!(true);
    v["id"] = id.clone();
    v
}

/// A pushed frame.
pub fn push(p: &Push) -> Value {
    match p {
        Push::Cast {
            engine,
            from,
            payload,
        } => json!({
            "event": "cast", "engine": engine.to_string(),
            "from": from.to_string(), "data": BASE64.encode(payload),
        }),
        Push::Call {
            engine,
            from,
            reply_to,
            payload,
        } => json!({
            "event": "call", "engine": engine.to_string(),
            "from": from.to_string(), "reply_to": reply_to,
            "data": BASE64.encode(payload),
        }),
        Push::Event {
            engine,
            from,
            event,
        } => json!({
            "event": "event", "engine": engine.to_string(),
            "from": from.to_string(), "topic": event.topic,
            "fields": event.fields, "data": BASE64.encode(&event.payload),
        }),
        Push::Down {
            engine,
            monitor,
            target,
            reason,
        } => json!({
            "event": "down", "engine": engine.to_string(), "monitor": monitor,
            "target": target.to_string(), "reason": format!("{reason:?}"),
        }),
        Push::NameLost {
            engine,
            name,
            winner,
        } => json!({
            "event": "name_lost", "engine": engine.to_string(),
            "name": name, "winner": winner.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "abababababababababababababababababababababababababababababababab";

    #[test]
    fn requests_read_as_before() {
        let (id, r) = parse(
            br#"{"op":"call","id":7,"engine":"abababababababababababababababababababababababababababababababab","to":"echo","data":"aGk=","timeout_ms":99}"#,
        );
        assert_eq!(id, json!(7));
        assert_eq!(
            r,
            Ok(Request::Call {
                engine: EngineAddr([0xab; 32]),
                to: Target::Name("echo".into()),
                payload: b"hi".to_vec(),
                timeout_ms: Some(99),
            })
        );
        let (_, r) = parse(format!(r#"{{"op":"cast","engine":"{A}","to":"{A}"}}"#).as_bytes());
        assert!(matches!(
            r,
            Ok(Request::Cast {
                to: Target::Addr(_),
                ..
            })
        ));
        assert_eq!(
            parse(br#"{"id":1}"#).1,
            Err("missing string field `op`".into())
        );
        assert_eq!(parse(br#"{"op":"x"}"#).1, Err("unknown op `x`".into()));
        assert_eq!(
            parse(br#"{"op":"stop","engine":"12"}"#).1,
            Err("`engine` is not an engine address".into())
        );
        let (id, r) = parse(b"{");
        assert_eq!(id, Value::Null);
        assert!(r.is_err_and(|e| e.starts_with("bad JSON")));
    }

    #[test]
    fn answers_and_pushes_read_as_before() {
        let engine = EngineAddr([0xab; 32]);
        assert_eq!(
            answer(
                &json!(3),
                &Answer::Started {
                    engine,
                    name_error: None
                }
            )
            .to_string(),
            format!(r#"{{"engine":"{A}","id":3,"ok":true}}"#)
        );
        assert_eq!(
            answer(&json!("x"), &Answer::Refused { error: "no".into() }).to_string(),
            r#"{"error":"no","id":"x"}"#
        );
        assert_eq!(
            answer(
                &Value::Null,
                &Answer::Listed {
                    json: r#"{"local":[]}"#.into()
                }
            )
            .to_string(),
            r#"{"id":null,"local":[],"ok":true}"#
        );
        let p = Push::Call {
            engine,
            from: engine,
            reply_to: 5,
            payload: b"hi".to_vec(),
        };
        assert_eq!(
            push(&p).to_string(),
            format!(r#"{{"data":"aGk=","engine":"{A}","event":"call","from":"{A}","reply_to":5}}"#)
        );
    }

    #[test]
    fn requests_survive_a_round_trip() {
        let engine = EngineAddr([1; 32]);
        let requests = [
            Request::Start {
                persistent: Some("p".into()),
                name: None,
            },
            Request::Call {
                engine,
                to: Target::Addr(engine),
                payload: vec![0, 255],
                timeout_ms: None,
            },
            Request::Publish {
                engine,
                event: Event {
                    topic: "t".into(),
                    fields: [("k".to_owned(), "v".to_owned())].into(),
                    payload: vec![1],
                },
            },
            Request::List,
        ];
        for r in requests {
            let v = request_value(&json!(1), &r);
            assert_eq!(parse(v.to_string().as_bytes()), (json!(1), Ok(r)));
        }
    }
}
