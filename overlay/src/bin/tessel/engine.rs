//! `tessel engine …`: engines through the running node's `engines.sock`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use anyhow::{anyhow, bail, Context, Result};
use data_encoding::BASE64;
use serde_json::{json, Value};
use tessel_overlay::driver::engines::socket_path;

use crate::cli::{EngineCommand, EngineSendArgs, NodeDirs};
use crate::local;

/// Runs an `engine` subcommand.
pub(crate) fn run(command: EngineCommand) -> Result<()> {
    match command {
        EngineCommand::List { json, dirs } => list(&dirs, json),
        EngineCommand::Call(args) => send(args, true),
        EngineCommand::Cast(args) => send(args, false),
    }
}

fn list(dirs: &NodeDirs, as_json: bool) -> Result<()> {
    let answer = local::request(dirs, "engines")?;
    let v: Value = serde_json::from_str(&answer).context("reading the node's answer")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let names = |e: &Value| -> String {
        let n: Vec<&str> = e["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if n.is_empty() {
            String::new()
        } else {
            format!("  ({})", n.join(", "))
        }
    };
    let empty = Vec::new();
    let local = v["local"].as_array().unwrap_or(&empty);
    let foreign = v["foreign"].as_array().unwrap_or(&empty);
    println!("local engines ({}):", local.len());
    for e in local {
        let kind = if e["persistent"] == true {
            "persistent"
        } else {
            "ephemeral"
        };
        println!(
            "  {}  {kind}{}",
            e["engine"].as_str().unwrap_or("?"),
            names(e)
        );
    }
    println!("foreign engines ({}):", foreign.len());
    for e in foreign {
        let reach = if e["reachable"] == true {
            ""
        } else {
            "  unreachable"
        };
        println!(
            "  {}  on node {}{reach}{}",
            e["engine"].as_str().unwrap_or("?"),
            e["node"].as_str().unwrap_or("?"),
            names(e)
        );
    }
    Ok(())
}

/// A connection to `engines.sock`.
struct Socket(UnixStream);

impl Socket {
    fn write(&mut self, v: &Value) -> Result<()> {
        let body = serde_json::to_vec(v)?;
        self.0.write_all(&(body.len() as u32).to_be_bytes())?;
        self.0.write_all(&body)?;
        Ok(())
    }

    fn read(&mut self) -> Result<Value> {
        let mut len = [0u8; 4];
        self.0
            .read_exact(&mut len)
            .context("the node closed the engine socket")?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        self.0.read_exact(&mut body)?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Sends a request and waits for its answer (pushed frames are skipped).
    fn ask(&mut self, id: u64, mut request: Value) -> Result<Value> {
        request["id"] = json!(id);
        self.write(&request)?;
        loop {
            let v = self.read()?;
            if v["id"] == json!(id) {
                if let Some(e) = v["error"].as_str() {
                    bail!("{e}");
                }
                return Ok(v);
            }
        }
    }
}

fn send(args: EngineSendArgs, call: bool) -> Result<()> {
    let mut s = Socket(local::connect(&args.dirs, socket_path)?);
    let started = s.ask(1, json!({ "op": "start" }))?;
    let engine = started["engine"]
        .as_str()
        .ok_or_else(|| anyhow!("the node started no engine"))?
        .to_owned();
    let op = if call { "call" } else { "cast" };
    let request = json!({
        "op": op, "engine": engine, "to": args.target,
        "data": BASE64.encode(args.data.as_bytes()), "timeout_ms": args.timeout_ms,
    });
    let answer = s
        .ask(2, request)
        .with_context(|| format!("{op} to {}", args.target))?;
    let reply = match answer["data"].as_str() {
        Some(d) => Some(BASE64.decode(d.as_bytes()).context("reply is not base64")?),
        None => None,
    };
    if args.json {
        let mut out = json!({ "from": engine, "to": args.target, "ok": true });
        if let Some(r) = &reply {
            out["reply"] = json!(String::from_utf8_lossy(r));
            out["reply_base64"] = json!(BASE64.encode(r));
        }
        println!("{out}");
    } else if let Some(r) = reply {
        println!("{}", String::from_utf8_lossy(&r));
    } else {
        println!("sent");
    }
    Ok(())
}

/// Lines about engines for `tessel status` (none if the node has no engine part).
pub(crate) fn status_lines(status: &Value) -> Vec<String> {
    let e = &status["engines"];
    if e.is_null() {
        return Vec::new();
    }
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let drops: Vec<String> = e["drops"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| n(v) > 0)
        .map(|(k, v)| format!("{k} {}", n(v)))
        .collect();
    vec![
        format!(
            "engines: {} local, {} foreign, streams to {} members; {} B in, {} B out",
            n(&e["local"]),
            n(&e["foreign"]),
            n(&e["peers"]),
            n(&e["bytes_in"]),
            n(&e["bytes_out"])
        ),
        format!(
            "engine drops: {}",
            if drops.is_empty() {
                "none".to_owned()
            } else {
                drops.join(", ")
            }
        ),
    ]
}
