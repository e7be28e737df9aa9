//! The DNS responder: answers `NAME.<domain>` with the overlay addresses
//! of the member that holds the name (see [`crate::node`]'s names), on UDP
//! and TCP at one local address (`tessel up --dns-listen`, default
//! [`DEFAULT_LISTEN`]).
//!
//! Message flow:
//! * the server tasks ([`server`]) read queries and answer at once what
//!   needs no node (other domains, malformed queries: [`answer`]);
//! * for a name they send a [`NameQuery`] to the event loop, which owns the
//!   node: it answers from what the node holds or waits for the node's
//!   fetch of the name ([`PendingNames`]), and sends back the holder's
//!   addresses on the query's one-shot channel;
//! * the server task builds the answer and sends it.
//!
//! A bind failure (port 53 needs root or `CAP_NET_BIND_SERVICE`, or the
//! address is taken) is a warning: the node runs without DNS.

mod answer;
mod pending;
mod server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::sync::{mpsc, oneshot};

use crate::identity::NodeName;
pub(crate) use pending::PendingNames;

/// The default domain: `.internal` is reserved for private use.
pub const DEFAULT_DOMAIN: &str = "tessel.internal";
/// The default address: a loopback address that is not systemd-resolved's
/// (127.0.0.53, 127.0.0.54), port 53.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 77)), 53);

/// Where and for which domain the responder answers.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// The domain (e.g. `tessel.internal`): names are `NAME.<domain>`.
    pub domain: String,
    /// The UDP and TCP address to answer on.
    pub listen: SocketAddr,
}

/// A server task asking the event loop who holds a name.
pub(crate) struct NameQuery {
    /// The name.
    pub(crate) name: NodeName,
    /// Where the holder's addresses go.
    pub(crate) reply: oneshot::Sender<answer::Holder>,
}

/// The responder's side of the event loop: the queries of its tasks.
pub(crate) struct DnsService {
    queries: mpsc::Receiver<NameQuery>,
    /// Keeps the channel open when no task runs, so `next` waits forever.
    _idle: Option<mpsc::Sender<NameQuery>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DnsService {
    /// Starts the responder (`None`: off). Never fails: what cannot be set
    /// up is a warning.
    pub(crate) fn start(opts: Option<&DnsOptions>) -> Self {
        let (tx, queries) = mpsc::channel(64);
        let tasks = match opts {
            Some(o) => server::start(o, tx.clone()),
            None => Vec::new(),
        };
        Self {
            queries,
            _idle: tasks.is_empty().then_some(tx),
            tasks,
        }
    }

    /// The next query for the event loop.
    pub(crate) async fn next(&mut self) -> Option<NameQuery> {
        self.queries.recv().await
    }
}

impl Drop for DnsService {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Checks a `--dns-domain`: one or more DNS labels, lowercase; returns it
/// without a trailing dot.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err("the DNS domain cannot be empty (e.g. tessel.internal)".into());
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(format!("{text} has an empty label (two dots in a row?)"));
        }
        NodeName::parse(label).map_err(|e| format!("`{label}` in {text}: {e}"))?;
    }
    if trimmed.len() > 200 {
        return Err(format!(
            "the DNS domain {text} is too long (at most 200 characters)"
        ));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_labels() {
        assert_eq!(parse_domain("Tessel.Internal.").unwrap(), "tessel.internal");
        assert_eq!(parse_domain("corp").unwrap(), "corp");
        assert!(parse_domain("").is_err());
        assert!(parse_domain("a..b").is_err());
        assert!(parse_domain("bad_label.internal").is_err());
    }
}
