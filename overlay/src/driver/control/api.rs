//! Version 1 of the control API spoken on `tessel.sock`
//! (`docs/control-api.md`): the request envelope and its commands, who may
//! send each, the answer envelope and its error codes.
//!
//! One request per line, one answer per line:
//!
//! ```text
//! {"v":1,"id":7,"cmd":"ping","target":"tessel-node-…"}
//! {"v":1,"id":7,"ok":true,"peer":"tessel-node-…","path":"direct",…}
//! {"v":1,"ok":false,"error":{"code":"not_found","message":"…"}}
//! ```
//!
//! - `v` is required; a node answers a version it does not serve with
//!   `unsupported_version` and the list of versions it does (`versions`).
//!   Within a version, changes are additive only: new commands, new
//!   optional arguments, new answer fields. Clients ignore fields they do
//!   not know; the node ignores arguments it does not know.
//! - `id` is optional, any JSON value, and echoed in the answer.
//! - `cmd` names the command ([`Request`]); its arguments sit beside it.
//! - An answer is `ok: true` with the command's fields beside it (the
//!   typed bodies are in [`super::answers`]), or `ok: false` with an
//!   [`ApiError`].
//!
//! Nothing here touches a socket: [`admit`] turns a line into a request
//! (or the error answer), [`answer_line`] writes an answer, and
//! [`request_line`]/[`read_answer`] are the client's two halves.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of the API this module speaks.
pub const VERSION: u64 = 1;
/// Every version this node answers.
pub const SUPPORTED_VERSIONS: &[u64] = &[VERSION];

/// A command to the running node, as the JSON object beside `v` and `id`
/// (`cmd` names the variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// The node, its peers and its counters ([`super::answers::StatusAnswer`]).
    Status,
    /// The node ID and overlay addresses ([`super::answers::IpAnswer`]).
    Ip,
    /// Pings a member once and waits up to 2 s for its pong
    /// ([`super::answers::PingAnswer`]).
    Ping {
        /// A node ID (`tessel-node-…`) or an overlay address.
        target: String,
    },
    /// Who a member is ([`super::answers::WhoisAnswer`]).
    Whois {
        /// A node ID (`tessel-node-…`) or an overlay address (IPv6 or IPv4).
        target: String,
    },
    /// Stops the node, as SIGTERM does ([`super::answers::DownAnswer`]).
    Down,
    /// Makes a new network key and hands it to the members
    /// ([`super::answers::RotateAnswer`]).
    NetworkRotate {
        /// How long the old key keeps working, in seconds (without
        /// `signed`; a signed rotation carries its own grace end).
        grace_s: u64,
        /// Managed mode: the owner's signed rotation (`tessel-rotation-…`,
        /// made by `tessel network rotate --owner-key`), a secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signed: Option<String>,
    },
    /// Hands the node a signed revocation list
    /// ([`super::answers::RevocationsAnswer`]).
    NetworkRevocations {
        /// The list's text (`tessel-revoked-…`).
        list: String,
    },
    /// Hands the node the owner's handover to a new owner key
    /// ([`super::answers::HandoverAnswer`]).
    NetworkHandover {
        /// The handover's text (`tessel-handover-…`).
        handover: String,
    },
    /// Publishes a record signed by this node
    /// ([`super::answers::RecordPublishAnswer`]).
    RecordPublish {
        /// The record key: 64 hex digits.
        key: String,
        /// How long the record lives, in seconds (at most an hour).
        ttl_s: u64,
        /// The value, in hex.
        value: String,
    },
    /// Fetches the records under a key ([`super::answers::RecordFetchAnswer`]).
    RecordFetch {
        /// The record key: 64 hex digits.
        key: String,
    },
    /// Local and foreign engines ([`super::answers::EngineListAnswer`]).
    EngineList,
    /// Test builds only: tampers with this node's engine frames.
    #[cfg(feature = "test-hooks")]
    EngineTamper {
        /// `forge`, `alter` or `replay`.
        mode: String,
    },
    /// The hosted tile's directions and counters
    /// ([`super::answers::TileStatusAnswer`]).
    TileStatus,
    /// The hosted tile's managed files ([`super::answers::TileFilesAnswer`]).
    TileFiles,
    /// Publishes a signed file that the node reads
    /// ([`super::answers::TilePublishAnswer`]).
    TilePublish {
        /// The signed file's absolute path (read by the node's user).
        path: String,
    },
    /// Announces a change of physics ([`super::answers::TileAnnounceAnswer`]).
    TileAnnounce {
        /// The signed announcement (a service 9 message), in hex.
        announcement: String,
    },
    /// A scope operation: `op` and its fields (docs/scopes.md §11.3).
    Scope {
        /// `op` and the operation's fields.
        #[serde(flatten)]
        args: Map<String, Value>,
    },
}

/// Who may send a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who may open the socket (root and the socket group).
    Open,
    /// Root or the daemon's own user only; the text says what the command
    /// does, for the refusal.
    Privileged(&'static str),
}

/// The scope operations that change the node's scopes.
const PRIVILEGED_SCOPE_OPS: [&str; 4] = ["add", "register", "withdraw", "forget"];

impl Request {
    /// Every command name of this version, in the order of the docs.
    pub const NAMES: &'static [&'static str] = &[
        "status",
        "ip",
        "ping",
        "whois",
        "down",
        "network_rotate",
        "network_revocations",
        "network_handover",
        "record_publish",
        "record_fetch",
        "engine_list",
        #[cfg(feature = "test-hooks")]
        "engine_tamper",
        "tile_status",
        "tile_files",
        "tile_publish",
        "tile_announce",
        "scope",
    ];

    /// The command's name (`cmd`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Ip => "ip",
            Self::Ping { .. } => "ping",
            Self::Whois { .. } => "whois",
            Self::Down => "down",
            Self::NetworkRotate { .. } => "network_rotate",
            Self::NetworkRevocations { .. } => "network_revocations",
            Self::NetworkHandover { .. } => "network_handover",
            Self::RecordPublish { .. } => "record_publish",
            Self::RecordFetch { .. } => "record_fetch",
            Self::EngineList => "engine_list",
            #[cfg(feature = "test-hooks")]
            Self::EngineTamper { .. } => "engine_tamper",
            Self::TileStatus => "tile_status",
            Self::TileFiles => "tile_files",
            Self::TilePublish { .. } => "tile_publish",
            Self::TileAnnounce { .. } => "tile_announce",
            Self::Scope { .. } => "scope",
        }
    }

    /// Who may send it: commands that read the node or use it are open to
    /// the socket group; those that change or stop it, or whose answer
    /// holds a secret, are for root and the daemon's user.
    pub fn access(&self) -> Access {
        match self {
            Self::Status
            | Self::Ip
            | Self::Ping { .. }
            | Self::Whois { .. }
            | Self::RecordFetch { .. }
            | Self::EngineList
            | Self::TileStatus
            | Self::TileFiles => Access::Open,
            Self::Down => Access::Privileged("stop the node"),
            Self::NetworkRotate { .. } => {
                Access::Privileged("rotate the network key (the answer holds the new key)")
            }
            Self::NetworkRevocations { .. } => {
                Access::Privileged("hand the node a revocation list")
            }
            Self::NetworkHandover { .. } => Access::Privileged("hand the node an owner handover"),
            Self::RecordPublish { .. } => Access::Privileged("publish records as this node"),
            #[cfg(feature = "test-hooks")]
            Self::EngineTamper { .. } => Access::Privileged("tamper with engine frames"),
            Self::TilePublish { .. } => Access::Privileged("publish tile files"),
            Self::TileAnnounce { .. } => Access::Privileged("announce a change of physics"),
            Self::Scope { args } => {
                let op = args.get("op").and_then(Value::as_str).unwrap_or("");
                if PRIVILEGED_SCOPE_OPS.contains(&op) {
                    Access::Privileged("change the node's scopes (add, register, withdraw, forget)")
                } else {
                    Access::Open
                }
            }
        }
    }
}

/// The general error codes. Scope operations add their own
/// (docs/scopes.md §11.3); clients treat a code they do not know as a
/// failure with its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The line is no JSON object, or an argument is missing or invalid.
    BadRequest,
    /// `v` names a version this node does not serve.
    UnsupportedVersion,
    /// `cmd` names no command of this version.
    UnknownCommand,
    /// The caller is neither root nor the daemon's user.
    PermissionDenied,
    /// The member or thing asked about is unknown to this node.
    NotFound,
    /// This node does not run the part that answers (no tile hosted).
    Unavailable,
    /// Too many requests wait already; try again.
    Busy,
    /// No answer came in time (a pong, a record fetch).
    Timeout,
    /// The node tried and could not (the message says why).
    Failed,
}

impl ErrorCode {
    /// The code as it appears in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnsupportedVersion => "unsupported_version",
            Self::UnknownCommand => "unknown_command",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::Unavailable => "unavailable",
            Self::Busy => "busy",
            Self::Timeout => "timeout",
            Self::Failed => "failed",
        }
    }

    /// Every general code, in the order of the docs.
    pub const ALL: [Self; 9] = [
        Self::BadRequest,
        Self::UnsupportedVersion,
        Self::UnknownCommand,
        Self::PermissionDenied,
        Self::NotFound,
        Self::Unavailable,
        Self::Busy,
        Self::Timeout,
        Self::Failed,
    ];
}

/// Why a request failed: the `error` object of an answer with `ok: false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure ([`ErrorCode`], or a scope operation's code).
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// Fields some errors carry (`versions` for `unsupported_version`; a
    /// scope send's `engines`, `gone`, `unreachable`; `elapsed_us`).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl ApiError {
    /// An error with a general code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_code(code.as_str(), message)
    }

    /// An error with any code (a scope operation's own).
    pub fn with_code(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            details: Map::new(),
        }
    }

    /// `bad_request` with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// Adds a detail field.
    #[must_use]
    pub fn detail(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_owned(), value);
        self
    }

    /// Whether the code is `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == code.as_str()
    }
}

/// What a command came to: the answer's fields (a JSON object), or why it
/// failed.
pub type Reply = Result<Map<String, Value>, ApiError>;

/// The reply for a typed answer body.
pub fn reply<T: Serialize>(body: &T) -> Reply {
    match serde_json::to_value(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::new(
            ErrorCode::Failed,
            format!("internal: an answer body is no object: {other}"),
        )),
        Err(e) => Err(ApiError::new(
            ErrorCode::Failed,
            format!("internal: writing the answer: {e}"),
        )),
    }
}

/// A request taken from a line, with its `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The client's `id`, echoed in the answer.
    pub id: Option<Value>,
    /// The command.
    pub request: Request,
}

/// A line refused before any command ran: the error, and the `id` to
/// answer with if the line had one.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The client's `id`, if it could be read.
    pub id: Option<Value>,
    /// Why.
    pub error: ApiError,
}

/// Reads a request line; `privileged` says whether the caller is root or
/// the daemon's user. Checks the version, the command, its arguments and
/// who may send it.
///
/// # Errors
/// The error answer for a line that is no request of this version, or a
/// command the caller may not send.
pub fn admit(line: &str, privileged: bool) -> Result<Incoming, Refused> {
    let refuse = |id: Option<Value>, error| Refused { id, error };
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(refuse(
                None,
                ApiError::bad_request(
                    "a request is one JSON object on one line, e.g. {\"v\":1,\"cmd\":\"status\"} (docs/control-api.md)",
                ),
            ))
        }
    };
    let id = object.remove("id");
    match object.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        None => {
            return Err(refuse(
                id,
                ApiError::bad_request(format!(
                    "a request names its API version: add \"v\":{VERSION}"
                )),
            ))
        }
        Some(other) => {
            let e = ApiError::new(
                ErrorCode::UnsupportedVersion,
                format!("this node serves control API version {VERSION}, not {other}"),
            )
            .detail("versions", serde_json::json!(SUPPORTED_VERSIONS));
            return Err(refuse(id, e));
        }
    }
    let name = match object.get("cmd") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(refuse(
                id,
                ApiError::bad_request("a request names its command: \"cmd\":\"status\", …"),
            ))
        }
    };
    if !Request::NAMES.contains(&name.as_str()) {
        let e = ApiError::new(
            ErrorCode::UnknownCommand,
            format!(
                "no command `{name}` in control API version {VERSION} (commands: {})",
                Request::NAMES.join(", ")
            ),
        );
        return Err(refuse(id, e));
    }
    let request = match serde_json::from_value::<Request>(Value::Object(object)) {
        Ok(r) => r,
        Err(e) => {
            return Err(refuse(
                id,
                ApiError::bad_request(format!("`{name}`: {e} (docs/control-api.md)")),
            ))
        }
    };
    if let (Access::Privileged(what), false) = (request.access(), privileged) {
        let e = ApiError::new(
            ErrorCode::PermissionDenied,
            format!("only root or the daemon's user may {what}"),
        );
        return Err(refuse(id, e));
    }
    Ok(Incoming { id, request })
}

/// The answer line (without the newline) for `reply` to the request with
/// `id`.
pub fn answer_line(id: Option<&Value>, reply: &Reply) -> String {
    let mut out = Map::new();
    out.insert("v".into(), Value::from(VERSION));
    if let Some(id) = id {
        out.insert("id".into(), id.clone());
    }
    match reply {
        Ok(body) => {
            out.insert("ok".into(), Value::Bool(true));
            for (k, v) in body {
                if !matches!(k.as_str(), "v" | "id" | "ok") {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Err(e) => {
            out.insert("ok".into(), Value::Bool(false));
            let error = serde_json::to_value(e)
                .unwrap_or_else(|_| serde_json::json!({ "code": e.code, "message": e.message }));
            out.insert("error".into(), error);
        }
    }
    Value::Object(out).to_string()
}

/// The request line (without the newline) for `request`, with an `id` if
/// given.
pub fn request_line(request: &Request, id: Option<Value>) -> String {
    let mut out = Map::new();
    out.insert("v".into(), Value::from(VERSION));
    if let Some(id) = id {
        out.insert("id".into(), id);
    }
    if let Ok(Value::Object(m)) = serde_json::to_value(request) {
        out.extend(m);
    }
    Value::Object(out).to_string()
}

/// Why an answer line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// Not a JSON object.
    #[error("the node's answer is not a JSON object: `{0}`")]
    NotJson(String),
    /// Another version than the one asked for.
    #[error("the node answered in control API version {0}, not {VERSION}: use a tessel of the same version")]
    Version(String),
    /// No `ok`, or an `error` that is not an error object.
    #[error("the node's answer has no valid `ok`/`error`: `{0}`")]
    Malformed(String),
}

/// Reads an answer line: the answer's fields without `v`, `id` and `ok`,
/// or the node's error.
///
/// # Errors
/// An [`AnswerError`] for a line that is no answer of this version.
pub fn read_answer(line: &str) -> Result<Reply, AnswerError> {
    let line = line.trim();
    let mut object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => m,
        _ => return Err(AnswerError::NotJson(line.to_owned())),
    };
    match object.remove("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
        other => {
            return Err(AnswerError::Version(
                other.map_or_else(|| "none".to_owned(), |v| v.to_string()),
            ))
        }
    }
    object.remove("id");
    match object.remove("ok") {
        Some(Value::Bool(true)) => Ok(Ok(object)),
        Some(Value::Bool(false)) => {
            let error = object
                .remove("error")
                .and_then(|e| serde_json::from_value::<ApiError>(e).ok())
                .ok_or_else(|| AnswerError::Malformed(line.to_owned()))?;
            Ok(Err(error))
        }
        _ => Err(AnswerError::Malformed(line.to_owned())),
    }
}

#[cfg(test)]
mod tests;
