//! App traffic and its ledger: every app packet carries a unique ID and a
//! checksum, and the ledger remembers who sent what to whom, so that every
//! delivery can be checked: sent by the node whose address it claims,
//! unmodified, to the node that receives it, at most once.
//!
//! An app packet is a minimal IPv6 packet (next header 59, "no next header")
//! whose payload is:
//!
//! ```text
//! "TSIM" | id (u64) | from host (u32) | to host (u32) | filler | FNV-1a 64 of all before (u64)
//! ```

use std::net::Ipv6Addr;

use rand_core::RngCore;

use crate::ids::HostId;
use crate::time::SimTime;

/// Bytes of the IPv6 header.
pub const IPV6_HEADER: usize = 40;
const MAGIC: &[u8; 4] = b"TSIM";
/// Smallest app packet: header, magic, id, hosts, checksum.
pub const MIN_APP_PACKET: usize = IPV6_HEADER + 4 + 8 + 4 + 4 + 8;

/// One app packet, as numbered by the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(pub u64);

/// A broken promise of the data path, found by the ledger or the world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A delivered packet that no app sent.
    #[error("{at}: {host} delivered a packet that no app sent")]
    Unknown {
        /// When.
        at: SimTime,
        /// The receiving host.
        host: HostId,
    },
    /// A delivered packet whose bytes differ from what was sent.
    #[error("{at}: {host} delivered packet {id} modified")]
    Modified {
        /// When.
        at: SimTime,
        /// The receiving host.
        host: HostId,
        /// The packet.
        id: u64,
    },
    /// A delivered packet whose source address is not its sender's.
    #[error("{at}: packet {id} from {sender} claims source {claimed}")]
    WrongSender {
        /// When.
        at: SimTime,
        /// The packet.
        id: u64,
        /// Who sent it.
        sender: HostId,
        /// The source address it carries.
        claimed: Ipv6Addr,
    },
    /// A packet delivered to a host it was not sent to.
    #[error("{at}: packet {id} for {intended} delivered to {host}")]
    WrongReceiver {
        /// When.
        at: SimTime,
        /// The packet.
        id: u64,
        /// Its destination.
        intended: HostId,
        /// Who delivered it.
        host: HostId,
    },
    /// A packet delivered more than once.
    #[error("{at}: packet {id} delivered again to {host}")]
    Duplicate {
        /// When.
        at: SimTime,
        /// The packet.
        id: u64,
        /// The receiving host.
        host: HostId,
    },
    /// A node kept asking to be woken at the same instant.
    #[error("{at}: {host} asked to be woken at the same instant {count} times in a row")]
    TimerLivelock {
        /// When.
        at: SimTime,
        /// The host.
        host: HostId,
        /// Wakeups at that instant.
        count: u32,
    },
}

/// What the ledger knows of one sent packet.
#[derive(Debug, Clone)]
struct Sent {
    from: HostId,
    to: HostId,
    checksum: u64,
    sent_at: SimTime,
    delivered_at: Option<SimTime>,
}

/// The record of all app packets.
#[derive(Debug, Default)]
pub struct Ledger {
    sent: Vec<Sent>,
    delivered: u64,
    violations: Vec<Violation>,
}

impl Ledger {
    /// Builds an app packet of `len` bytes (at least [`MIN_APP_PACKET`]) from
    /// `from` (overlay address `src`) to `to` (`dst`), and records it.
    pub fn create(
        &mut self,
        now: SimTime,
        (from, src): (HostId, Ipv6Addr),
        (to, dst): (HostId, Ipv6Addr),
        len: usize,
        rng: &mut impl RngCore,
    ) -> (PacketId, Vec<u8>) {
        let len = len.max(MIN_APP_PACKET);
        let id = self.sent.len() as u64;
        let mut p = vec![0u8; len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((len - IPV6_HEADER) as u16).to_be_bytes());
        p[6] = 59;
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        let body = &mut p[IPV6_HEADER..];
        body[..4].copy_from_slice(MAGIC);
        body[4..12].copy_from_slice(&id.to_le_bytes());
        body[12..16].copy_from_slice(&from.0.to_le_bytes());
        body[16..20].copy_from_slice(&to.0.to_le_bytes());
        let fill_end = body.len() - 8;
        rng.fill_bytes(&mut body[20..fill_end]);
        let checksum = fnv1a(&p[..len - 8]);
        p[len - 8..].copy_from_slice(&checksum.to_le_bytes());
        self.sent.push(Sent {
            from,
            to,
            checksum,
            sent_at: now,
            delivered_at: None,
        });
        (PacketId(id), p)
    }

    /// Checks a packet that `host` delivered to its app at `now`;
    /// `ipv6_of` gives a host's overlay address. Returns whether it passed.
    pub fn deliver(
        &mut self,
        now: SimTime,
        host: HostId,
        packet: &[u8],
        ipv6_of: impl Fn(HostId) -> Ipv6Addr,
    ) -> bool {
        let Some(id) = app_id(packet) else {
            self.violations.push(Violation::Unknown { at: now, host });
            return false;
        };
        let Some(sent) = self.sent.get_mut(id as usize) else {
            self.violations.push(Violation::Unknown { at: now, host });
            return false;
        };
        let n = packet.len();
        let carried = u64::from_le_bytes(packet[n - 8..].try_into().expect("8 bytes"));
        let v = if fnv1a(&packet[..n - 8]) != carried || carried != sent.checksum {
            Some(Violation::Modified { at: now, host, id })
        } else if packet[8..24] != ipv6_of(sent.from).octets() {
            let claimed: [u8; 16] = packet[8..24].try_into().expect("16 bytes");
            Some(Violation::WrongSender {
                at: now,
                id,
                sender: sent.from,
                claimed: Ipv6Addr::from(claimed),
            })
        } else if sent.to != host {
            Some(Violation::WrongReceiver {
                at: now,
                id,
                intended: sent.to,
                host,
            })
        } else if sent.delivered_at.is_some() {
            Some(Violation::Duplicate { at: now, id, host })
        } else {
            None
        };
        match v {
            Some(v) => {
                self.violations.push(v);
                false
            }
            None => {
                sent.delivered_at = Some(now);
                self.delivered += 1;
                true
            }
        }
    }

    /// Records a violation found elsewhere.
    pub fn violation(&mut self, v: Violation) {
        self.violations.push(v);
    }

    /// When packet `id` was delivered, if it was.
    pub fn delivered_at(&self, id: PacketId) -> Option<SimTime> {
        self.sent.get(id.0 as usize)?.delivered_at
    }

    /// When packet `id` was sent.
    pub fn sent_at(&self, id: PacketId) -> Option<SimTime> {
        self.sent.get(id.0 as usize).map(|s| s.sent_at)
    }

    /// App packets sent.
    pub fn sent_count(&self) -> u64 {
        self.sent.len() as u64
    }

    /// App packets delivered (correctly).
    pub fn delivered_count(&self) -> u64 {
        self.delivered
    }

    /// Everything that went wrong.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
}

/// The ID of an app packet, if `packet` looks like one.
fn app_id(packet: &[u8]) -> Option<u64> {
    if packet.len() < MIN_APP_PACKET || packet[0] >> 4 != 6 {
        return None;
    }
    let body = &packet[IPV6_HEADER..];
    if &body[..4] != MAGIC {
        return None;
    }
    Some(u64::from_le_bytes(body[4..12].try_into().ok()?))
}

/// FNV-1a, 64 bits: a small deterministic checksum.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    fn setup() -> (Ledger, Vec<u8>, [Ipv6Addr; 3]) {
        let addrs: [Ipv6Addr; 3] = ["fd00::1", "fd00::2", "fd00::3"].map(|s| s.parse().unwrap());
        let mut l = Ledger::default();
        let mut rng = stream(1, Stream::Traffic);
        let (_, p) = l.create(
            SimTime::ZERO,
            (HostId(0), addrs[0]),
            (HostId(1), addrs[1]),
            200,
            &mut rng,
        );
        (l, p, addrs)
    }

    #[test]
    fn a_good_delivery_passes_once() {
        let (mut l, p, addrs) = setup();
        assert_eq!(p.len(), 200);
        let of = |h: HostId| addrs[h.index()];
        assert!(l.deliver(SimTime::ZERO, HostId(1), &p, of));
        assert_eq!(l.delivered_at(PacketId(0)), Some(SimTime::ZERO));
        assert!(!l.deliver(SimTime::ZERO, HostId(1), &p, of));
        assert!(matches!(l.violations(), [Violation::Duplicate { .. }]));
    }

    #[test]
    fn modified_misattributed_and_misdelivered_packets_are_caught() {
        let (mut l, p, addrs) = setup();
        let of = |h: HostId| addrs[h.index()];
        let mut m = p.clone();
        m[100] ^= 1;
        assert!(!l.deliver(SimTime::ZERO, HostId(1), &m, of));
        let mut s = p.clone();
        s[8..24].copy_from_slice(&addrs[2].octets());
        assert!(!l.deliver(SimTime::ZERO, HostId(1), &s, of));
        assert!(!l.deliver(SimTime::ZERO, HostId(2), &p, of));
        assert!(!l.deliver(SimTime::ZERO, HostId(1), b"not an app packet", of));
        assert_eq!(l.violations().len(), 4);
        assert!(matches!(l.violations()[0], Violation::Modified { .. }));
        // A changed source address also breaks the checksum.
        assert!(matches!(l.violations()[1], Violation::Modified { .. }));
        assert!(matches!(l.violations()[2], Violation::WrongReceiver { .. }));
        assert!(matches!(l.violations()[3], Violation::Unknown { .. }));
        assert_eq!(l.delivered_count(), 0);
    }

    #[test]
    fn a_packet_claiming_another_members_address_is_caught() {
        let (mut l, _, addrs) = setup();
        let of = |h: HostId| addrs[h.index()];
        let mut rng = stream(2, Stream::Traffic);
        // Host 0 sends a packet that claims host 2's address.
        let (_, p) = l.create(
            SimTime::ZERO,
            (HostId(0), addrs[2]),
            (HostId(1), addrs[1]),
            100,
            &mut rng,
        );
        assert!(!l.deliver(SimTime::ZERO, HostId(1), &p, of));
        assert!(matches!(l.violations(), [Violation::WrongSender { .. }]));
    }
}
