//! The DNS side of the scope bootstrap: with nothing known, a runtime finds
//! the root runtimes of the scopes from TXT records at a configured name
//! (`tessel-root=tessel-node-…`, one per root runtime; format and parser in
//! [`crate::wire::bootstrap`], the convention in `docs/scopes.md` §10),
//! remembers them and asks them.
//!
//! - [`resolve_bootstrap`] asks DNS: the system's resolvers
//!   (`/etc/resolv.conf`) or one server given as `IP:PORT`, over UDP and,
//!   for truncated answers, TCP (hickory-resolver on tokio). It returns the
//!   node IDs in the order DNS gave them, without duplicates; records of
//!   other services at the name are skipped, malformed ones logged and
//!   skipped, and a name without any valid one is an error.
//! - [`remember`] and [`remembered`] keep the last good answer in the state
//!   dir (`scope-roots.json`), so that a runtime still finds a root runtime
//!   when DNS does not answer.
//!
//! DNS is not authenticated here: an answer only says whom to ask. What a
//! root runtime then tells is checked against the root key in the network's
//! configuration (`docs/scopes.md` §3), so a forged answer can send a
//! runtime to the wrong node, but cannot make it accept a forged scope.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData};
use hickory_resolver::{Resolver, TokioResolver};
use serde::{Deserialize, Serialize};

use super::state_dir::StateDir;
use super::DriverError;
use crate::identity::NodeId;
use crate::wire::bootstrap::{self, TxtError};

/// How long one query waits for an answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Queries sent after the first one times out or fails.
const RETRIES: usize = 1;
/// The file in the state dir with the last good answer.
const REMEMBERED: &str = "scope-roots.json";

/// Why the bootstrap found no root runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The configured name is not a DNS name.
    #[error("`{name}` is not a DNS name: {reason}")]
    BadName {
        /// The name as configured.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The system's resolver configuration could not be read.
    #[error("reading the system's DNS configuration (/etc/resolv.conf): {0}; give a server with --dns-server IP:PORT")]
    SystemConfig(String),
    /// The name does not exist (NXDOMAIN).
    #[error(
        "no such name in DNS: {name} (is the record published, and the name spelt as published?)"
    )]
    NoSuchName {
        /// The name asked for.
        name: String,
    },
    /// The name exists but has no TXT record.
    #[error("no TXT record at {name}: publish one `tessel-root=tessel-node-…` per root runtime")]
    NoRecords {
        /// The name asked for.
        name: String,
    },
    /// The TXT records at the name name no root runtime.
    #[error("none of the {count} TXT records at {name} names a root runtime (`tessel-root=tessel-node-…`){}", first_problem(.rejected))]
    NoRoots {
        /// The name asked for.
        name: String,
        /// How many TXT records there were.
        count: usize,
        /// Why each record of ours was refused (records of other services
        /// are not listed).
        rejected: Vec<TxtError>,
    },
    /// The lookup failed: no answer, a refusal, a network error.
    #[error("looking up TXT {name} failed: {reason}")]
    Lookup {
        /// The name asked for.
        name: String,
        /// What the resolver said.
        reason: String,
    },
}

fn first_problem(rejected: &[TxtError]) -> String {
    rejected
        .first()
        .map(|e| format!("; one of them: {e}"))
        .unwrap_or_default()
}

/// Looks up the root runtimes named at `name` (taken as an absolute name),
/// asking `server` if given, else the system's resolvers.
///
/// # Errors
/// A [`BootstrapError`] when the name is bad, DNS does not answer, or the
/// answer names no root runtime.
pub async fn resolve_bootstrap(
    name: &str,
    server: Option<SocketAddr>,
) -> Result<Vec<NodeId>, BootstrapError> {
    let fqdn = absolute(name)?;
    let resolver = resolver(server)?;
    let lookup = resolver
        .txt_lookup(fqdn.clone())
        .await
        .map_err(|e| lookup_error(name, &e))?;
    let mut roots = Vec::new();
    let mut rejected = Vec::new();
    let mut count = 0;
    for record in lookup.answers() {
        let RData::TXT(txt) = &record.data else {
            continue;
        };
        count += 1;
        match bootstrap::parse_strings(&txt.txt_data) {
            Ok(id) if !roots.contains(&id) => roots.push(id),
            Ok(_) => {}
            Err(TxtError::NotOurs) => {}
            Err(e) => {
                tracing::warn!(name, error = %e, "skipping a malformed scope bootstrap record");
                rejected.push(e);
            }
        }
    }
    if roots.is_empty() {
        return Err(BootstrapError::NoRoots {
            name: name.to_owned(),
            count,
            rejected,
        });
    }
    Ok(roots)
}

fn absolute(name: &str) -> Result<Name, BootstrapError> {
    let bad = |reason: String| BootstrapError::BadName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() || name == "." {
        return Err(bad("empty".to_owned()));
    }
    let mut fqdn = Name::from_ascii(name).map_err(|e| bad(e.to_string()))?;
    fqdn.set_fqdn(true);
    Ok(fqdn)
}

fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, BootstrapError> {
    let mut builder = match server {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => {
            Resolver::builder_tokio().map_err(|e| BootstrapError::SystemConfig(e.to_string()))?
        }
    };
    let opts = builder.options_mut();
    opts.timeout = QUERY_TIMEOUT;
    opts.attempts = RETRIES;
    opts.cache_size = 0;
    builder
        .build()
        .map_err(|e| BootstrapError::SystemConfig(e.to_string()))
}

fn lookup_error(name: &str, e: &NetError) -> BootstrapError {
    let name = name.to_owned();
    if e.is_nx_domain() {
        BootstrapError::NoSuchName { name }
    } else if e.is_no_records_found() {
        BootstrapError::NoRecords { name }
    } else {
        BootstrapError::Lookup {
            name,
            reason: e.to_string(),
        }
    }
}

/// The last good answer as kept on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Remembered {
    name: String,
    roots: Vec<String>,
}

/// Keeps `roots`, the answer for `name`, in the state dir (mode 0600).
///
/// # Errors
/// If the file cannot be written.
pub fn remember(state: &StateDir, name: &str, roots: &[NodeId]) -> Result<(), DriverError> {
    let r = Remembered {
        name: name.to_owned(),
        roots: roots.iter().map(NodeId::to_string).collect(),
    };
    let json = serde_json::to_vec_pretty(&r).expect("serialisable");
    state.write_private(&state.path().join(REMEMBERED), &json)
}

/// The last good answer kept for `name`; empty if none, if it was for
/// another name, or if the file is unreadable.
pub fn remembered(state: &StateDir, name: &str) -> Vec<NodeId> {
    let path = state.path().join(REMEMBERED);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    match serde_json::from_str::<Remembered>(&text) {
        Ok(r) if r.name == name => r
            .roots
            .iter()
            .filter_map(|t| NodeId::parse(t).ok())
            .collect(),
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable scope roots");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
