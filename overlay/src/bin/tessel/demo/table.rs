//! The final table, one row per pair: NAT kinds, time to the first packet
//! and to a direct path (seconds after the nodes started), the final path
//! and the transfer's throughput; aligned text, or JSON for `--json`.

use serde_json::{json, Value};

use super::pairs::PairPath;
use super::plan::{Outcome, MEMBERS};
use super::traffic::PairTraffic;
use super::watch::{pair_label, PairState};

/// One pair's results.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The pair and its path.
    pub(crate) pair: PairState,
    /// The final path's relay, by member name.
    pub(crate) via: Option<String>,
    /// What traffic showed.
    pub(crate) traffic: PairTraffic,
}

impl Row {
    /// The final path in words.
    fn path_text(&self) -> String {
        let tcp = if self.pair.tcp { " (TCP)" } else { "" };
        match (&self.pair.track.path, &self.via) {
            (PairPath::Direct, _) => format!("direct{tcp}"),
            (PairPath::Relayed(_), Some(via)) => format!("relayed via {via}{tcp}"),
            (PairPath::Relayed(id), None) => format!("relayed via {id}{tcp}"),
            (PairPath::Unconnected, _) => "not connected".to_owned(),
        }
    }

    /// True if the pair connected and its traffic went through.
    pub(crate) fn ok(&self) -> bool {
        self.pair.track.path != PairPath::Unconnected && self.traffic.problems.is_empty()
    }
}

fn secs(d: Option<std::time::Duration>) -> String {
    d.map_or("-".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
}

/// The table as aligned text.
pub(crate) fn render(rows: &[Row]) -> String {
    let header = [
        "pair",
        "NAT kinds",
        "first packet",
        "direct",
        "final path",
        "throughput",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let p = &r.pair;
            [
                pair_label(p),
                format!(
                    "{} x {}",
                    MEMBERS[p.a].nat.label(),
                    MEMBERS[p.b].nat.label()
                ),
                secs(p.track.first_packet),
                secs(p.track.direct_at),
                r.path_text(),
                r.traffic
                    .transfer
                    .map_or("-".to_owned(), |t| format!("{:.0} Mbit/s", t.mbit_per_s())),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        row.iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(&header.map(str::to_owned))];
    out.extend(cells.iter().map(|r| line(r)));
    out.join("\n")
}

/// The table as JSON: `{"pairs": [...]}`, times in seconds since the nodes
/// started, throughput in Mbit/s.
pub(crate) fn to_json(rows: &[Row]) -> Value {
    let pairs: Vec<Value> = rows
        .iter()
        .map(|r| {
            let p = &r.pair;
            let (a, b) = (&MEMBERS[p.a], &MEMBERS[p.b]);
            let path = match p.track.path {
                PairPath::Direct => "direct",
                PairPath::Relayed(_) => "relayed",
                PairPath::Unconnected => "none",
            };
            json!({
                "a": a.name,
                "b": b.name,
                "nat_a": a.nat.id(),
                "nat_b": b.nat.id(),
                "connected": p.track.path != PairPath::Unconnected,
                "first_packet_s": p.track.first_packet.map(|d| d.as_secs_f64()),
                "direct_s": p.track.direct_at.map(|d| d.as_secs_f64()),
                "path": path,
                "relay": r.via,
                "tcp": p.tcp,
                "expected": match p.expect.outcome {
                    Outcome::Direct => "direct",
                    Outcome::Predicted => "direct_if_predicted",
                    Outcome::Relayed => "relayed",
                },
                "why": p.expect.reason,
                "ping": r.traffic.ping.as_ref().map(|s| json!({
                    "sent": s.sent,
                    "received": s.received,
                    "avg_rtt_ms": s.avg_rtt_ms,
                })),
                "transfer_bytes": r.traffic.transfer.map(|t| t.bytes),
                "throughput_mbit_s": r.traffic.transfer.map(|t| t.mbit_per_s()),
                "problems": r.traffic.problems,
            })
        })
        .collect();
    json!({ "pairs": pairs })
}
