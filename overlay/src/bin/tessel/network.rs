//! `tessel network` in managed mode: member certificates and revocation
//! lists, signed offline with the owner key (`tessel network owner`), and
//! the `tessel up` options that make a node a managed member.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use tessel_overlay::driver::clock;
use tessel_overlay::driver::control::answers::{HandoverAnswer, RevocationsAnswer};
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::Membership;
use tessel_overlay::identity::owner_handover::follow;
use tessel_overlay::identity::{
    MemberCert, NetworkKey, NodeId, OwnerHandover, OwnerId, RevocationList,
};
use tessel_overlay::wire::revocations::{Entry, MAX_ENTRIES};

use crate::cli::{NodeDirs, UpArgs};
use crate::commands::parse_network;
use crate::local;
use crate::scope::{duration, read_key};

/// `tessel network sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The member's node ID (`tessel-node-…`, as `tessel status` shows it).
    pub(crate) node: String,
    /// The owner key file that signs (see `tessel network owner`).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The network key, or @FILE (the certificate names its network).
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) network: String,
    /// The member's name (at most 32 bytes).
    #[arg(long, default_value = "")]
    pub(crate) name: String,
    /// How long the certificate is valid: 90s, 30m, 12h, 7d.
    #[arg(long = "for", value_name = "LIFETIME", default_value = "365d", value_parser = duration::parse)]
    pub(crate) lifetime: Duration,
    /// A group the member belongs to (repeatable, at most 8).
    #[arg(long = "group", value_name = "GROUP")]
    pub(crate) groups: Vec<String>,
    /// Write the certificate to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print JSON: the certificate (unless --out) and what it says.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tessel network revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The members to revoke: node IDs (`tessel-node-…`), or their
    /// certificates (`tessel-cert-…` or @FILE), which say how long the
    /// entry must be kept.
    #[arg(required = true)]
    pub(crate) members: Vec<String>,
    /// The owner key file that signs.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The network key, or @FILE.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) network: String,
    /// The current list (`tessel-revoked-…` or @FILE) to extend; its
    /// expired entries are dropped.
    #[arg(long, value_name = "LIST|@FILE")]
    pub(crate) list: Option<String>,
    /// For a member given by node ID: how long its entry is kept (at least
    /// as long as its last certificate is valid).
    #[arg(long, value_name = "LIFETIME", default_value = "365d", value_parser = duration::parse)]
    pub(crate) keep: Duration,
    /// Write the list to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print JSON: the list (unless --out), its serial and its members.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tessel network revocations`.
#[derive(Debug, Args)]
pub(crate) struct RevocationsArgs {
    /// The list (`tessel-revoked-…`), or @FILE holding it.
    pub(crate) list: String,
    /// Print JSON: the node's answer.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

/// `tessel network handover`.
#[derive(Debug, Args)]
pub(crate) struct HandoverArgs {
    /// The owner key that takes over (`tessel-owner-…`, as `tessel network
    /// owner` printed it).
    pub(crate) new_owner: String,
    /// The owner key file of the owner in force, which signs.
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_key: PathBuf,
    /// How long certificates of the old owner keep counting: 90s, 30m,
    /// 12h, 7d.
    #[arg(long, default_value = "7d", value_parser = duration::parse)]
    pub(crate) grace: Duration,
    /// Print JSON: the node's answer (the owner in force, the grace end).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

fn unix_now() -> u64 {
    clock::system_now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The text of `arg`, or of the file that `@FILE` names.
fn text_arg(arg: &str, what: &str) -> Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading the {what} from {path}"))
        }
        None => Ok(arg.to_string()),
    }
}

fn parse_cert(arg: &str) -> Result<MemberCert> {
    MemberCert::from_text(&text_arg(arg, "certificate")?).map_err(|e| {
        anyhow!("invalid member certificate ({e}): give the tessel-cert-… text, or @FILE")
    })
}

fn parse_list(arg: &str) -> Result<RevocationList> {
    RevocationList::from_text(&text_arg(arg, "revocation list")?).map_err(|e| {
        anyhow!("invalid revocation list ({e}): give the tessel-revoked-… text, or @FILE")
    })
}

/// Writes `text` to `out`, or prints it unless `json` (whose object then
/// holds it under `field`); with `json`, prints `details` and the text or
/// the file.
fn emit(
    text: &str,
    out: Option<&PathBuf>,
    json: bool,
    field: &str,
    details: serde_json::Value,
) -> Result<()> {
    if let Some(path) = out {
        std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !json {
        if out.is_none() {
            println!("{text}");
        }
        return Ok(());
    }
    let mut v = details;
    match out {
        Some(path) => v["file"] = serde_json::json!(path.display().to_string()),
        None => v[field] = serde_json::json!(text),
    }
    println!("{v}");
    Ok(())
}

/// `tessel network sign`.
pub(crate) fn sign(a: &SignArgs) -> Result<()> {
    let owner = read_key(&a.key)?;
    let network = parse_network(&a.network)?.id();
    let node = NodeId::parse(&a.node).map_err(|e| anyhow!("invalid node ID {}: {e}", a.node))?;
    let not_after = unix_now().saturating_add(a.lifetime.as_secs());
    let cert =
        MemberCert::sign(&owner, &network, &node, &a.name, not_after, &a.groups).map_err(|e| {
            anyhow!("cannot sign: {e} (a name and each group take 1 to 32 bytes, at most 8 groups)")
        })?;
    let details = serde_json::json!({
        "node_id": node.to_string(),
        "network_id": network.to_string(),
        "name": a.name,
        "groups": a.groups,
        "not_after": not_after,
    });
    emit(
        &cert.to_text(),
        a.out.as_ref(),
        a.json,
        "certificate",
        details,
    )
}

/// `tessel network revoke`.
pub(crate) fn revoke(a: &RevokeArgs) -> Result<()> {
    let owner = read_key(&a.key)?;
    let network = parse_network(&a.network)?.id();
    let now = unix_now();
    let mut entries: Vec<Entry> = Vec::new();
    let mut serial = now;
    if let Some(list) = &a.list {
        let list = parse_list(list)?;
        list.verify(&owner.id(), &network)
            .map_err(|e| anyhow!("the list given with --list is not this owner's: {e}"))?;
        serial = serial.max(list.serial() + 1);
        // Entries whose certificates have expired need no revoking.
        entries.extend(list.entries().into_iter().filter(|e| e.not_after > now));
    }
    for m in &a.members {
        let entry = if m.starts_with("tessel-node-") {
            let id = NodeId::parse(m).map_err(|e| anyhow!("invalid node ID {m}: {e}"))?;
            Entry {
                node_id: *id.as_bytes(),
                not_after: now.saturating_add(a.keep.as_secs()),
            }
        } else {
            let cert = parse_cert(m)?;
            Entry {
                node_id: cert.node_id(),
                not_after: cert.not_after(),
            }
        };
        entries.push(entry);
    }
    let list = RevocationList::sign(&owner, &network, serial, &entries).map_err(|_| {
        anyhow!(
            "a revocation list holds at most {MAX_ENTRIES} members; \
             rotate the network key and sign new certificates instead"
        )
    })?;
    let members: Vec<String> = list
        .entries()
        .iter()
        .map(|e| NodeId::from_bytes(e.node_id).map_or_else(|_| "?".to_owned(), |id| id.to_string()))
        .collect();
    let details = serde_json::json!({ "serial": list.serial(), "members": members });
    emit(&list.to_text(), a.out.as_ref(), a.json, "list", details)?;
    if a.json {
        return Ok(());
    }
    eprintln!(
        "revocation list serial {} names {} members; hand it to a running member with \
         `tessel network revocations @FILE`",
        list.serial(),
        list.entries().len()
    );
    Ok(())
}

/// `tessel network revocations`.
pub(crate) fn revocations(a: &RevocationsArgs) -> Result<()> {
    let list = parse_list(&a.list)?;
    let request = Request::NetworkRevocations {
        list: list.to_text(),
    };
    let v = local::ask::<RevocationsAnswer>(&a.dirs, &request)?;
    if a.json {
        return v.print_json(true);
    }
    println!(
        "took revocation list serial {}: closed the sessions of {} members",
        v.serial, v.sessions_closed
    );
    Ok(())
}

/// `tessel network handover`: signs the handover with the old owner key
/// (for the network of the node's state dir) and hands it to the node.
pub(crate) fn handover(a: &HandoverArgs) -> Result<()> {
    let new = OwnerId::parse(&a.new_owner).map_err(|e| anyhow!("invalid new owner: {e}"))?;
    let old = read_key(&a.owner_key)?;
    let state = StateDir::open(&a.dirs.state_dir)
        .with_context(|| format!("opening the state dir {}", a.dirs.state_dir.display()))?;
    let network = state.network_key()?.ok_or_else(|| {
        anyhow!(
            "no network key in {}: run this as the node's user, with its --state-dir",
            a.dirs.state_dir.display()
        )
    })?;
    if old.id() == new {
        bail!("the new owner key is the old one");
    }
    let grace_end = unix_now().saturating_add(a.grace.as_secs());
    let h = OwnerHandover::sign(&old, &network.id(), &new, grace_end);
    let request = Request::NetworkHandover {
        handover: h.to_text(),
    };
    let v = local::ask::<HandoverAnswer>(&a.dirs, &request)?;
    if a.json {
        return v.print_json(true);
    }
    println!(
        "the network's owner is now {}; certificates of {} count until Unix second {}: \
         have the new owner sign new ones (`tessel network sign --key NEW_FILE`)",
        v.owner,
        old.id(),
        v.grace_end_unix_s
    );
    Ok(())
}

/// What `tessel up` makes of `--owner` and `--cert` (or what the state dir
/// kept of them): the owner and this node's certificate, or `None` for a
/// network joined by its key alone. Refuses, before anything starts, a
/// certificate that is not this owner's, not for this node or network, or
/// expired (the driver checks it again and keeps it).
pub(crate) fn managed_options(
    args: &UpArgs,
    state: &StateDir,
    network: &NetworkKey,
) -> Result<Option<Membership>> {
    let (stored_owner, stored_cert) = state.membership()?;
    let owner = match &args.owner {
        Some(o) => Some(OwnerId::parse(o).map_err(|e| anyhow!("invalid --owner: {e}"))?),
        None => stored_owner,
    };
    let cert = match &args.cert {
        Some(c) => Some(parse_cert(c)?),
        None => stored_cert,
    };
    let (owner, cert) = match (owner, cert) {
        (None, None) => return Ok(None),
        (Some(_), None) => bail!(
            "--owner needs this node's certificate too: have the owner run `tessel network sign {}` \
             and start with --cert @FILE",
            state.node_key()?.id()
        ),
        (None, Some(_)) => bail!("--cert needs the owner's key too: add --owner tessel-owner-…"),
        (Some(o), Some(c)) => (o, c),
    };
    let node = state.node_key()?.id();
    // The handovers kept may have made another owner the one in force; a
    // certificate of the previous one counts during the grace.
    let handovers = state.owner_handovers().unwrap_or_default();
    let (now_owner, previous, _) = follow(owner, &network.id(), &handovers);
    let now = unix_now();
    let by_previous = previous.is_some_and(|(p, grace_end)| {
        grace_end > now && cert.verify(&p, &network.id(), &node, now).is_ok()
    });
    let checked = if by_previous {
        Ok(())
    } else {
        cert.verify(&now_owner, &network.id(), &node, now)
    };
    checked.map_err(|e| {
        anyhow!(
            "this node's certificate is refused: {e}. It must be signed by {now_owner} for node \
                 {node} in network {}, and not expired",
            network.id()
        )
    })?;
    Ok(Some(Membership {
        owner,
        certificate: cert,
    }))
}
