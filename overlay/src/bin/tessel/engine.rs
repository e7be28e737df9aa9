//! `tessel engine …`: the list through the control API (`engine_list`),
//! calls and casts through the running node's `engines.sock`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use anyhow::{anyhow, bail, Context, Result};
use data_encoding::BASE64;
use serde_json::{json, Value};
use tessel_overlay::driver::control::answers::{EngineListAnswer, EngineStatus};
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::engines::socket_path;

use crate::cli::{EngineCommand, EngineSendArgs, NodeDirs};
use crate::local;
use crate::table::Table;

/// Runs an `engine` subcommand.
pub(crate) fn run(command: EngineCommand) -> Result<()> {
    match command {
        EngineCommand::List { json, dirs } => list(&dirs, json),
        EngineCommand::Call(args) => send(args, true),
        EngineCommand::Cast(args) => send(args, false),
    }
}

fn list(dirs: &NodeDirs, as_json: bool) -> Result<()> {
    let v = local::ask::<EngineListAnswer>(dirs, &Request::EngineList)?;
    if as_json {
        return v.print_json(false);
    }
    if v.local.is_empty() && v.foreign.is_empty() {
        println!("no engines");
        return Ok(());
    }
    let names = |n: &[String]| {
        if n.is_empty() {
            "-".to_owned()
        } else {
            n.join(", ")
        }
    };
    let mut t = Table::new(&["where", "engine", "node", "state", "names"]);
    for e in &v.local {
        let kind = if e.persistent {
            "persistent"
        } else {
            "ephemeral"
        };
        t.row(["local", &e.engine, &e.node, kind, &names(&e.names)]);
    }
    for e in &v.foreign {
        let reach = if e.reachable {
            "reachable"
        } else {
            "unreachable"
        };
        t.row(["foreign", &e.engine, &e.node, reach, &names(&e.names)]);
    }
    t.print();
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

/// Lines about engines for `tessel status`.
pub(crate) fn status_lines(e: &EngineStatus) -> Vec<String> {
    let drops: Vec<String> = e
        .drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    vec![
        format!(
            "engines: {} local, {} foreign, streams to {} members; {} B in, {} B out",
            e.local, e.foreign, e.peers, e.bytes_in, e.bytes_out
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
