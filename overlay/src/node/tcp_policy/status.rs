//! The TCP transport as `tessel status` shows it (the `tcp` object of the
//! status JSON), as its policy ([`super::Policy::status`]) and the shell
//! fill it in.

use serde::{Deserialize, Serialize};

/// The TCP transport: its listener, connections, links and counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpStatus {
    /// Whether the transport is on (`tessel up --no-tcp` turns it off).
    pub enabled: bool,
    /// The address it accepts connections on, if it listens.
    pub listen: Option<String>,
    /// Open connections, dialed and accepted.
    pub connections: Vec<TcpConnectionStatus>,
    /// The `--peer` addresses this node dials when UDP gets it nowhere.
    pub links: Vec<TcpLinkStatus>,
    /// What happened so far.
    pub counters: TcpCounters,
}

/// One open connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpConnectionStatus {
    /// The socket ID the node knows it by.
    pub id: u16,
    /// The far end.
    pub remote: String,
    /// `dialed` (by this node) or `accepted`.
    pub direction: String,
    /// Seconds since it opened.
    pub age_secs: f64,
    /// Seconds since the last datagram either way.
    pub idle_secs: f64,
    /// Datagrams received.
    pub rx_datagrams: u64,
    /// Datagrams sent.
    pub tx_datagrams: u64,
    /// Datagram bytes received (without framing).
    pub rx_bytes: u64,
    /// Datagram bytes sent (without framing).
    pub tx_bytes: u64,
}

/// One `--peer` address, and whether this node wants a connection to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpLinkStatus {
    /// The `--peer` address.
    pub remote: String,
    /// `unused` (UDP suffices), `connecting`, `up`, or `waiting` (to
    /// reconnect, after `retry_in_secs`).
    pub state: String,
    /// Seconds until the next attempt, while waiting.
    pub retry_in_secs: Option<f64>,
}

/// Counters of the TCP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpCounters {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused because the most a node accepts (256) were open.
    pub refused: u64,
    /// Connections refused because as many as one address may hold (8)
    /// were open from the same address.
    #[serde(default)]
    pub refused_per_address: u64,
    /// Connections dialed.
    pub dials: u64,
    /// Dials that failed (refused, unreachable, timed out).
    pub dial_failures: u64,
    /// Connections closed because their first datagram was not the
    /// protocol's (the node dropped it).
    pub closed_rejected: u64,
    /// Connections closed because of a bad frame (an empty datagram).
    pub closed_bad_frame: u64,
    /// Connections closed because no handshake completed over them in
    /// time after they opened.
    pub closed_silent: u64,
    /// Connections closed because no datagram crossed them for a while.
    pub closed_idle: u64,
    /// Dialed connections closed because the member answers over UDP.
    pub closed_udp_works: u64,
    /// Connections closed by the far end or by an error.
    pub closed_by_peer: u64,
    /// Datagrams for a connection that was not open, or whose send queue
    /// was full (lost, as UDP would lose them).
    pub send_dropped: u64,
}

impl TcpStatus {
    /// Lines for `tessel status`.
    pub fn lines(&self) -> Vec<String> {
        if !self.enabled {
            return vec!["tcp      off".to_string()];
        }
        let mut out = vec![format!(
            "tcp      {}  {} connections",
            self.listen
                .as_deref()
                .map_or("not listening".to_string(), |l| format!("listening on {l}")),
            self.connections.len()
        )];
        for c in &self.connections {
            out.push(format!(
                "         {} {}  {:.0}s old, idle {:.0}s  rx {} datagrams  tx {} datagrams",
                c.direction, c.remote, c.age_secs, c.idle_secs, c.rx_datagrams, c.tx_datagrams
            ));
        }
        for l in self.links.iter().filter(|l| l.state != "unused") {
            let retry = l
                .retry_in_secs
                .map_or(String::new(), |s| format!(" (retry in {s:.0}s)"));
            out.push(format!("         link to {} {}{retry}", l.remote, l.state));
        }
        let c = &self.counters;
        let closed = c.closed_rejected + c.closed_bad_frame + c.closed_silent;
        let refused = c.refused + c.refused_per_address;
        if closed + refused > 0 {
            out.push(format!(
                "         refused {refused}, closed for bad input {closed}"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_for_tessel_status() {
        assert_eq!(TcpStatus::default().lines(), vec!["tcp      off"]);
        let s = TcpStatus {
            enabled: true,
            listen: Some("[::]:9740".into()),
            connections: vec![TcpConnectionStatus {
                id: 0x8000,
                remote: "198.51.100.1:9740".into(),
                direction: "dialed".into(),
                age_secs: 61.2,
                idle_secs: 0.4,
                rx_datagrams: 12,
                tx_datagrams: 10,
                rx_bytes: 1200,
                tx_bytes: 1000,
            }],
            links: vec![
                TcpLinkStatus {
                    remote: "198.51.100.1:9740".into(),
                    state: "up".into(),
                    retry_in_secs: None,
                },
                TcpLinkStatus {
                    remote: "192.0.2.1:9740".into(),
                    state: "unused".into(),
                    retry_in_secs: None,
                },
                TcpLinkStatus {
                    remote: "192.0.2.2:9740".into(),
                    state: "waiting".into(),
                    retry_in_secs: Some(3.6),
                },
            ],
            counters: TcpCounters {
                refused: 2,
                closed_silent: 1,
                ..TcpCounters::default()
            },
        };
        assert_eq!(
            s.lines(),
            vec![
                "tcp      listening on [::]:9740  1 connections",
                "         dialed 198.51.100.1:9740  61s old, idle 0s  rx 12 datagrams  tx 10 datagrams",
                "         link to 198.51.100.1:9740 up",
                "         link to 192.0.2.2:9740 waiting (retry in 4s)",
                "         refused 2, closed for bad input 1",
            ]
        );
    }
}
