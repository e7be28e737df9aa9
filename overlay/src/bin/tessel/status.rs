//! `tessel status` and `tessel ip`: what the running node says of itself
//! (the control API's `status` and `ip`), as text with a table of peers,
//! or with `--json` as the answer came.

use anyhow::{bail, Result};
use tessel_overlay::driver::control::answers::{IpAnswer, StatusAnswer};
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::identity::address::initial_addresses;
use tessel_overlay::node::{PeerStatus, Status};

use crate::cli::{DirsAndJson, NodeDirs};
use crate::local;
use crate::table::Table;

/// `tessel ip`: from the running node, else from the state dir.
pub(crate) fn ip(dirs: &NodeDirs, json: bool) -> Result<()> {
    let answer = match local::ask::<IpAnswer>(dirs, &Request::Ip) {
        Ok(a) => a,
        Err(e) if e.not_running() => local::Answer::local(from_state_dir(dirs)?),
        Err(e) => return Err(e.into()),
    };
    if json {
        answer.print_json(true)
    } else {
        println!("{}\n{}", answer.ipv6, answer.ipv4);
        Ok(())
    }
}

/// The addresses a node with this state dir has, without asking it.
fn from_state_dir(dirs: &NodeDirs) -> Result<IpAnswer> {
    let state_dir = &dirs.state_dir;
    let state = StateDir::open(state_dir)?;
    let Some(network) = state.network_key()? else {
        bail!(
            "no network key in {}: run `tessel up --network KEY --state-dir {}` once first",
            state_dir.display(),
            state_dir.display()
        );
    };
    let node = state.node_key()?.id();
    let (ipv6, ipv4) =
        initial_addresses(&crate::config::offline_ipv4_range(), &network.id(), &node);
    Ok(IpAnswer {
        node_id: node.to_string(),
        ipv6: ipv6.to_string(),
        ipv4: ipv4.to_string(),
    })
}

/// `tessel status`.
pub(crate) fn status(args: &DirsAndJson) -> Result<()> {
    let answer = local::ask::<StatusAnswer>(&args.dirs, &Request::Status)?;
    if args.json {
        return answer.print_json(false);
    }
    let status = &answer.node;
    header(status).print();
    println!();
    if status.peers.is_empty() {
        println!("no peers yet");
    } else {
        peer_table(&status.peers).print();
    }
    crate::nat_status::print(&status.nat);
    for line in answer.tcp.lines() {
        println!("{line}");
    }
    let r = &status.relay;
    println!(
        "relaying: {}; passed on {} frames ({}) for others, now for {} pairs of members, refused {} ({} over the pair limit, {} over a member's share); sent {} and received {} of ours through relays",
        if r.enabled { "on" } else { "off (--no-relay)" },
        r.forwarded,
        bytes(r.forwarded_bytes),
        r.pairs,
        r.refused,
        r.refused_pairs,
        r.refused_hop_share,
        r.sent_relayed,
        r.received_relayed
    );
    for line in crate::engine::status_lines(&answer.engines) {
        println!("{line}");
    }
    let t = &status.traversal;
    if t.punches_started + t.punches_joined > 0 {
        println!(
            "hole punching: {} started ({} retried at once), {} joined, {} direct, {} failed, {} requests resent, {} probes ({} to random ports, {} birthday)",
            t.punches_started,
            t.fast_retries,
            t.punches_joined,
            t.direct_paths_found,
            t.punches_failed,
            t.requests_resent,
            t.probes_sent,
            t.spray_probes,
            t.birthday_punches
        );
    }
    if t.candidates_refused + t.joins_refused + t.probes_capped > 0 {
        println!(
            "hole punching refused: {} candidates, {} joins, {} probes over an address's budget",
            t.candidates_refused, t.joins_refused, t.probes_capped
        );
    }
    let drops: Vec<String> = status
        .drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!();
    println!(
        "dropped  {}",
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join(", ")
        }
    );
    Ok(())
}

/// The node itself: ID, network, addresses, key, mapping, membership.
fn header(status: &Status) -> Table {
    let mut t = Table::plain();
    t.row(["node", status.node_id.as_str()]);
    t.row(["network", status.network_id.as_str()]);
    t.row([
        "address".to_owned(),
        format!("{}  {}", status.ipv6, status.ipv4),
    ]);
    if let Some(n) = &status.name {
        let name = match &n.held_by {
            Some(holder) => format!(
                "{} is held by {holder}, which claimed it first: this node does not answer to it (choose another with --name)",
                n.name
            ),
            None => n.name.clone(),
        };
        t.row(["name".to_owned(), name]);
    }
    t.row(["listen", status.listen.as_str()]);
    let k = &status.network_key;
    let key = match k.old_key_refused_after_unix_ms {
        Some(ms) => format!(
            "epoch {}; the old key (epoch {}) works until {}",
            k.epoch,
            k.retiring_epoch.unwrap_or_default(),
            crate::rotate::utc(ms / 1000)
        ),
        None => format!("epoch {}", k.epoch),
    };
    t.row(["key".to_owned(), key]);
    if let Some(m) = &status.port_mapping {
        t.row([
            "mapped".to_owned(),
            format!("{} ({})", m.external, m.protocol),
        ]);
    }
    if let Some(m) = &status.managed {
        t.row(["managed".to_owned(), format!("owner {}", m.owner)]);
        t.row([
            String::new(),
            format!(
                "this node: {:?}, groups [{}], certificate valid until {}",
                m.name,
                m.groups.join(", "),
                crate::rotate::utc(m.not_after)
            ),
        ]);
        let revoked = match m.revocations_serial {
            Some(s) => format!("revocation list serial {s}, {} revoked", m.revoked),
            None => "no revocation list".to_owned(),
        };
        t.row([String::new(), revoked]);
    }
    t
}

/// One row per peer; the certificate's columns in managed mode.
fn peer_table(peers: &[PeerStatus]) -> Table {
    let managed = peers.iter().any(|p| p.certificate.is_some());
    let named = peers.iter().any(|p| p.name.is_some());
    let mut columns = vec!["peer"];
    if named {
        columns.push("name");
    }
    columns.extend([
        "ipv6",
        "ipv4",
        "path",
        "endpoint",
        "rtt",
        "handshake",
        "seen",
        "rx",
        "tx",
    ]);
    if managed {
        columns.extend(["cert name", "groups", "cert until"]);
    }
    let mut t = Table::new(&columns);
    for p in peers {
        let mut row = vec![p.node_id.clone()];
        if named {
            row.push(match (&p.name, &p.name_held_by) {
                (Some(n), None) => n.clone(),
                (Some(n), Some(h)) => format!("{n} (held by {h})"),
                _ => "-".into(),
            });
        }
        row.extend([
            p.ipv6.clone(),
            p.ipv4.clone().unwrap_or_else(|| "-".into()),
            path(p),
            p.endpoint.clone().unwrap_or_else(|| "-".into()),
            p.rtt_ms
                .map_or_else(|| "-".into(), |ms| format!("{ms:.1} ms")),
            ago(p.last_handshake_ago_secs),
            ago(p.last_seen_ago_secs),
            bytes(p.rx_bytes),
            bytes(p.tx_bytes),
        ]);
        if managed {
            match &p.certificate {
                Some(c) => row.extend([
                    c.name.clone(),
                    c.groups.join(","),
                    crate::rotate::utc(c.not_after),
                ]),
                None => row.extend(["-".into(), "-".into(), "-".into()]),
            }
        }
        t.row(row);
    }
    t
}

/// How traffic to a peer goes: `direct`, `direct tcp`, `relay NODE_ID`,
/// or `not connected`.
pub(crate) fn path(p: &PeerStatus) -> String {
    match (&p.path, p.connected) {
        (Some(path), true) if path == "direct" && p.transport.as_deref() == Some("tcp") => {
            "direct tcp".to_owned()
        }
        (Some(path), true) => path.clone(),
        (None, true) => "connected".to_owned(),
        (_, false) => "not connected".to_owned(),
    }
}

/// `12s ago`, or `never`.
pub(crate) fn ago(secs: Option<f64>) -> String {
    secs.map_or_else(|| "never".to_owned(), |s| format!("{s:.0}s ago"))
}

/// A byte count for people: B, KiB, MiB.
pub(crate) fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}
