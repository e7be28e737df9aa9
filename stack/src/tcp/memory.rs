//! The memory budget of TCP sockets: no peer can make the stack hold more
//! than [`StackConfig::memory_limit`] bytes of socket buffers, and no single
//! peer more than half of it, however many connections it opens to an
//! exposed port.
//!
//! A socket is charged, when it is made, for its two smoltcp buffers and the
//! two stream buffers it will have once connected; the charge is released
//! when the socket is removed. As a kernel does under memory pressure, new
//! sockets get smaller buffers once half the budget is in use: a sixty-fourth
//! of [`StackConfig::tcp_buffer`] and a sixteenth of
//! [`StackConfig::stream_buffer`] (not below the smallest sizes accepted).
//! With the defaults (4 MiB and 256 KiB in 256 MiB) that is about 15
//! sockets with full buffers and 800 more with 64 KiB windows; after that, no
//! socket at all.
//!
//! Listening sockets have no peer when they are made; the charge is put to
//! the peer's account once the socket is handshaking with it
//! ([`SocketMemory::assign`]), and a SYN from a peer whose account is full is
//! dropped before smoltcp sees it ([`SocketMemory::admits`]).

use std::collections::HashMap;
use std::net::IpAddr;

use smoltcp::iface::SocketHandle;

use crate::config::StackConfig;
use crate::limits;

/// Past `memory_limit / PRESSURE`, new sockets get small buffers.
const PRESSURE: usize = 2;
/// Under pressure, smoltcp buffers are `tcp_buffer / SMALL_TCP`.
const SMALL_TCP: usize = 64;
/// Under pressure, stream buffers are `stream_buffer / SMALL_STREAM`.
const SMALL_STREAM: usize = 16;
/// One peer may hold at most `memory_limit / PEER_SHARE`, so that others
/// always find room.
const PEER_SHARE: usize = 2;

/// The buffer sizes of one socket, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Buffers {
    /// Each of smoltcp's receive and send buffers.
    pub(crate) tcp: usize,
    /// Each of the stream's two pipes.
    pub(crate) stream: usize,
}

impl Buffers {
    /// What a socket with these buffers is charged.
    pub(crate) fn cost(self) -> usize {
        2 * (self.tcp + self.stream)
    }
}

/// What one socket is charged.
#[derive(Debug, Clone, Copy)]
struct Charge {
    buffers: Buffers,
    peer: Option<IpAddr>,
}

/// Bytes of socket buffers held, in total and per peer.
#[derive(Debug)]
pub(crate) struct SocketMemory {
    limit: usize,
    used: usize,
    charges: HashMap<SocketHandle, Charge>,
    by_peer: HashMap<IpAddr, usize>,
    /// What SYNs admitted in this turn of the run loop will cost their
    /// peers, until the sockets they reach are assigned (a burst of SYNs
    /// arrives before any is).
    provisional: HashMap<IpAddr, usize>,
}

impl SocketMemory {
    /// An empty budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            used: 0,
            charges: HashMap::new(),
            by_peer: HashMap::new(),
            provisional: HashMap::new(),
        }
    }

    /// Bytes charged now.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// The buffers of a new socket, or `None` if the budget has no room for
    /// one.
    pub(crate) fn buffers(&self, config: &StackConfig) -> Option<Buffers> {
        let full = Buffers {
            tcp: config.tcp_buffer,
            stream: config.stream_buffer,
        };
        let buffers = if self.used + full.cost() <= self.limit / PRESSURE {
            full
        } else {
            Buffers {
                tcp: (config.tcp_buffer / SMALL_TCP).max(limits::MIN_TCP_BUFFER),
                stream: (config.stream_buffer / SMALL_STREAM).max(limits::MIN_STREAM_BUFFER),
            }
        };
        (self.used + buffers.cost() <= self.limit).then_some(buffers)
    }

    /// Charges a new socket.
    pub(crate) fn charge(&mut self, handle: SocketHandle, buffers: Buffers) {
        self.used += buffers.cost();
        self.charges.insert(
            handle,
            Charge {
                buffers,
                peer: None,
            },
        );
    }

    /// The size of each stream pipe of a socket (`None` for a socket not
    /// charged).
    pub(crate) fn stream_buffer(&self, handle: SocketHandle) -> Option<usize> {
        self.charges
            .get(&handle)
            .map(|charge| charge.buffers.stream)
    }

    /// Puts a socket's charge to the account of the peer it now talks to;
    /// a socket already assigned keeps its peer.
    pub(crate) fn assign(&mut self, handle: SocketHandle, peer: IpAddr) {
        if let Some(charge) = self.charges.get_mut(&handle) {
            if charge.peer.is_none() {
                charge.peer = Some(peer);
                *self.by_peer.entry(peer).or_default() += charge.buffers.cost();
            }
        }
    }

    /// Whether a SYN from `peer` may open one more socket: its account,
    /// with what this turn's SYNs from it will cost, is below its share of
    /// the budget.
    pub(crate) fn admits(&self, peer: IpAddr) -> bool {
        let held = self.by_peer.get(&peer).copied().unwrap_or(0);
        let coming = self.provisional.get(&peer).copied().unwrap_or(0);
        held + coming < self.limit / PEER_SHARE
    }

    /// Counts, until the end of the turn, `bytes` for a SYN from `peer`.
    pub(crate) fn reserve(&mut self, peer: IpAddr, bytes: usize) {
        *self.provisional.entry(peer).or_default() += bytes;
    }

    /// The turn ended: the sockets SYNs reached are assigned from now on.
    pub(crate) fn end_turn(&mut self) {
        self.provisional.clear();
    }

    /// Releases a removed socket's charge.
    pub(crate) fn release(&mut self, handle: SocketHandle) {
        let Some(charge) = self.charges.remove(&handle) else {
            return;
        };
        let bytes = charge.buffers.cost();
        self.used -= bytes;
        if let Some(peer) = charge.peer {
            if let Some(held) = self.by_peer.get_mut(&peer) {
                *held -= bytes;
                if *held == 0 {
                    self.by_peer.remove(&peer);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::iface::SocketSet;
    use smoltcp::socket::udp;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MIB: usize = 1 << 20;

    fn config(limit: usize) -> StackConfig {
        let mut config = StackConfig::new(Ipv6Addr::LOCALHOST, Ipv4Addr::LOCALHOST);
        config.memory_limit = limit;
        config
    }

    /// Distinct socket handles, as the stack's socket set hands them out.
    fn handles(n: usize) -> Vec<SocketHandle> {
        let mut set = SocketSet::new(Vec::new());
        (0..n)
            .map(|_| {
                let buffer = || udp::PacketBuffer::new(Vec::new(), Vec::new());
                set.add(udp::Socket::new(buffer(), buffer()))
            })
            .collect()
    }

    #[test]
    fn buffers_shrink_under_pressure_and_never_exceed_the_budget() {
        let config = config(256 * MIB);
        let mut memory = SocketMemory::new(config.memory_limit);
        let mut all = Vec::new();
        for handle in handles(5000) {
            let Some(buffers) = memory.buffers(&config) else {
                break;
            };
            memory.charge(handle, buffers);
            assert!(memory.used() <= config.memory_limit);
            all.push(buffers);
        }
        let full = all.iter().filter(|b| b.tcp == config.tcp_buffer).count();
        assert_eq!(all[0].stream, config.stream_buffer);
        assert!(
            (14..=16).contains(&full),
            "{full} sockets with full buffers"
        );
        assert!(all[full..]
            .iter()
            .all(|b| b.tcp == 64 << 10 && b.stream == 16 << 10));
        assert!(all.len() > 800, "many sockets fit: {}", all.len());
        assert!(memory.buffers(&config).is_none(), "then none");
    }

    #[test]
    fn one_peer_holds_at_most_half() {
        let config = config(64 * MIB);
        let mut memory = SocketMemory::new(config.memory_limit);
        let greedy = IpAddr::from([100, 64, 0, 9]);
        let other = IpAddr::from([100, 64, 0, 10]);
        let mut held = 0;
        for handle in handles(1000) {
            if !memory.admits(greedy) {
                break;
            }
            let buffers = memory.buffers(&config).expect("room left");
            memory.charge(handle, buffers);
            memory.assign(handle, greedy);
            held += 1;
        }
        let share = memory.by_peer[&greedy];
        let full = 2 * (config.tcp_buffer + config.stream_buffer);
        assert!(share >= config.memory_limit / 2);
        assert!(share < config.memory_limit / 2 + full);
        assert!(held > 1);
        assert!(memory.admits(other), "another peer still gets in");
        assert!(memory.buffers(&config).is_some());
    }

    #[test]
    fn a_burst_of_syns_from_one_peer_counts_within_the_turn() {
        let config = config(64 * MIB);
        let mut memory = SocketMemory::new(config.memory_limit);
        let peer = IpAddr::from([100, 64, 0, 9]);
        let cost = memory.buffers(&config).unwrap().cost();
        let mut admitted = 0;
        while memory.admits(peer) {
            memory.reserve(peer, cost);
            admitted += 1;
        }
        assert_eq!(admitted, (config.memory_limit / 2).div_ceil(cost));
        assert!(memory.admits(IpAddr::from([100, 64, 0, 10])));
        memory.end_turn();
        assert!(memory.admits(peer), "nothing assigned yet");
    }

    #[test]
    fn release_returns_the_charge_to_the_budget_and_the_peer() {
        let config = config(64 * MIB);
        let mut memory = SocketMemory::new(config.memory_limit);
        let peer = IpAddr::from([100, 64, 0, 9]);
        let hs = handles(2);
        let small = Buffers {
            tcp: 400,
            stream: 100,
        };
        let smaller = Buffers {
            tcp: 200,
            stream: 50,
        };
        memory.charge(hs[0], small);
        memory.charge(hs[1], smaller);
        memory.assign(hs[0], peer);
        memory.assign(hs[0], IpAddr::from([100, 64, 0, 1]));
        assert_eq!(memory.used(), 1500);
        assert_eq!(memory.by_peer[&peer], 1000);
        assert_eq!(memory.stream_buffer(hs[1]), Some(50));
        memory.release(hs[0]);
        memory.release(hs[0]);
        assert_eq!(memory.used(), 500);
        assert!(memory.by_peer.is_empty());
        memory.release(hs[1]);
        assert_eq!(memory.used(), 0);
        assert_eq!(memory.stream_buffer(hs[1]), None);
    }
}
