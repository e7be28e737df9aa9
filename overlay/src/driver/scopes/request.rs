//! The scope requests of the control socket: the `scope` command of the
//! control API ([`crate::driver::control::api`]), whose `op` names the
//! request and whose other fields are its arguments.
//! [`ScopeRequest::from_args`] reads one, [`ScopeRequest::to_args`] writes
//! one (the CLI uses both halves).
//!
//! ```text
//! {"v":1,"cmd":"scope","op":"add","record":"tessel-scoperecord-…"}
//! {"v":1,"cmd":"scope","op":"register","scope":"/org","service":"fs","grant":"tessel-scoperecord-…","engine":"<64 hex>"}
//! {"v":1,"cmd":"scope","op":"withdraw","scope":"/org","service":"fs"}
//! {"v":1,"cmd":"scope","op":"query","kind":"all","scope":"/org","service":"fs","cred":"tessel-scoperecord-…","timeout_ms":20000}
//! {"v":1,"cmd":"scope","op":"send","kind":"closest","scope":"/org","service":"fs","data":"<base64>","cred":"…","timeout_ms":20000}
//! {"v":1,"cmd":"scope","op":"list"}
//! {"v":1,"cmd":"scope","op":"forget"}
//! ```
//!
//! `engine`, `cred` and `timeout_ms` are optional. Records are in their
//! text form ([`super::text`]) and are checked (signature) on parsing.

use std::time::Duration;

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};
use serde_json::{json, Map, Value};
use tessel_actors::scope::{Credential, Kind, QueryKind, Record, ScopePath};
use tessel_actors::EngineAddr;

use super::text::{parse_record, record_text, RecordTextError};

/// How long a query or send waits for its answer unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest wait a request may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

/// A scope request to the running node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRequest {
    /// Take a record signed elsewhere: a scope creation, hosting grant,
    /// read capability, read grant or revocation.
    Add {
        /// The record.
        record: Record,
    },
    /// Register a service of this node in a scope.
    Register {
        /// The scope.
        scope: ScopePath,
        /// The service.
        service: String,
        /// The hosting grant for this node and scope.
        grant: Record,
        /// The engine serving it, if any.
        engine: Option<EngineAddr>,
    },
    /// Withdraw a registration of this node.
    Withdraw {
        /// The scope.
        scope: ScopePath,
        /// The service.
        service: String,
    },
    /// Find the runtimes hosting a service.
    Query {
        /// All in the scope, or the closest.
        kind: QueryKind,
        /// The scope.
        scope: ScopePath,
        /// The service.
        service: String,
        /// The credential presented.
        cred: Credential,
        /// How long to wait for the answer.
        timeout: Duration,
    },
    /// Send a payload to the engines of a service in a scope.
    Send {
        /// To all of them, or to one of the closest.
        kind: QueryKind,
        /// The scope.
        scope: ScopePath,
        /// The service.
        service: String,
        /// The credential presented.
        cred: Credential,
        /// What to send.
        payload: Vec<u8>,
        /// How long to wait for the outcome.
        timeout: Duration,
    },
    /// This node's registrations, clusters and records.
    List,
    /// Drop this node's query cache (the next query starts cold).
    Forget,
}

/// Why a scope request was refused before it was carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The arguments are not a JSON object.
    #[error("a scope request's arguments are a JSON object")]
    NotJson,
    /// `op` names no scope request.
    #[error("unknown scope request `{0}`")]
    UnknownOp(String),
    /// A field is missing or of the wrong type.
    #[error("missing or invalid field `{0}`")]
    Field(&'static str),
    /// The scope is not a scope path.
    #[error(
        "invalid scope `{scope}`: {reason} (a scope is / or /seg/seg…, segments of a-z 0-9 _ -)"
    )]
    Scope {
        /// What was given.
        scope: String,
        /// Why it was refused.
        reason: String,
    },
    /// A record that does not parse or verify.
    #[error("`{field}`: {error}")]
    Record {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        error: RecordTextError,
    },
    /// A credential of a kind no query takes.
    #[error("a credential is a read capability, read grant or hosting grant, not a {0:?}")]
    CredentialKind(Kind),
}

fn field<'a>(v: &'a Value, name: &'static str) -> Result<&'a str, RequestError> {
    v[name].as_str().ok_or(RequestError::Field(name))
}

fn scope_field(v: &Value) -> Result<ScopePath, RequestError> {
    let s = field(v, "scope")?;
    ScopePath::parse(s).map_err(|e| RequestError::Scope {
        scope: s.to_owned(),
        reason: e.to_string(),
    })
}

fn record_field(v: &Value, name: &'static str) -> Result<Record, RequestError> {
    parse_record(field(v, name)?).map_err(|error| RequestError::Record { field: name, error })
}

fn kind_field(v: &Value) -> Result<QueryKind, RequestError> {
    match v["kind"].as_str() {
        None | Some("all") => Ok(QueryKind::All),
        Some("closest") => Ok(QueryKind::Closest),
        Some(_) => Err(RequestError::Field("kind")),
    }
}

fn cred_field(v: &Value) -> Result<Credential, RequestError> {
    if v["cred"].is_null() {
        return Ok(Credential::Anonymous);
    }
    credential(record_field(v, "cred")?)
}

fn timeout_field(v: &Value) -> Result<Duration, RequestError> {
    match &v["timeout_ms"] {
        Value::Null => Ok(DEFAULT_TIMEOUT),
        t => t
            .as_u64()
            .map(|ms| Duration::from_millis(ms).min(MAX_TIMEOUT))
            .ok_or(RequestError::Field("timeout_ms")),
    }
}

/// The credential a record is, by its kind.
///
/// # Errors
/// A record of a kind that is no credential.
pub fn credential(r: Record) -> Result<Credential, RequestError> {
    match r.body.kind() {
        Kind::ReadCap => Ok(Credential::ReadCap(r)),
        Kind::ReadGrant => Ok(Credential::ReadGrant(r)),
        Kind::HostingGrant => Ok(Credential::HostingGrant(r)),
        k => Err(RequestError::CredentialKind(k)),
    }
}

/// The record a credential carries, if any.
fn cred_record(c: &Credential) -> Option<&Record> {
    match c {
        Credential::Anonymous => None,
        Credential::ReadCap(r) | Credential::ReadGrant(r) | Credential::HostingGrant(r) => Some(r),
    }
}

/// The name of a query kind in requests and answers.
pub fn kind_name(k: QueryKind) -> &'static str {
    match k {
        QueryKind::All => "all",
        QueryKind::Closest => "closest",
    }
}

impl ScopeRequest {
    /// Reads the arguments of a `scope` command (`op` and its fields).
    ///
    /// # Errors
    /// Why the request is refused: an unknown `op`, a missing or invalid
    /// field, a record that does not verify.
    pub fn from_args(args: &Map<String, Value>) -> Result<Self, RequestError> {
        Self::from_json(&Value::Object(args.clone()))
    }

    fn from_json(v: &Value) -> Result<Self, RequestError> {
        if !v.is_object() {
            return Err(RequestError::NotJson);
        }
        let op = field(v, "op")?;
        let service = || field(v, "service").map(str::to_owned);
        Ok(match op {
            "add" => Self::Add {
                record: record_field(v, "record")?,
            },
            "register" => Self::Register {
                scope: scope_field(v)?,
                service: service()?,
                grant: record_field(v, "grant")?,
                engine: match &v["engine"] {
                    Value::Null => None,
                    e => Some(engine_addr(e.as_str()).ok_or(RequestError::Field("engine"))?),
                },
            },
            "withdraw" => Self::Withdraw {
                scope: scope_field(v)?,
                service: service()?,
            },
            "query" => Self::Query {
                kind: kind_field(v)?,
                scope: scope_field(v)?,
                service: service()?,
                cred: cred_field(v)?,
                timeout: timeout_field(v)?,
            },
            "send" => Self::Send {
                kind: kind_field(v)?,
                scope: scope_field(v)?,
                service: service()?,
                cred: cred_field(v)?,
                payload: BASE64
                    .decode(field(v, "data")?.as_bytes())
                    .map_err(|_| RequestError::Field("data"))?,
                timeout: timeout_field(v)?,
            },
            "list" => Self::List,
            "forget" => Self::Forget,
            other => return Err(RequestError::UnknownOp(other.to_owned())),
        })
    }

    /// The arguments of the `scope` command for this request.
    ///
    /// # Errors
    /// A record that does not encode.
    pub fn to_args(&self) -> Result<Map<String, Value>, RecordTextError> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        match self {
            Self::Add { record } => {
                put("op", json!("add"));
                put("record", json!(record_text(record)?));
            }
            Self::Register {
                scope,
                service,
                grant,
                engine,
            } => {
                put("op", json!("register"));
                put("scope", json!(scope.to_string()));
                put("service", json!(service));
                put("grant", json!(record_text(grant)?));
                if let Some(e) = engine {
                    put("engine", json!(e.to_string()));
                }
            }
            Self::Withdraw { scope, service } => {
                put("op", json!("withdraw"));
                put("scope", json!(scope.to_string()));
                put("service", json!(service));
            }
            Self::Query {
                kind,
                scope,
                service,
                cred,
                timeout,
            }
            | Self::Send {
                kind,
                scope,
                service,
                cred,
                timeout,
                ..
            } => {
                let op = if matches!(self, Self::Query { .. }) {
                    "query"
                } else {
                    "send"
                };
                put("op", json!(op));
                put("kind", json!(kind_name(*kind)));
                put("scope", json!(scope.to_string()));
                put("service", json!(service));
                if let Some(r) = cred_record(cred) {
                    put("cred", json!(record_text(r)?));
                }
                put("timeout_ms", json!(timeout.as_millis() as u64));
                if let Self::Send { payload, .. } = self {
                    put("data", json!(BASE64.encode(payload)));
                }
            }
            Self::List => put("op", json!("list")),
            Self::Forget => put("op", json!("forget")),
        }
        Ok(m)
    }
}

/// An engine address: 64 hex digits.
pub fn engine_addr(s: Option<&str>) -> Option<EngineAddr> {
    let s = s?.trim();
    if s.len() != 64 {
        return None;
    }
    let b = HEXLOWER_PERMISSIVE.decode(s.as_bytes()).ok()?;
    Some(EngineAddr(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use tessel_actors::ids::{NodeId, Time};
    use tessel_actors::scope::Body;

    fn grant(kind: Kind) -> Record {
        let key = SigningKey::from_bytes(&[3; 32]);
        let scope = ScopePath::parse("/org/team").unwrap();
        let body = match kind {
            Kind::ReadCap => Body::ReadCap {
                scope,
                holder: [0; 32],
                expires: Time(9),
            },
            Kind::ScopeCreate => Body::ScopeCreate {
                path: scope,
                owner: [1; 32],
                world_readable: false,
                issued: Time(1),
            },
            _ => Body::HostingGrant {
                scope,
                runtime: NodeId([5; 32]),
                expires: Time(9),
            },
        };
        Record::sign(body, &key).unwrap()
    }

    #[test]
    fn requests_round_trip() {
        let scope = ScopePath::parse("/org/team").unwrap();
        let all = [
            ScopeRequest::Add {
                record: grant(Kind::ScopeCreate),
            },
            ScopeRequest::Register {
                scope: scope.clone(),
                service: "fs".into(),
                grant: grant(Kind::HostingGrant),
                engine: Some(EngineAddr([0xab; 32])),
            },
            ScopeRequest::Register {
                scope: scope.clone(),
                service: "sector".into(),
                grant: grant(Kind::HostingGrant),
                engine: None,
            },
            ScopeRequest::Withdraw {
                scope: scope.clone(),
                service: "fs".into(),
            },
            ScopeRequest::Query {
                kind: QueryKind::Closest,
                scope: scope.clone(),
                service: "fs".into(),
                cred: Credential::ReadCap(grant(Kind::ReadCap)),
                timeout: Duration::from_millis(1500),
            },
            ScopeRequest::Send {
                kind: QueryKind::All,
                scope,
                service: "fs".into(),
                cred: Credential::Anonymous,
                payload: b"hello".to_vec(),
                timeout: DEFAULT_TIMEOUT,
            },
            ScopeRequest::List,
            ScopeRequest::Forget,
        ];
        for r in all {
            let args = r.to_args().unwrap();
            assert_eq!(ScopeRequest::from_args(&args), Ok(r), "{args:?}");
        }
    }

    fn parse(text: &str) -> Result<ScopeRequest, RequestError> {
        match serde_json::from_str::<Value>(text).unwrap() {
            Value::Object(m) => ScopeRequest::from_args(&m),
            other => ScopeRequest::from_json(&other),
        }
    }

    #[test]
    fn bad_requests() {
        assert_eq!(parse("[]"), Err(RequestError::NotJson));
        assert_eq!(parse("{}"), Err(RequestError::Field("op")));
        assert_eq!(
            parse(r#"{"op":"fly"}"#),
            Err(RequestError::UnknownOp("fly".into()))
        );
        assert_eq!(
            parse(r#"{"op":"withdraw","scope":"/org"}"#),
            Err(RequestError::Field("service"))
        );
        assert!(matches!(
            parse(r#"{"op":"withdraw","scope":"org","service":"x"}"#),
            Err(RequestError::Scope { .. })
        ));
        let create = record_text(&grant(Kind::ScopeCreate)).unwrap();
        let text = format!(r#"{{"op":"query","scope":"/","service":"x","cred":"{create}"}}"#);
        assert_eq!(
            parse(&text),
            Err(RequestError::CredentialKind(Kind::ScopeCreate))
        );
        assert_eq!(
            parse(r#"{"op":"send","scope":"/","service":"x","data":"!"}"#),
            Err(RequestError::Field("data"))
        );
    }
}
