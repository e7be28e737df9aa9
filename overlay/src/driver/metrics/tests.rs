//! The encoded text of a made-up snapshot: every family named and
//! described as Prometheus expects, every drop reason present, the tile's
//! and the scopes' families only when they exist.

use std::collections::BTreeMap;

use super::encode::{render, Format};
use super::snapshot::{DirectionMetrics, EngineMetrics, Snapshot, TcpMetrics, TileMetrics};
use crate::node::{
    DropCounters, DropReason, HandshakeStats, LookupStats, NatBehaviour, NodeMetrics, PathCounts,
    RecordStats, RelayStats, TrafficStats, TraversalStats,
};

fn snapshot() -> Snapshot {
    let mut drops = DropCounters::default();
    drops.add(DropReason::BadMac);
    drops.add(DropReason::BadMac);
    drops.add(DropReason::Replay);
    Snapshot {
        node: NodeMetrics {
            members: 5,
            sessions: 3,
            paths: PathCounts {
                direct: 1,
                relayed: 1,
                tcp: 1,
            },
            drops,
            traffic: TrafficStats {
                packet_bytes_sent: 1234,
                packets_sent: 7,
                ..TrafficStats::default()
            },
            handshakes: HandshakeStats::default(),
            traversal: TraversalStats {
                punches_started: 4,
                direct_paths_found: 2,
                ..TraversalStats::default()
            },
            relay: RelayStats {
                pairs: 6,
                ..RelayStats::default()
            },
            lookups: LookupStats::default(),
            records: RecordStats::default(),
            nat_mapping: NatBehaviour::Dependent,
            port_mapped: false,
            key_epoch: 2,
        },
        tcp: TcpMetrics::default(),
        engines: EngineMetrics::default(),
        tile: None,
    }
}

/// The samples of `text` by series (name and labels as written).
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series and value");
            (series.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn families_follow_the_naming_rules() {
    let text = render(snapshot(), Format::Prometheus).unwrap();
    let mut helps = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{name} has no help");
            helps.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} twice"
            );
        }
    }
    assert_eq!(helps.len(), types.len());
    for (name, kind) in &types {
        assert!(name.starts_with("tessel_"), "{name}");
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name}: {kind}"
        );
        assert!(helps.contains(name), "{name} has no HELP");
    }
    // Every sample belongs to a declared family.
    for series in samples(&text).keys() {
        let name = series.split('{').next().unwrap();
        assert!(types.contains_key(name), "{series} has no TYPE");
    }
}

#[test]
fn values_land_in_their_series() {
    let s = samples(&render(snapshot(), Format::Prometheus).unwrap());
    let v = |k: &str| {
        s.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert_eq!(v("tessel_sessions"), "3");
    assert_eq!(v(r#"tessel_peers{path="relayed"}"#), "1");
    assert_eq!(v("tessel_overlay_sent_bytes_total"), "1234");
    assert_eq!(v("tessel_overlay_sent_packets_total"), "7");
    assert_eq!(v(r#"tessel_drops_total{reason="bad_mac"}"#), "2");
    assert_eq!(v(r#"tessel_punch_attempts_total{role="started"}"#), "4");
    assert_eq!(v("tessel_punch_successes_total"), "2");
    assert_eq!(v("tessel_relay_pairs"), "6");
    assert_eq!(v(r#"tessel_nat_mapping{kind="dependent"}"#), "1");
    assert_eq!(v(r#"tessel_nat_mapping{kind="unknown"}"#), "0");
    assert_eq!(v("tessel_network_key_epoch"), "2");
    for r in DropReason::ALL {
        v(&format!(r#"tessel_drops_total{{reason="{}"}}"#, r.name()));
    }
    assert!(!s.keys().any(|k| k.starts_with("tessel_tile_")));
    assert!(!s.keys().any(|k| k.starts_with("tessel_scope_")));
}

#[test]
fn a_tile_and_scopes_add_their_families() {
    let mut snap = snapshot();
    snap.engines.scopes = true;
    snap.engines.transport.scopes.answered = 9;
    let counters = tessel_tile_link::tile::Counters {
        tx_bytes: 77,
        rx_malformed: 3,
        ..Default::default()
    };
    snap.tile = Some(TileMetrics {
        directions: vec![DirectionMetrics {
            dir: "ET",
            present: true,
            queued: 0,
            counters,
        }],
        files: 1,
        ..TileMetrics::default()
    });
    let s = samples(&render(snap, Format::Prometheus).unwrap());
    assert_eq!(s[r#"tessel_tile_neighbour_present{dir="ET"}"#], "1");
    assert_eq!(s[r#"tessel_tile_sent_bytes_total{dir="ET"}"#], "77");
    assert_eq!(
        s[r#"tessel_tile_packet_events_total{dir="ET",event="rx_malformed"}"#],
        "3"
    );
    assert_eq!(s[r#"tessel_scope_events_total{event="answered"}"#], "9");
}

#[test]
fn openmetrics_is_served_when_asked_for() {
    assert_eq!(Format::from_accept(None), Format::Prometheus);
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    let asked = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
    assert_eq!(Format::from_accept(Some(asked)), Format::OpenMetrics);
    let text = render(snapshot(), Format::OpenMetrics).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains(
        "# TYPE tessel_overlay_sent_bytes counter\n# UNIT tessel_overlay_sent_bytes bytes\n"
    ));
    assert!(text.contains("\ntessel_overlay_sent_bytes_total 1234\n"));
}
