//! The offline half of `tessel scope`: owner keys, and records signed with
//! them (scope creations, hosting grants, read grants, read capabilities,
//! revocations), printed as checksummed text.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use tessel_actors::ids::{NodeId as ActorNodeId, Time};
use tessel_actors::scope::record::BEARER;
use tessel_actors::scope::{Body, Record, ScopePath};
use tessel_overlay::identity::text::{self, TextError};
use tessel_overlay::identity::{NodeId, OwnerId, OwnerKey};
use zeroize::Zeroizing;

use super::duration;

/// Prefix of a signed scope record's text form.
const RECORD_PREFIX: &str = "tessel-scoperecord-";

/// `tessel scope` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ScopeCommand {
    /// Owner keys: the keys that own scopes and sign their records.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Create a child scope (or `/` with the network's root key); prints
    /// the signed creation record.
    Create {
        /// The new scope, e.g. /org/team.
        path: String,
        /// Who will own it (default: the signing key itself).
        #[arg(long, value_name = "tessel-owner-…")]
        owner: Option<String>,
        /// Let anyone in the network read it.
        #[arg(long)]
        world_readable: bool,
        #[command(flatten)]
        signer: Signer,
    },
    /// Let a runtime (a node, by node ID) host services in a scope.
    Grant(GrantArgs),
    /// Give a member (by node ID) read permission on a scope and below.
    ReadGrant(GrantArgs),
    /// Issue a read capability for a scope: a token its holder (or, with
    /// no --holder, anyone holding it) presents with a query.
    Readcap {
        /// The scope.
        scope: String,
        /// The node that may use it (default: a bearer token).
        #[arg(long, value_name = "tessel-node-…")]
        holder: Option<String>,
        /// How long it is valid: 90s, 30m, 12h, 7d.
        #[arg(long = "for", value_name = "LIFETIME", default_value = "1d", value_parser = duration::parse)]
        lifetime: Duration,
        #[command(flatten)]
        signer: Signer,
    },
    /// Revoke a record signed by the same key before it expires.
    Revoke {
        /// The record's text, or @FILE holding it.
        record: String,
        #[command(flatten)]
        signer: Signer,
    },
    /// Look up the root runtimes of the scopes in DNS (TXT records
    /// `tessel-root=tessel-node-…` at NAME) and print their node IDs.
    Bootstrap(super::bootstrap::BootstrapArgs),
    /// Decode a record's text and show what it says.
    Show {
        /// The record's text, or @FILE holding it.
        record: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `tessel scope key` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a new owner key, write it to FILE (mode 0600) and print its
    /// public half (what `tessel up --scope-root` and `--owner` take).
    New {
        /// Where to write the secret key; never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the public half of an owner key file.
    Show {
        /// The owner key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

/// A hosting or read grant.
#[derive(Debug, Args)]
pub(crate) struct GrantArgs {
    /// The scope.
    scope: String,
    /// The node it is for (tessel-node-…).
    node: String,
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
    key: PathBuf,
    /// Print JSON (the record's text, kind and id).
    #[arg(long)]
    json: bool,
}

/// Runs a `scope` subcommand.
pub(crate) fn run(command: ScopeCommand) -> Result<()> {
    match command {
        ScopeCommand::Key(KeyCommand::New { out }) => key_new(&out),
        ScopeCommand::Key(KeyCommand::Show { key }) => {
            println!("{}", read_key(&key)?.id());
            Ok(())
        }
        ScopeCommand::Create {
            path,
            owner,
            world_readable,
            signer,
        } => {
            let key = read_key(&signer.key)?;
            let owner = match owner {
                Some(o) => *OwnerId::parse(&o)
                    .with_context(|| format!("--owner {o}"))?
                    .as_bytes(),
                None => *key.id().as_bytes(),
            };
            let body = Body::ScopeCreate {
                path: scope_path(&path)?,
                owner,
                world_readable,
                issued: now(),
            };
            emit(&sign(body, &key)?, signer.json)
        }
        ScopeCommand::Grant(a) => grant(a, |scope, runtime, expires| Body::HostingGrant {
            scope,
            runtime,
            expires,
        }),
        ScopeCommand::ReadGrant(a) => grant(a, |scope, member, expires| Body::ReadGrant {
            scope,
            member,
            expires,
        }),
        ScopeCommand::Readcap {
            scope,
            holder,
            lifetime,
            signer,
        } => {
            let key = read_key(&signer.key)?;
            let holder = match holder {
                Some(h) => node_id(&h)?.0,
                None => BEARER,
            };
            let body = Body::ReadCap {
                scope: scope_path(&scope)?,
                holder,
                expires: later(lifetime),
            };
            emit(&sign(body, &key)?, signer.json)
        }
        ScopeCommand::Revoke { record, signer } => {
            let key = read_key(&signer.key)?;
            let target = record_arg(&record)?;
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
        ScopeCommand::Bootstrap(a) => super::bootstrap::run(&a),
        ScopeCommand::Show { record, json } => show(&record_arg(&record)?, json),
    }
}

fn grant(a: GrantArgs, body: impl FnOnce(ScopePath, ActorNodeId, Time) -> Body) -> Result<()> {
    let key = read_key(&a.signer.key)?;
    let b = body(scope_path(&a.scope)?, node_id(&a.node)?, later(a.lifetime));
    emit(&sign(b, &key)?, a.signer.json)
}

fn key_new(out: &Path) -> Result<()> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut seed[..]).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
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
    println!("{}", key.id());
    Ok(())
}

fn read_key(path: &Path) -> Result<OwnerKey> {
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

fn scope_path(s: &str) -> Result<ScopePath> {
    ScopePath::parse(s).map_err(|e| {
        anyhow!("invalid scope `{s}`: {e} (a scope is / or /seg/seg…, segments of a-z 0-9 _ -)")
    })
}

fn node_id(s: &str) -> Result<ActorNodeId> {
    let id = NodeId::parse(s).map_err(|e| anyhow!("`{s}`: {e} (expected tessel-node-…)"))?;
    Ok(ActorNodeId(*id.as_bytes()))
}

fn now() -> Time {
    let ms = SystemTime::now()
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
    let b = r
        .to_bytes()
        .map_err(|e| anyhow!("encoding the record: {e}"))?;
    Ok(text::encode(RECORD_PREFIX, &b))
}

/// Parses a record's text form.
pub(crate) fn parse_record(s: &str) -> Result<Record> {
    let b = text::decode_vec(RECORD_PREFIX, s, tessel_actors::scope::record::MAX_RECORD).map_err(
        |e: TextError| anyhow!("not a scope record ({e}); records are tessel-scoperecord-…"),
    )?;
    let r = Record::parse(&b).map_err(|e| anyhow!("malformed scope record: {e}"))?;
    if !r.verify_signature() {
        bail!("the record's signature does not verify (altered or corrupted)");
    }
    Ok(r)
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

fn show(r: &Record, as_json: bool) -> Result<()> {
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
