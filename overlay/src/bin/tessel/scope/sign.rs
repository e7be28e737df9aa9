//! The offline half of `tessel scope`: owner keys, and records signed with
//! them (scope creations, hosting grants, read grants, read capabilities,
//! revocations), printed as checksummed text (`tessel-scoperecord-…`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use tessel_actors::ids::{NodeId as ActorNodeId, Time};
use tessel_actors::scope::record::BEARER;
use tessel_actors::scope::{Body, Record, ScopePath};
use tessel_overlay::driver::clock;
use tessel_overlay::driver::scopes::text;
use tessel_overlay::identity::{NodeId, OwnerId, OwnerKey};
use zeroize::Zeroizing;

use super::duration;

/// `tessel scope key` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a new owner key, write it to FILE (mode 0600) and print its
    /// public half (what `tessel up --scope-root` and `--owner` take).
    New {
        /// Where to write the secret key; never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print JSON (the public key and the file).
        #[arg(long)]
        json: bool,
    },
    /// Print the public half of an owner key file.
    Show {
        /// The owner key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Print JSON (the public key and the file).
        #[arg(long)]
        json: bool,
    },
}

/// A hosting or read grant.
#[derive(Debug, Args)]
pub(crate) struct GrantArgs {
    /// The scope.
    pub(super) scope: String,
    /// The node it is for (tessel-node-…).
    pub(super) node: String,
    /// How long it is valid: 90s, 30m, 12h, 7d.
    #[arg(long = "for", value_name = "LIFETIME", default_value = "30d", value_parser = duration::parse)]
    lifetime: Duration,
    #[command(flatten)]
    signer: Signer,
}

/// The key that signs, and how to print the result.
#[derive(Debug, Args)]
pub(crate) struct Signer {
    /// The owner key file that signs (see `tessel scope key new`).
    #[arg(long, value_name = "FILE")]
    pub(super) key: PathBuf,
    /// Print JSON (the record's text, kind and id).
    #[arg(long)]
    json: bool,
}

/// `tessel scope key …`.
pub(super) fn key(command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::New { out, json } => key_new(&out, json),
        KeyCommand::Show { key, json } => {
            print_owner(&read_key(&key)?.id().to_string(), &key, json);
            Ok(())
        }
    }
}

/// `tessel scope create`.
pub(super) fn create(
    path: &str,
    owner: Option<String>,
    world_readable: bool,
    signer: &Signer,
) -> Result<()> {
    let key = read_key(&signer.key)?;
    let owner = match owner {
        Some(o) => *OwnerId::parse(&o)
            .with_context(|| format!("--owner {o}"))?
            .as_bytes(),
        None => *key.id().as_bytes(),
    };
    let body = Body::ScopeCreate {
        path: scope_path(path)?,
        owner,
        world_readable,
        issued: now(),
    };
    emit(&sign(body, &key)?, signer.json)
}

/// `tessel scope grant`.
pub(super) fn hosting_grant(a: GrantArgs) -> Result<()> {
    grant(a, |scope, runtime, expires| Body::HostingGrant {
        scope,
        runtime,
        expires,
    })
}

/// `tessel scope read-grant`.
pub(super) fn read_grant(a: GrantArgs) -> Result<()> {
    grant(a, |scope, member, expires| Body::ReadGrant {
        scope,
        member,
        expires,
    })
}

/// `tessel scope readcap`.
pub(super) fn readcap(
    scope: &str,
    holder: Option<String>,
    lifetime: Duration,
    signer: &Signer,
) -> Result<()> {
    let key = read_key(&signer.key)?;
    let holder = match holder {
        Some(h) => node_id(&h)?.0,
        None => BEARER,
    };
    let body = Body::ReadCap {
        scope: scope_path(scope)?,
        holder,
        expires: later(lifetime),
    };
    emit(&sign(body, &key)?, signer.json)
}

/// `tessel scope revoke`.
pub(super) fn revoke(record: &str, signer: &Signer) -> Result<()> {
    let key = read_key(&signer.key)?;
    let target = record_arg(record)?;
    if target.signer != *key.id().as_bytes() {
        bail!(
            "this record was signed by another key: only its signer can revoke it \
             (signed by {})",
            owner_text(&target.signer)
        );
    }
    let body = Body::Revocation {
        target: target.id(),
        issued: now(),
    };
    emit(&sign(body, &key)?, signer.json)
}

fn grant(a: GrantArgs, body: impl FnOnce(ScopePath, ActorNodeId, Time) -> Body) -> Result<()> {
    let key = read_key(&a.signer.key)?;
    let b = body(scope_path(&a.scope)?, node_id(&a.node)?, later(a.lifetime));
    emit(&sign(b, &key)?, a.signer.json)
}

/// Prints an owner key's public half, as text or JSON with its file.
fn print_owner(public: &str, file: &Path, json: bool) {
    if json {
        println!(
            "{}",
            json!({ "owner": public, "key_file": file.display().to_string() })
        );
    } else {
        println!("{public}");
    }
}

/// Writes a new owner key to `out` (mode 0600, never over an existing
/// file) and prints its public half (with `json`, as JSON with the file).
pub(crate) fn key_new(out: &Path, json: bool) -> Result<()> {
    let mut seed = Zeroizing::new([0u8; 32]);
    clock::fill_random(&mut seed[..]).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let key = OwnerKey::from_seed(*seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never overwritten)",
                out.display()
            )
        })?;
    writeln!(f, "{}", key.to_text().as_str())
        .with_context(|| format!("writing {}", out.display()))?;
    print_owner(&key.id().to_string(), out, json);
    Ok(())
}

/// Reads an owner key file.
pub(crate) fn read_key(path: &Path) -> Result<OwnerKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the owner key file {}", path.display()))?,
    );
    OwnerKey::from_text(&text).map_err(|e| {
        anyhow!(
            "{} does not hold an owner key ({e}); make one with `tessel scope key new --out FILE`",
            path.display()
        )
    })
}

pub(super) fn scope_path(s: &str) -> Result<ScopePath> {
    ScopePath::parse(s).map_err(|e| {
        anyhow!("invalid scope `{s}`: {e} (a scope is / or /seg/seg…, segments of a-z 0-9 _ -)")
    })
}

fn node_id(s: &str) -> Result<ActorNodeId> {
    let id = NodeId::parse(s).map_err(|e| anyhow!("`{s}`: {e} (expected tessel-node-…)"))?;
    Ok(ActorNodeId(*id.as_bytes()))
}

fn now() -> Time {
    let ms = clock::system_now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Time(ms)
}

fn later(d: Duration) -> Time {
    now().plus_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn sign(body: Body, key: &OwnerKey) -> Result<Record> {
    Record::sign(body, key.signing_key()).map_err(|e| anyhow!("cannot sign this record: {e}"))
}

/// A record's text form.
pub(crate) fn record_text(r: &Record) -> Result<String> {
    Ok(text::record_text(r)?)
}

/// Parses a record's text form.
pub(crate) fn parse_record(s: &str) -> Result<Record> {
    Ok(text::parse_record(s)?)
}

/// A record given as text or as @FILE.
pub(crate) fn record_arg(arg: &str) -> Result<Record> {
    match arg.strip_prefix('@') {
        Some(path) => {
            parse_record(&std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?)
        }
        None => parse_record(arg),
    }
}

fn emit(r: &Record, as_json: bool) -> Result<()> {
    let t = record_text(r)?;
    if as_json {
        let mut v = describe(r);
        v["record"] = json!(t);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{t}");
    }
    Ok(())
}

pub(super) fn show(r: &Record, as_json: bool) -> Result<()> {
    let v = describe(r);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let Some(o) = v.as_object() {
        for (k, val) in o {
            match val.as_str() {
                Some(s) => println!("{k}: {s}"),
                None => println!("{k}: {val}"),
            }
        }
    }
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn owner_text(k: &[u8; 32]) -> String {
    OwnerId::from_bytes(*k).map_or_else(|_| hex(k), |o| o.to_string())
}

fn node_text(n: &ActorNodeId) -> String {
    NodeId::from_bytes(n.0).map_or_else(|_| hex(&n.0), |id| id.to_string())
}

fn when(t: Time) -> String {
    let secs = t.0 / 1000;
    let left = i128::from(secs) - i128::from(now().0 / 1000);
    format!("{secs} (unix seconds; {left} s from now)")
}

/// What a record says, as JSON.
pub(crate) fn describe(r: &Record) -> serde_json::Value {
    let mut v = json!({
        "kind": format!("{:?}", r.body.kind()),
        "id": hex(&r.id()),
        "signer": match r.body {
            Body::Registration { .. } | Body::Withdrawal { .. } | Body::Generation { .. } => {
                node_text(&ActorNodeId(r.signer))
            }
            _ => owner_text(&r.signer),
        },
    });
    let extra = match &r.body {
        Body::ScopeCreate {
            path,
            owner,
            world_readable,
            issued,
        } => json!({"scope": path.to_string(), "owner": owner_text(owner),
            "world_readable": world_readable, "issued": when(*issued)}),
        Body::HostingGrant {
            scope,
            runtime,
            expires,
        } => {
            json!({"scope": scope.to_string(), "runtime": node_text(runtime), "expires": when(*expires)})
        }
        Body::ReadCap {
            scope,
            holder,
            expires,
        } => {
            let holder = if *holder == BEARER {
                "anyone holding it (bearer)".to_owned()
            } else {
                node_text(&ActorNodeId(*holder))
            };
            json!({"scope": scope.to_string(), "holder": holder, "expires": when(*expires)})
        }
        Body::ReadGrant {
            scope,
            member,
            expires,
        } => {
            json!({"scope": scope.to_string(), "member": node_text(member), "expires": when(*expires)})
        }
        Body::Registration {
            scope,
            service,
            runtime,
            engine,
            expires,
            ..
        } => json!({"scope": scope.to_string(), "service": service, "runtime": node_text(runtime),
            "engine": engine.map(|e| hex(&e.0)), "expires": when(*expires)}),
        Body::Withdrawal {
            scope,
            service,
            runtime,
            ..
        } => json!({"scope": scope.to_string(), "service": service, "runtime": node_text(runtime)}),
        Body::Revocation { target, issued } => {
            json!({"revokes": hex(target), "issued": when(*issued)})
        }
        Body::Generation {
            scope,
            serial,
            issued,
        } => json!({"scope": scope.to_string(), "serial": serial, "issued": when(*issued)}),
    };
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}
