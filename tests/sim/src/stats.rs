//! Counters: what was sent (by message type, app or control), what the
//! network dropped and why, and how much work the simulator did.

use std::collections::BTreeMap;

use tessel_overlay::wire::MessageType;

use crate::link::LinkDrop;
use crate::nat::NatDrop;

/// Datagrams and bytes sent, by message type, with app packets apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams by type byte: index 1 to 5 as in [`MessageType`], 0 for any
    /// other (STUN included).
    pub datagrams: [u64; 6],
    /// Bytes (UDP payload) by type byte, indexed as `datagrams`.
    pub bytes: [u64; 6],
    /// Data datagrams that carried an app packet.
    pub app_datagrams: u64,
    /// Their bytes.
    pub app_bytes: u64,
}

impl Traffic {
    /// Counts one datagram; `app` if it carries an app packet.
    pub fn record(&mut self, payload: &[u8], app: bool) {
        // Tessel's messages have three zero bytes after the type; STUN's
        // (a Binding response starts 0x01 0x01) do not.
        let t = match payload.first() {
            Some(&b @ 1..=5) if payload.get(1..4) == Some(&[0, 0, 0]) => b as usize,
            _ => 0,
        };
        self.datagrams[t] += 1;
        self.bytes[t] += payload.len() as u64;
        if app {
            self.app_datagrams += 1;
            self.app_bytes += payload.len() as u64;
        }
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &Self) {
        for i in 0..6 {
            self.datagrams[i] += other.datagrams[i];
            self.bytes[i] += other.bytes[i];
        }
        self.app_datagrams += other.app_datagrams;
        self.app_bytes += other.app_bytes;
    }

    /// All datagrams.
    pub fn total_datagrams(&self) -> u64 {
        self.datagrams.iter().sum()
    }

    /// All bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }

    /// Datagrams that are not app packets: handshakes, hellos, keepalives, gossip.
    pub fn control_datagrams(&self) -> u64 {
        self.total_datagrams() - self.app_datagrams
    }

    /// Bytes that are not app packets.
    pub fn control_bytes(&self) -> u64 {
        self.total_bytes() - self.app_bytes
    }

    /// Handshake initiations sent.
    pub fn initiations(&self) -> u64 {
        self.datagrams[MessageType::HandshakeInit as usize]
    }

    /// Per type, `(name, datagrams, bytes)`, app data apart from control data.
    pub fn breakdown(&self) -> Vec<(&'static str, u64, u64)> {
        let names = ["other", "init", "response", "data", "hello", "hello-ack"];
        let mut v: Vec<_> = (0..6)
            .map(|i| (names[i], self.datagrams[i], self.bytes[i]))
            .collect();
        v[3] = (
            "data (control)",
            self.datagrams[3] - self.app_datagrams,
            self.bytes[3] - self.app_bytes,
        );
        v.push(("data (app)", self.app_datagrams, self.app_bytes));
        v.retain(|(_, n, _)| *n > 0);
        v
    }
}

/// Why the network lost a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetDrop {
    /// A link dropped it.
    Link(LinkDropKind),
    /// A NAT dropped it.
    Nat(NatDropKind),
    /// No host or NAT owns the destination.
    NoRoute,
    /// Sender and receiver are on different sides of a partition.
    Partition,
    /// The pair's path is cut.
    Cut,
    /// The destination host is down (crashed or stopped).
    HostDown,
    /// The destination moved away while the datagram was in flight.
    Moved,
    /// Its TTL ran out on the way (a hole-punching opener, as meant).
    TtlExpired,
}

/// [`LinkDrop`] with an order, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkDropKind {
    /// See [`LinkDrop::Down`].
    Down,
    /// See [`LinkDrop::TooBig`].
    TooBig,
    /// See [`LinkDrop::Lost`].
    Lost,
}

/// [`NatDrop`] with an order, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NatDropKind {
    /// See [`NatDrop::Blocked`].
    Blocked,
    /// See [`NatDrop::NoMapping`].
    NoMapping,
    /// See [`NatDrop::Filtered`].
    Filtered,
    /// See [`NatDrop::HairpinOff`].
    HairpinOff,
    /// See [`NatDrop::PortsExhausted`].
    PortsExhausted,
}

impl From<LinkDrop> for NetDrop {
    fn from(d: LinkDrop) -> Self {
        Self::Link(match d {
            LinkDrop::Down => LinkDropKind::Down,
            LinkDrop::TooBig => LinkDropKind::TooBig,
            LinkDrop::Lost => LinkDropKind::Lost,
        })
    }
}

impl From<NatDrop> for NetDrop {
    fn from(d: NatDrop) -> Self {
        Self::Nat(match d {
            NatDrop::Blocked => NatDropKind::Blocked,
            NatDrop::NoMapping => NatDropKind::NoMapping,
            NatDrop::Filtered => NatDropKind::Filtered,
            NatDrop::HairpinOff => NatDropKind::HairpinOff,
            NatDrop::PortsExhausted => NatDropKind::PortsExhausted,
        })
    }
}

/// Counters of a whole world.
#[derive(Debug, Clone, Default)]
pub struct WorldStats {
    /// Events run (datagram arrivals and node wakeups, stale ones included).
    pub events: u64,
    /// Node wakeups that ran `handle_timeout`.
    pub timeouts: u64,
    /// Datagrams handed to nodes.
    pub datagrams_in: u64,
    /// Sessions established (the nodes' `Connected` events).
    pub sessions: u64,
    /// Node starts, first ones and restarts.
    pub starts: u64,
    /// Host steps that ran ahead on several threads (`World::set_threads`).
    pub steps_ahead: u64,
    /// Lookahead windows whose steps ran ahead.
    pub windows_ahead: u64,
    /// Datagrams the network lost, by reason.
    pub drops: BTreeMap<NetDrop, u64>,
}

impl WorldStats {
    /// Counts one lost datagram.
    pub fn drop(&mut self, why: impl Into<NetDrop>) {
        *self.drops.entry(why.into()).or_default() += 1;
    }
}

/// `name count, name count, …` of a table of counters, as the reports print
/// them.
pub fn counts<K, V: std::fmt::Display>(
    table: &std::collections::BTreeMap<K, V>,
    name: impl Fn(&K) -> String,
) -> String {
    table
        .iter()
        .map(|(k, v)| format!("{} {v}", name(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_and_control_traffic_are_apart() {
        let mut t = Traffic::default();
        let typed = |ty: u8, len: usize| {
            let mut b = vec![ty; len];
            b[1..4].fill(0);
            b
        };
        t.record(&typed(1, 160), false);
        t.record(&typed(3, 32), false);
        t.record(&typed(3, 132), true);
        t.record(&[9; 10], false);
        // A STUN Binding response (0x0101) is no handshake initiation.
        t.record(&[1, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42], false);
        assert_eq!(t.total_datagrams(), 5);
        assert_eq!(t.control_datagrams(), 4);
        assert_eq!(t.control_bytes(), 160 + 32 + 10 + 8);
        assert_eq!(t.initiations(), 1);
        let b = t.breakdown();
        assert!(b.contains(&("data (control)", 1, 32)));
        assert!(b.contains(&("data (app)", 1, 132)));
    }

    #[test]
    fn a_stun_response_is_not_an_initiation() {
        let mut t = Traffic::default();
        // Binding success response: type 0x0101, length, magic cookie.
        let mut stun = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xA4, 0x42];
        stun.resize(32, 0);
        t.record(&stun, false);
        assert_eq!(t.initiations(), 0);
        assert_eq!(t.datagrams[0], 1);
    }
}
