//! `tessel whois ADDR|NODE_ID|NAME`: who a member is, as the running node knows
//! it (the control API's `whois`): node ID, overlay addresses, the path
//! and round-trip time of a session, when it was last heard, and in a
//! managed network its certificate's name, groups and expiry.

use anyhow::Result;
use clap::Args;
use tessel_overlay::driver::control::answers::WhoisAnswer;
use tessel_overlay::driver::control::Request;

use crate::cli::NodeDirs;
use crate::local;
use crate::status::{ago, bytes, path};
use crate::table::Table;

/// `tessel whois`.
#[derive(Debug, Args)]
pub(crate) struct WhoisArgs {
    /// The member: an overlay address (IPv6 or IPv4), a node ID
    /// (tessel-node-…) or its name (NAME or NAME.DOMAIN).
    pub(crate) target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

/// Runs `tessel whois`.
pub(crate) fn run(args: &WhoisArgs) -> Result<()> {
    let request = Request::Whois {
        target: args.target.clone(),
    };
    let answer = local::ask::<WhoisAnswer>(&args.dirs, &request)?;
    if args.json {
        return answer.print_json(false);
    }
    table(&answer).print();
    Ok(())
}

/// The answer as label and value rows.
fn table(a: &WhoisAnswer) -> Table {
    let m = &a.member;
    let mut t = Table::plain();
    let node = if a.this_node {
        format!("{} (this node)", m.node_id)
    } else {
        m.node_id.clone()
    };
    t.row(["node".to_owned(), node]);
    if let Some(name) = &m.name {
        let name = match &m.name_held_by {
            Some(holder) => format!("{name} (held by {holder}, which claimed it first)"),
            None => name.clone(),
        };
        t.row(["name".to_owned(), name]);
    }
    t.row(["ipv6", m.ipv6.as_str()]);
    t.row(["ipv4", m.ipv4.as_deref().unwrap_or("-")]);
    if a.this_node {
        t.row(["listen", m.endpoint.as_deref().unwrap_or("-")]);
    } else {
        let via = match (m.connected, m.path.as_deref(), &m.endpoint) {
            (true, Some("direct"), Some(e)) => format!(
                "direct to {e} over {}",
                m.transport.as_deref().unwrap_or("udp")
            ),
            (true, Some(p), _) if p.starts_with("relay ") => {
                format!("relayed through {}", &p["relay ".len()..])
            }
            _ => path(m),
        };
        t.row(["path".to_owned(), via]);
        if !m.connected {
            t.row(["endpoint", m.endpoint.as_deref().unwrap_or("-")]);
        }
        let rtt = m
            .rtt_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
        t.row(["rtt".to_owned(), rtt]);
        t.row(["last seen".to_owned(), ago(m.last_seen_ago_secs)]);
        let handshake = match m.last_handshake_unix_ms {
            Some(ms) => format!(
                "{} ({})",
                ago(m.last_handshake_ago_secs),
                crate::rotate::utc(ms / 1000)
            ),
            None => "never".to_owned(),
        };
        t.row(["handshake".to_owned(), handshake]);
        t.row([
            "traffic".to_owned(),
            format!("rx {}, tx {}", bytes(m.rx_bytes), bytes(m.tx_bytes)),
        ]);
    }
    if let Some(c) = &m.certificate {
        t.row(["cert name".to_owned(), format!("{:?}", c.name)]);
        t.row(["groups".to_owned(), c.groups.join(", ")]);
        t.row(["cert until".to_owned(), crate::rotate::utc(c.not_after)]);
    }
    t
}
