//! `ping` from inside a namespace, and what it reported.

use std::net::IpAddr;

use crate::error::{Error, Result, ResultExt};
use crate::netns::Netns;

/// What `ping -q` reported.
#[derive(Debug, Clone, PartialEq)]
pub struct PingStats {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Shortest round trip, if any reply came.
    pub min_rtt_ms: Option<f64>,
    /// Mean round trip, if any reply came.
    pub avg_rtt_ms: Option<f64>,
}

/// `-6` or `-4`, as `ping` (and others) take it for `addr`.
pub fn family_flag(addr: IpAddr) -> &'static str {
    if addr.is_ipv6() {
        "-6"
    } else {
        "-4"
    }
}

/// `ping -c <count> -i <interval> -W 1 -q <to>` from `from`, whatever its
/// exit status (lost replies may be the point); fails only if ping printed
/// no summary.
pub fn ping_stats(from: &Netns, to: IpAddr, count: u32, interval: &str) -> Result<PingStats> {
    let out = from.exec(&[
        "ping",
        family_flag(to),
        "-q",
        "-c",
        &count.to_string(),
        "-i",
        interval,
        "-W",
        "1",
        &to.to_string(),
    ])?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    parse_summary(&text).during(|| format!("ping from {} to {to}", from.name()))
}

/// Parses the summary lines of `ping -q`:
/// `N packets transmitted, M received, …` and
/// `rtt min/avg/max/mdev = 30.1/31.2/34.1/0.5 ms`.
pub fn parse_summary(text: &str) -> Result<PingStats> {
    let unreadable = || Error::Unreadable {
        what: "ping's summary".to_owned(),
        text: text.to_owned(),
    };
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .ok_or_else(unreadable)?;
    let count_before = |word: &str| -> Result<u32> {
        line.split(word)
            .next()
            .and_then(|before| before.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .ok_or_else(unreadable)
    };
    let rtt: Vec<f64> = text
        .lines()
        .find(|l| l.starts_with("rtt"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.split(" ms").next())
        .map(|v| v.trim().split('/').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default();
    Ok(PingStats {
        sent: count_before(" packets transmitted")?,
        received: count_before(" received")?,
        min_rtt_ms: rtt.first().copied(),
        avg_rtt_ms: rtt.get(1).copied(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_summary;

    #[test]
    fn parses_ping_summaries() {
        let s = parse_summary(
            "--- 198.51.100.1 ping statistics ---\n\
             200 packets transmitted, 141 received, 29.5% packet loss, time 1990ms\n\
             rtt min/avg/max/mdev = 30.120/31.198/34.137/0.541 ms, pipe 3\n",
        )
        .unwrap();
        assert_eq!((s.sent, s.received), (200, 141));
        assert_eq!((s.min_rtt_ms, s.avg_rtt_ms), (Some(30.120), Some(31.198)));
        let none = parse_summary(
            "3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2003ms\n",
        )
        .unwrap();
        assert_eq!((none.received, none.avg_rtt_ms), (0, None));
        assert!(parse_summary("ping: connect: Network is unreachable").is_err());
    }
}
