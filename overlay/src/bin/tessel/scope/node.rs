//! The `tessel scope` verbs that drive the running node's scopes through
//! its control socket: add, register, withdraw, query, send, list, forget.
//! Each sends one `scope` command of the control API
//! (`driver::scopes::request`) and prints the node's answer, as text or
//! with `--json` as it came (an error as `{"error": {"code", "message",
//! …}}`).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use tessel_actors::scope::{Credential, QueryKind};
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::scopes::request::{credential, engine_addr, ScopeRequest};

use super::sign::{record_arg, scope_path};
use crate::cli::NodeDirs;
use crate::local;

/// Output and the node to ask.
#[derive(Debug, Args)]
pub(crate) struct NodeOut {
    /// Print the node's answer as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

/// What a query or send is about.
#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// The scope, e.g. /org/team.
    scope: String,
    /// The service.
    service: String,
    /// Every runtime hosting the service directly in the scope (default).
    #[arg(long, conflicts_with = "closest")]
    all: bool,
    /// The runtimes hosting it in the scope or, failing that, in its
    /// nearest ancestor that has any.
    #[arg(long)]
    closest: bool,
    /// A read capability, read grant or hosting grant to present (text or
    /// @FILE); without it the query is anonymous.
    #[arg(long, value_name = "RECORD|@FILE")]
    cred: Option<String>,
    /// How long to wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    timeout_ms: u64,
    #[command(flatten)]
    out: NodeOut,
}

impl QueryArgs {
    fn kind(&self) -> QueryKind {
        if self.closest {
            QueryKind::Closest
        } else {
            QueryKind::All
        }
    }

    fn cred(&self) -> Result<Credential> {
        match &self.cred {
            None => Ok(Credential::Anonymous),
            Some(c) => Ok(credential(record_arg(c)?).context("--cred")?),
        }
    }
}

/// Sends `r` and returns the node's answer; an error answer fails with
/// advice for its code (after printing it as `{"error": {…}}`, with
/// `--json`).
fn ask(r: &ScopeRequest, out: &NodeOut) -> Result<Value> {
    let request = Request::Scope { args: r.to_args()? };
    let e = match local::call(&out.dirs, &request) {
        Ok(body) => return Ok(Value::Object(body)),
        Err(e) => e,
    };
    let Some(refusal) = e.refusal() else {
        return Err(e.into());
    };
    if out.json {
        println!("{}", json!({ "error": refusal }));
    }
    let hint = match refusal.code.as_str() {
        "denied" => {
            "; the node may not read that scope (or it does not exist): present a read \
             capability or read grant with --cred"
        }
        "no_bootstrap" => {
            "; the node knows no root runtime to ask: start it with --scope-bootstrap \
             tessel-node-… or --scope-bootstrap-dns NAME"
        }
        "timeout" => "; the runtimes asked did not answer in time (--timeout-ms)",
        "no_runtime" => "; nothing is registered for that service there",
        _ => "",
    };
    bail!("{e}{hint}");
}

fn print_json_or(v: &Value, out: &NodeOut, text: impl FnOnce(&Value)) {
    if out.json {
        println!("{v}");
    } else {
        text(v);
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// `tessel scope add`.
pub(super) fn add(record: &str, out: &NodeOut) -> Result<()> {
    let r = ScopeRequest::Add {
        record: record_arg(record)?,
    };
    let v = ask(&r, out)?;
    print_json_or(&v, out, |v| {
        let rec = &v["record"];
        match rec["scope"].as_str() {
            Some(scope) => println!("taken: {} for {scope}", s(&rec["kind"])),
            None => println!("taken: {}", s(&rec["kind"])),
        }
    });
    Ok(())
}

/// `tessel scope register`.
pub(super) fn register(
    scope: &str,
    service: &str,
    grant: &str,
    engine: Option<&str>,
    out: &NodeOut,
) -> Result<()> {
    let engine = match engine {
        None => None,
        Some(e) => Some(
            engine_addr(Some(e))
                .ok_or_else(|| anyhow!("--engine {e}: an engine address is 64 hex digits"))?,
        ),
    };
    let r = ScopeRequest::Register {
        scope: scope_path(scope)?,
        service: service.to_owned(),
        grant: record_arg(grant).context("--grant")?,
        engine,
    };
    let v = ask(&r, out)?;
    print_json_or(&v, out, |_| {
        println!(
            "registered {service} in {scope} (placed in the background; see `tessel scope list`)"
        )
    });
    Ok(())
}

/// `tessel scope withdraw`.
pub(super) fn withdraw(scope: &str, service: &str, out: &NodeOut) -> Result<()> {
    let r = ScopeRequest::Withdraw {
        scope: scope_path(scope)?,
        service: service.to_owned(),
    };
    let v = ask(&r, out)?;
    print_json_or(&v, out, |_| println!("withdrew {service} from {scope}"));
    Ok(())
}

/// `tessel scope query`.
pub(super) fn query(a: &QueryArgs) -> Result<()> {
    let r = ScopeRequest::Query {
        kind: a.kind(),
        scope: scope_path(&a.scope)?,
        service: a.service.clone(),
        cred: a.cred()?,
        timeout: Duration::from_millis(a.timeout_ms),
    };
    let v = ask(&r, &a.out)?;
    print_json_or(&v, &a.out, |v| {
        let empty = Vec::new();
        let runtimes = v["runtimes"].as_array().unwrap_or(&empty);
        let from = if v["cached"] == true {
            "from the cache"
        } else {
            "from the network"
        };
        println!(
            "{} in {} ({}): {} runtime(s), {from} in {} µs",
            a.service,
            a.scope,
            s(&v["kind"]),
            runtimes.len(),
            v["elapsed_us"].as_u64().unwrap_or(0)
        );
        for r in runtimes {
            let engine = r["engine"]
                .as_str()
                .map_or_else(|| "no engine".to_owned(), |e| format!("engine {e}"));
            println!(
                "  {}  in {}  {engine}  expires in {} s",
                s(&r["node"]),
                s(&r["scope"]),
                r["expires_in_ms"].as_u64().unwrap_or(0) / 1000
            );
        }
        let trail = v["trail"].as_array().unwrap_or(&empty);
        if !trail.is_empty() {
            println!("asked:");
            for (i, h) in trail.iter().enumerate() {
                match h["redirect"].as_str() {
                    Some(to) => println!("  {}. {}  redirected to {to}", i + 1, s(&h["asked"])),
                    None => println!("  {}. {}  answered", i + 1, s(&h["asked"])),
                }
            }
        }
    });
    Ok(())
}

/// `tessel scope send`.
pub(super) fn send(a: &QueryArgs, data: &[u8]) -> Result<()> {
    let r = ScopeRequest::Send {
        kind: a.kind(),
        scope: scope_path(&a.scope)?,
        service: a.service.clone(),
        cred: a.cred()?,
        payload: data.to_vec(),
        timeout: Duration::from_millis(a.timeout_ms),
    };
    let v = ask(&r, &a.out)?;
    print_json_or(&v, &a.out, |v| {
        let empty = Vec::new();
        let engines = v["engines"].as_array().unwrap_or(&empty);
        println!(
            "sent to {} engine(s) of {} in {} ({}):",
            engines.len(),
            a.service,
            a.scope,
            s(&v["kind"])
        );
        for e in engines {
            println!("  {}", s(e));
        }
    });
    Ok(())
}

/// `tessel scope list`.
pub(super) fn list(out: &NodeOut) -> Result<()> {
    let v = ask(&ScopeRequest::List, out)?;
    print_json_or(&v, out, |v| {
        let empty = Vec::new();
        let arr = |k: &str| v[k].as_array().unwrap_or(&empty).clone();
        println!("node {}", s(&v["node"]));
        let boot = arr("bootstrap");
        println!(
            "bootstrap runtimes: {}",
            if boot.is_empty() {
                "none".to_owned()
            } else {
                boot.iter().map(s).collect::<Vec<_>>().join(", ")
            }
        );
        println!("registrations ({}):", arr("registrations").len());
        for r in arr("registrations") {
            let placed = match (&r["placed"], r["error"].as_str()) {
                (p, _) if p.is_object() => {
                    format!(
                        "placed in {}'s cluster via {}",
                        s(&p["cluster"]),
                        s(&p["via"])
                    )
                }
                (_, Some(e)) => format!("not placed: {e}"),
                _ => "not placed yet".to_owned(),
            };
            println!("  {} {}  {placed}", s(&r["scope"]), s(&r["service"]));
        }
        println!("clusters ({}):", arr("clusters").len());
        for c in arr("clusters") {
            let members = c["members"].as_array().map_or(0, Vec::len);
            let generation = c["generation"].as_str().unwrap_or("none yet");
            println!(
                "  {}  generation {generation}, {members} member(s), {} registration(s) held",
                s(&c["scope"]),
                c["held"].as_u64().unwrap_or(0)
            );
        }
        println!("records kept ({}):", arr("records").len());
        for r in arr("records") {
            println!(
                "  {} for {}",
                s(&r["kind"]),
                r["scope"].as_str().unwrap_or("-")
            );
        }
    });
    Ok(())
}

/// `tessel scope forget`.
pub(super) fn forget(out: &NodeOut) -> Result<()> {
    let v = ask(&ScopeRequest::Forget, out)?;
    print_json_or(&v, out, |_| println!("query cache dropped"));
    Ok(())
}
