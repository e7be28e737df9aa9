//! The UDP probe's wire format, shared by the `udp-probe` binary and the
//! harness.
//!
//! A client asks a reflector socket with `tessel-probe/1 ask NONCE VIA`,
//! where `VIA` is `-` (answer from the socket that received the request) or
//! a comma-separated list of the reflector's socket indexes to answer from
//! instead. Each answer is `tessel-probe/1 seen NONCE INDEX ADDR:PORT`: the
//! source address the receiving socket saw (the client's mapped address,
//! as STUN reports it) and the index of the socket that sent the answer.
//! Answering from another port or another address is how the probe tests
//! a NAT's filtering: that packet is unsolicited from the NAT's view.

use std::net::SocketAddr;

/// First word of every probe datagram.
pub const MAGIC: &str = "tessel-probe/1";

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Matches answers to requests.
    pub nonce: u64,
    /// Reflector sockets to answer from; empty: the receiving socket.
    pub via: Vec<usize>,
}

/// A reflector's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The nonce of the request answered.
    pub nonce: u64,
    /// Index of the reflector socket that sent this answer.
    pub index: usize,
    /// The request's source address as the reflector saw it.
    pub mapped: SocketAddr,
}

impl Ask {
    /// The datagram for this request.
    pub fn encode(&self) -> Vec<u8> {
        let via = if self.via.is_empty() {
            "-".to_owned()
        } else {
            join(&self.via)
        };
        format!("{MAGIC} ask {} {via}", self.nonce).into_bytes()
    }

    /// Parses a request datagram; `None` if it is not one.
    pub fn decode(datagram: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(datagram).ok()?;
        let mut w = text.split(' ');
        if (w.next()?, w.next()?) != (MAGIC, "ask") {
            return None;
        }
        let nonce = w.next()?.parse().ok()?;
        let via = match w.next()? {
            "-" => Vec::new(),
            list => list
                .split(',')
                .map(|i| i.parse().ok())
                .collect::<Option<_>>()?,
        };
        w.next().is_none().then_some(Self { nonce, via })
    }
}

impl Seen {
    /// The datagram for this answer.
    pub fn encode(&self) -> Vec<u8> {
        format!("{MAGIC} seen {} {} {}", self.nonce, self.index, self.mapped).into_bytes()
    }

    /// Parses an answer datagram; `None` if it is not one.
    pub fn decode(datagram: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(datagram).ok()?;
        let mut w = text.split(' ');
        if (w.next()?, w.next()?) != (MAGIC, "seen") {
            return None;
        }
        let seen = Self {
            nonce: w.next()?.parse().ok()?,
            index: w.next()?.parse().ok()?,
            mapped: w.next()?.parse().ok()?,
        };
        w.next().is_none().then_some(seen)
    }
}

/// `1,2,3`.
pub fn join(list: &[usize]) -> String {
    list.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for via in [vec![], vec![2], vec![0, 1, 2]] {
            let ask = Ask { nonce: 42, via };
            assert_eq!(Ask::decode(&ask.encode()), Some(ask));
        }
        let seen = Seen {
            nonce: 7,
            index: 1,
            mapped: "203.0.113.1:40000".parse().unwrap(),
        };
        assert_eq!(Seen::decode(&seen.encode()), Some(seen));
    }

    #[test]
    fn rejects_other_datagrams() {
        assert_eq!(Ask::decode(b"hello"), None);
        assert_eq!(Ask::decode(b"tessel-probe/1 seen 1 0 1.2.3.4:5"), None);
        assert_eq!(Ask::decode(b"tessel-probe/1 ask 1 x"), None);
        assert_eq!(Seen::decode(b"tessel-probe/1 seen 1 0 nope"), None);
        assert_eq!(Seen::decode(b"tessel-probe/1 ask 1 -"), None);
    }
}
