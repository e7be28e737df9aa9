//! A [`Snapshot`] in the exposition format, through the Prometheus client's
//! encoder: every family named `tessel_…`, with a HELP line, `_total` on
//! counters and the unit in the name (`_bytes`). The list of families is
//! in docs/metrics.md.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::snapshot::{EngineMetrics, Snapshot, TcpMetrics, TileMetrics};
use crate::node::{DropReason, NatBehaviour, NodeMetrics};

/// Which text format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0 text (asked for with its media type in `Accept`).
    OpenMetrics,
}

impl Format {
    /// The format that an `Accept` header asks for.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// `snapshot` as the text of one scrape.
///
/// # Errors
/// Only if the encoder fails to write into a `String` (it does not).
pub fn render(snapshot: Snapshot, format: Format) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("tessel");
    registry.register_collector(Box::new(snapshot));
    let mut out = String::new();
    match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

impl Collector for Snapshot {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let mut f = Families(encoder);
        node(&mut f, &self.node)?;
        tcp(&mut f, &self.tcp)?;
        engines(&mut f, &self.engines)?;
        if let Some(t) = &self.tile {
            tile(&mut f, t)?;
        }
        Ok(())
    }
}

/// Writes families of one type each, with or without labels.
struct Families<'a>(DescriptorEncoder<'a>);

impl Families<'_> {
    fn one(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        kind: MetricType,
        v: u64,
    ) -> fmt::Result {
        let m = self.0.encode_descriptor(name, help, unit, kind)?;
        match kind {
            MetricType::Counter => ConstCounter::new(v).encode(m),
            _ => ConstGauge::new(v).encode(m),
        }
    }

    /// A counter without labels (`NAME_total`).
    fn counter(&mut self, name: &str, help: &str, v: u64) -> fmt::Result {
        self.one(name, help, None, MetricType::Counter, v)
    }

    /// A counter of bytes (`NAME_bytes_total`).
    fn bytes(&mut self, name: &str, help: &str, v: u64) -> fmt::Result {
        self.one(name, help, Some(&Unit::Bytes), MetricType::Counter, v)
    }

    /// A gauge without labels.
    fn gauge(&mut self, name: &str, help: &str, v: u64) -> fmt::Result {
        self.one(name, help, None, MetricType::Gauge, v)
    }

    /// One family of `kind`, a series per `(label values, value)`.
    fn family<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: [&str; N],
        series: &[([&str; N], u64)],
    ) -> fmt::Result {
        let mut m = self.0.encode_descriptor(name, help, None, kind)?;
        for (values, v) in series {
            let set: [(&str, &str); N] = std::array::from_fn(|i| (labels[i], values[i]));
            let s = m.encode_family(&set)?;
            match kind {
                MetricType::Counter => ConstCounter::new(*v).encode(s)?,
                _ => ConstGauge::new(*v).encode(s)?,
            }
        }
        Ok(())
    }

    fn counters<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        labels: [&str; N],
        series: &[([&str; N], u64)],
    ) -> fmt::Result {
        self.family(name, help, MetricType::Counter, labels, series)
    }

    fn gauges<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        labels: [&str; N],
        series: &[([&str; N], u64)],
    ) -> fmt::Result {
        self.family(name, help, MetricType::Gauge, labels, series)
    }
}

fn node(f: &mut Families<'_>, n: &NodeMetrics) -> fmt::Result {
    f.gauge(
        "members",
        "Members in the node's table, connected or not.",
        n.members,
    )?;
    f.gauge("sessions", "Members with a usable session.", n.sessions)?;
    f.gauges(
        "peers",
        "Connected members by the path their traffic takes: direct (UDP), relayed (through another member) or tcp.",
        ["path"],
        &[
            (["direct"], n.paths.direct),
            (["relayed"], n.paths.relayed),
            (["tcp"], n.paths.tcp),
        ],
    )?;
    let t = &n.traffic;
    f.counter(
        "overlay_sent_packets",
        "IP packets from the interface sent to members.",
        t.packets_sent,
    )?;
    f.bytes(
        "overlay_sent",
        "Bytes of IP packets from the interface sent to members.",
        t.packet_bytes_sent,
    )?;
    f.counter(
        "overlay_received_packets",
        "IP packets from members handed to the interface.",
        t.packets_received,
    )?;
    f.bytes(
        "overlay_received",
        "Bytes of IP packets from members handed to the interface.",
        t.packet_bytes_received,
    )?;
    f.counter(
        "wire_sent_datagrams",
        "Datagrams sent to members: session messages (relayed ones included) and handshake initiations.",
        t.datagrams_sent,
    )?;
    f.bytes(
        "wire_sent",
        "Bytes of datagrams sent to members.",
        t.datagram_bytes_sent,
    )?;
    f.counter(
        "wire_received_datagrams",
        "Session messages from members that authenticated.",
        t.datagrams_received,
    )?;
    f.bytes(
        "wire_received",
        "Bytes of session messages from members that authenticated.",
        t.datagram_bytes_received,
    )?;
    f.counter(
        "handshakes_initiated",
        "Handshake initiations sent (first attempts and retries).",
        t.handshakes_initiated,
    )?;
    f.counter(
        "handshakes_completed",
        "Handshakes completed, as initiator or responder.",
        t.handshakes_completed,
    )?;
    let h = &n.handshakes;
    f.counter(
        "handshake_initiations_computed",
        "Initiations received that reached their Diffie-Hellman.",
        h.initiations_computed,
    )?;
    f.counters(
        "handshake_cookie_replies",
        "Cookie replies to initiations under load: sent, or not sent because of their own rate bound (limited).",
        ["outcome"],
        &[
            (["sent"], h.cookie_replies_sent),
            (["limited"], h.cookie_replies_limited),
        ],
    )?;
    f.counter(
        "handshake_cookies_taken",
        "Cookies received from members under load and taken.",
        h.cookies_taken,
    )?;
    let drops: Vec<([&str; 1], u64)> = DropReason::ALL
        .iter()
        .map(|r| ([r.name()], n.drops.get(*r)))
        .collect();
    f.counters(
        "drops",
        "Datagrams and packets dropped, by reason (refused handshakes among them).",
        ["reason"],
        &drops,
    )?;
    relay(f, n)?;
    traversal(f, n)?;
    lookups_and_records(f, n)?;
    let nat: Vec<([&str; 1], u64)> = NatBehaviour::ALL
        .iter()
        .map(|b| ([b.name()], u64::from(*b == n.nat_mapping)))
        .collect();
    f.gauges(
        "nat_mapping",
        "The NAT's mapping behaviour as the STUN samples show it: 1 for the current kind, 0 for the others.",
        ["kind"],
        &nat,
    )?;
    f.gauge(
        "port_mapped",
        "1 while the gateway maps a port to the node (PCP, NAT-PMP or UPnP), else 0.",
        u64::from(n.port_mapped),
    )?;
    f.gauge(
        "network_key_epoch",
        "The network key's epoch (0 until the first rotation).",
        u64::from(n.key_epoch),
    )
}

fn relay(f: &mut Families<'_>, n: &NodeMetrics) -> fmt::Result {
    let r = &n.relay;
    f.gauge(
        "relay_enabled",
        "1 if this node relays for other members, else 0.",
        u64::from(r.enabled),
    )?;
    f.gauge(
        "relay_pairs",
        "Pairs of members this node relays for now.",
        r.pairs,
    )?;
    f.counter(
        "relay_forwarded_frames",
        "Frames passed on for other members.",
        r.forwarded,
    )?;
    f.bytes(
        "relay_forwarded",
        "Bytes passed on for other members.",
        r.forwarded_bytes,
    )?;
    f.counter(
        "relay_refused_frames",
        "Frames not passed on: relaying off, over budget, no way on, out of hops or too many pairs.",
        r.refused,
    )?;
    f.counters(
        "relay_refused_pair_frames",
        "Of the refused frames, those refused for a pair limit: all places taken (pairs), or the handing member's share used (hop_share).",
        ["limit"],
        &[(["pairs"], r.refused_pairs), (["hop_share"], r.refused_hop_share)],
    )?;
    f.counter(
        "relay_route_claims_capped",
        "Route claims not taken because their neighbour is next hop of its share of the members already.",
        r.route_claims_capped,
    )?;
    f.counters(
        "relayed_datagrams",
        "Datagrams of this node's own that went through a relay (sent), or came to it through one (received).",
        ["direction"],
        &[
            (["sent"], r.sent_relayed),
            (["received"], r.received_relayed),
        ],
    )
}

fn traversal(f: &mut Families<'_>, n: &NodeMetrics) -> fmt::Result {
    let t = &n.traversal;
    f.counters(
        "punch_attempts",
        "Hole punches this node started, or joined at another member's request.",
        ["role"],
        &[
            (["started"], t.punches_started),
            (["joined"], t.punches_joined),
        ],
    )?;
    f.counter(
        "punch_successes",
        "Hole punches that found a direct path.",
        t.direct_paths_found,
    )?;
    f.counter(
        "punch_failures",
        "Hole punches that ended without a path.",
        t.punches_failed,
    )?;
    f.counter(
        "punch_birthday",
        "Hole punches in which this node opened many sockets (birthday technique).",
        t.birthday_punches,
    )?;
    f.counter(
        "punch_spray_probes",
        "Probes sent to random ports (birthday technique).",
        t.spray_probes,
    )?;
    f.counter("path_probes_sent", "Path probes sent.", t.probes_sent)?;
    f.counter(
        "path_probes_capped",
        "Probes not sent because their unproven target address had its probes of the minute.",
        t.probes_capped,
    )?;
    f.counter(
        "signals_forwarded",
        "Signals passed on for other members.",
        t.signals_forwarded,
    )?;
    f.counter(
        "punch_candidates_refused",
        "Candidate addresses in signals refused for probing (loopback, multicast, overlay and the like).",
        t.candidates_refused,
    )?;
    f.counter(
        "punch_joins_refused",
        "Requests to join a punch refused because their members asked too often.",
        t.joins_refused,
    )?;
    f.counter(
        "punch_requests_resent",
        "Candidates signalled again during a punch: unanswered, or changed since told.",
        t.requests_resent,
    )?;
    f.counter(
        "punch_fast_retries",
        "Punches started at once after one that found nothing, with traffic waiting.",
        t.fast_retries,
    )
}

fn lookups_and_records(f: &mut Families<'_>, n: &NodeMetrics) -> fmt::Result {
    let l = &n.lookups;
    f.counter(
        "lookups_started",
        "Lookups of an address's owner this node started.",
        l.started,
    )?;
    f.counters(
        "lookups",
        "Lookups of this node's that ended: found the owner, found none, or timed out.",
        ["outcome"],
        &[
            (["found"], l.found),
            (["not_found"], l.not_found),
            (["timed_out"], l.timed_out),
        ],
    )?;
    f.counter(
        "lookups_forwarded",
        "Lookup requests and answers passed on for others.",
        l.forwarded,
    )?;
    f.counter(
        "lookups_answered",
        "Lookup requests this node answered.",
        l.answered,
    )?;
    let r = &n.records;
    f.gauge("records_kept", "Records kept here now.", r.kept)?;
    f.counters(
        "records",
        "Records taken into the store (stored), refused (bad signature, older, over a limit) or expired here.",
        ["outcome"],
        &[
            (["stored"], r.stored),
            (["refused"], r.refused),
            (["expired"], r.expired),
        ],
    )?;
    f.counter(
        "record_fetches_started",
        "Record fetches this node started.",
        r.fetches,
    )?;
    f.counters(
        "record_fetches",
        "Record fetches of this node's that found records, or none.",
        ["outcome"],
        &[(["found"], r.found), (["not_found"], r.not_found)],
    )?;
    f.counter(
        "records_forwarded",
        "Record store, fetch and answer messages passed on for others.",
        r.forwarded,
    )?;
    f.counter(
        "record_fetches_answered",
        "Record fetches answered here.",
        r.answered,
    )
}

fn tcp(f: &mut Families<'_>, t: &TcpMetrics) -> fmt::Result {
    let c = &t.counters;
    f.gauge(
        "tcp_enabled",
        "1 if the TCP transport is on, else 0.",
        u64::from(t.enabled),
    )?;
    f.gauge(
        "tcp_connections",
        "TCP connections open, dialed and accepted.",
        t.connections,
    )?;
    f.counter("tcp_accepted", "TCP connections accepted.", c.accepted)?;
    f.counters(
        "tcp_refused",
        "TCP connections refused: the node's limit (limit) or one address's (per_address).",
        ["reason"],
        &[
            (["limit"], c.refused),
            (["per_address"], c.refused_per_address),
        ],
    )?;
    f.counter("tcp_dials", "TCP connections dialed.", c.dials)?;
    f.counter(
        "tcp_dial_failures",
        "TCP dials that failed.",
        c.dial_failures,
    )?;
    f.counters(
        "tcp_closed",
        "TCP connections closed, by reason.",
        ["reason"],
        &[
            (["rejected"], c.closed_rejected),
            (["bad_frame"], c.closed_bad_frame),
            (["silent"], c.closed_silent),
            (["idle"], c.closed_idle),
            (["udp_works"], c.closed_udp_works),
            (["by_peer"], c.closed_by_peer),
        ],
    )?;
    f.counter(
        "tcp_send_dropped",
        "Datagrams for a TCP connection that was not open or whose queue was full.",
        c.send_dropped,
    )
}

fn engines(f: &mut Families<'_>, e: &EngineMetrics) -> fmt::Result {
    f.gauges(
        "engines",
        "Engines known: on this node (local) or on others (foreign).",
        ["location"],
        &[(["local"], e.local), (["foreign"], e.foreign)],
    )?;
    f.gauge("engine_peers", "Members with an engine stream up.", e.peers)?;
    f.gauge("engine_streams", "Engine streams open.", e.streams)?;
    f.gauge(
        "engine_clients",
        "Local programs connected to engines.sock.",
        e.clients,
    )?;
    f.bytes(
        "engine_stream_received",
        "Bytes read from engine streams.",
        e.bytes_in,
    )?;
    f.bytes(
        "engine_stream_sent",
        "Bytes written to engine streams.",
        e.bytes_out,
    )?;
    let s = &e.transport;
    f.counters(
        "engine_frames",
        "Engine frames received and parsed, or written.",
        ["direction"],
        &[(["received"], s.frames_in), (["sent"], s.frames_out)],
    )?;
    f.counters(
        "engine_events",
        "Events sent to remote subscribers, or filtered out for them.",
        ["outcome"],
        &[(["sent"], s.events_sent), (["filtered"], s.events_filtered)],
    )?;
    f.counters(
        "engine_drops",
        "Engine frames and messages dropped, by reason.",
        ["reason"],
        &[
            (["malformed"], s.malformed),
            (["forged"], s.forged),
            (["unauthenticated"], s.unauthenticated),
            (["bad_mac"], s.bad_mac),
            (["replayed"], s.replayed),
            (["stale"], s.stale),
            (["unknown_destination"], s.unknown_destination),
            (["mailbox_full"], s.mailbox_full),
            (["undeliverable"], s.undeliverable),
            (["limited"], s.limited),
            (["unexpected"], s.unexpected),
        ],
    )?;
    if !e.scopes {
        return Ok(());
    }
    let c = &s.scopes;
    f.bytes(
        "scope_query_sent",
        "Bytes of the scope query frames this runtime sent.",
        c.query_bytes_out,
    )?;
    f.bytes(
        "scope_answer_received",
        "Bytes of the answers to this runtime's scope queries.",
        c.answer_bytes_in,
    )?;
    f.counters(
        "scope_events",
        "What the scope hosting did, answered and refused (the fields of `scopes` in tessel status).",
        ["event"],
        &[
            (["answered"], c.answered),
            (["redirected"], c.redirected),
            (["denied"], c.denied),
            (["no_route"], c.no_route),
            (["cache_hits"], c.cache_hits),
            (["hops_sent"], c.hops_sent),
            (["hop_timeouts"], c.hop_timeouts),
            (["queries_done"], c.queries_done),
            (["queries_failed"], c.queries_failed),
            (["answers_forged"], c.answers_forged),
            (["answers_malformed"], c.answers_malformed),
            (["loops"], c.loops),
            (["pushes_in"], c.pushes_in),
            (["pushes_out"], c.pushes_out),
            (["pushes_refused"], c.pushes_refused),
            (["records_taken"], c.records_taken),
            (["records_refused"], c.records_refused),
            (["records_forged"], c.records_forged),
            (["records_pending"], c.records_pending),
            (["gone_detected"], c.gone_detected),
            (["gone_taken"], c.gone_taken),
            (["gone_refused"], c.gone_refused),
            (["generations_assigned"], c.generations_assigned),
            (["generations_adopted"], c.generations_adopted),
            (["sends_delivered"], c.sends_delivered),
            (["sends_failed"], c.sends_failed),
            (["limited"], c.limited),
            (["unexpected"], c.unexpected),
        ],
    )
}

fn tile(f: &mut Families<'_>, t: &TileMetrics) -> fmt::Result {
    let per_dir = |get: fn(&super::snapshot::DirectionMetrics) -> u64| -> Vec<([&str; 1], u64)> {
        t.directions.iter().map(|d| ([d.dir], get(d))).collect()
    };
    f.gauges(
        "tile_neighbour_present",
        "1 while the neighbour in a direction is present, else 0.",
        ["dir"],
        &per_dir(|d| u64::from(d.present)),
    )?;
    f.gauges(
        "tile_queued_packets",
        "Packets queued toward the neighbour in a direction.",
        ["dir"],
        &per_dir(|d| d.queued),
    )?;
    f.counters(
        "tile_connects",
        "Times the neighbour in a direction became present.",
        ["dir"],
        &per_dir(|d| d.counters.connects),
    )?;
    f.counters(
        "tile_disconnects",
        "Times the neighbour in a direction went away.",
        ["dir"],
        &per_dir(|d| d.counters.disconnects),
    )?;
    f.counters(
        "tile_sent_packets",
        "Packets handed to the link toward a direction.",
        ["dir"],
        &per_dir(|d| d.counters.tx_packets),
    )?;
    write_bytes_per_dir(
        f,
        "tile_sent",
        "Bytes handed to the link toward a direction.",
        &per_dir(|d| d.counters.tx_bytes),
    )?;
    f.counters(
        "tile_received_packets",
        "Packets received from the link of a direction, before any check.",
        ["dir"],
        &per_dir(|d| d.counters.rx_packets),
    )?;
    write_bytes_per_dir(
        f,
        "tile_received",
        "Bytes received from the link of a direction, before any check.",
        &per_dir(|d| d.counters.rx_bytes),
    )?;
    let mut events = Vec::new();
    for d in &t.directions {
        let c = &d.counters;
        for (event, v) in [
            ("tx_refused", c.tx_refused),
            ("tx_flushed", c.tx_flushed),
            ("rx_mfm", c.rx_mfm),
            ("rx_service", c.rx_service),
            ("rx_local", c.rx_local.iter().sum()),
            ("rx_malformed", c.rx_malformed),
            ("rx_flags_set", c.rx_flags_set),
            ("rx_tep", c.rx_tep),
            ("rx_tep_bad_event", c.rx_tep_bad_event),
            ("rx_unbound", c.rx_unbound),
            ("rx_no_mfm", c.rx_no_mfm),
            ("rx_absent", c.rx_absent),
            ("rx_overruns", c.rx_overruns),
        ] {
            events.push(([d.dir, event], v));
        }
    }
    f.counters(
        "tile_packet_events",
        "What became of the tile's packets per direction (the counters of tessel tile status).",
        ["dir", "event"],
        &events,
    )?;
    f.gauge("tile_files", "Managed files held.", t.files)?;
    f.gauge(
        "tile_downloads",
        "Managed file downloads in progress.",
        t.downloads,
    )?;
    let c = &t.file_counters;
    f.bytes(
        "tile_file_chunks_sent",
        "Bytes of file chunks sent.",
        c.chunk_bytes_sent,
    )?;
    f.bytes(
        "tile_file_chunks_received",
        "Bytes of file chunks received.",
        c.chunk_bytes_received,
    )?;
    f.counters(
        "tile_file_events",
        "What the file service did (the file counters of tessel tile status).",
        ["event"],
        &[
            (["adverts_sent"], c.adverts_sent),
            (["adverts_received"], c.adverts_received),
            (["requests_sent"], c.requests_sent),
            (["chunks_sent"], c.chunks_sent),
            (["chunks_received"], c.chunks_received),
            (["downloaded"], c.downloaded),
            (["published"], c.published),
            (["bad_files"], c.bad_files),
            (["bad_local"], c.bad_local),
            (["too_large"], c.too_large),
            (["malformed"], c.malformed),
            (["stray"], c.stray),
            (["aborted"], c.aborted),
            (["stalled"], c.stalled),
            (["refusals_sent"], c.refusals_sent),
            (["refusals_received"], c.refusals_received),
            (["store_errors"], c.store_errors),
        ],
    )?;
    f.counters(
        "tile_refused_payloads",
        "Payloads the tile refused, by service.",
        ["service"],
        &[
            (["file"], t.refused.file_refused),
            (["physics"], t.refused.physics_refused),
        ],
    )
}

/// A byte counter per direction (`NAME_bytes_total{dir=…}`).
fn write_bytes_per_dir(
    f: &mut Families<'_>,
    name: &str,
    help: &str,
    series: &[([&str; 1], u64)],
) -> fmt::Result {
    let mut m =
        f.0.encode_descriptor(name, help, Some(&Unit::Bytes), MetricType::Counter)?;
    for ([dir], v) in series {
        let set = [("dir", *dir)];
        ConstCounter::new(*v).encode(m.encode_family(&set)?)?;
    }
    Ok(())
}
