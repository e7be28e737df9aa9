//! The node's extra UDP sockets. A NAT gives each local socket its own
//! mapping, so extra sockets are how a node learns how its NAT allocates
//! ports ([`CHECK_SOCKETS`]) and how it opens many mappings at
//! once toward a member whose NAT it cannot predict (the birthday
//! technique: [`BIRTHDAY_SOCKETS`] sockets).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Instant;

use crate::node::{Event, Node};

/// The sockets of the NAT self-check.
pub(crate) const CHECK_SOCKETS: [u16; 2] = [1, 2];
/// How many sockets a birthday punch opens.
pub(crate) const BIRTHDAY_SOCKETS: u16 = 256;

/// IDs of the birthday sockets.
pub(crate) fn birthday_ids() -> RangeInclusive<u16> {
    3..=2 + BIRTHDAY_SOCKETS
}

/// First ID of the sockets that the driver opens itself (stream
/// connections, see [`Node::attach_stream`]); the node's own extra sockets
/// stay below it.
pub const STREAM_IDS_FROM: u16 = 0x8000;

/// Which extra sockets are open.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtraSockets {
    /// Opened at the node's request.
    open: BTreeSet<u16>,
    /// Opened by the driver: stream connections, with their far end.
    streams: BTreeSet<u16>,
}

impl ExtraSockets {
    /// Whether socket `id` is open.
    pub(crate) fn is_open(&self, id: u16) -> bool {
        self.open.contains(&id) || self.streams.contains(&id)
    }
}

impl Node {
    /// The driver opened a connection that carries datagrams (a TCP
    /// connection, for networks that drop UDP) as socket `id` (at least
    /// [`STREAM_IDS_FROM`]) to or from `remote`. What arrives on it goes to
    /// [`Node::handle_extra_datagram`] with that ID; members reached through
    /// it are answered through it. If `remote` is a `--peer` address, the
    /// node greets it through the connection at once.
    pub fn attach_stream(&mut self, now: Instant, id: u16, remote: SocketAddr) {
        if id < STREAM_IDS_FROM {
            return;
        }
        self.traversal.extra.streams.insert(id);
        if self.bootstrap.iter().any(|b| b.addr == remote) {
            let stamp = crate::wire::hello::stamp_of(self.unix_ms_at(now));
            let mut msg = crate::wire::hello::emit(false, self.id.as_bytes(), stamp);
            self.keys.mac_to_any().seal(&mut msg);
            self.queue_datagram(id, remote, msg.to_vec());
            // During a grace period, one under the old key too.
            if let Some(old) = self.retiring_hello_mac(now) {
                old.seal(&mut msg);
                self.queue_datagram(id, remote, msg.to_vec());
            }
        }
    }

    /// The connection `id` closed: members reached through it fall back to
    /// the main socket (and, when that cannot reach them, to other paths).
    pub fn detach_stream(&mut self, id: u16) {
        if !self.traversal.extra.streams.remove(&id) {
            return;
        }
        let through: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.socket == id)
            .map(|p| p.id)
            .collect();
        for pid in through {
            if let Some(p) = self.peers.get_mut(&pid) {
                p.socket = 0;
            }
        }
    }

    /// Asks the driver to open the sockets of `ids` that are not open yet.
    pub(crate) fn open_extra(&mut self, ids: impl IntoIterator<Item = u16>) {
        let new: Vec<u16> = ids
            .into_iter()
            .filter(|id| self.traversal.extra.open.insert(*id))
            .collect();
        if !new.is_empty() {
            self.events.push_back(Event::OpenExtraSockets(new));
        }
    }

    /// Closes every extra socket that no session, self-check or punch uses.
    pub(crate) fn close_unused_extra(&mut self) {
        if self.traversal.extra.open.is_empty() {
            return;
        }
        // Only the node's own sockets: streams belong to the driver.
        let mut keep: BTreeSet<u16> = self.peers.values().map(|p| p.socket).collect();
        if self.traversal.check.running() {
            keep.extend(CHECK_SOCKETS);
        }
        if self.traversal.punches.values().any(|p| p.birthday()) {
            keep.extend(birthday_ids());
        }
        let close: Vec<u16> = self
            .traversal
            .extra
            .open
            .iter()
            .copied()
            .filter(|id| !keep.contains(id))
            .collect();
        if close.is_empty() {
            return;
        }
        for id in &close {
            self.traversal.extra.open.remove(id);
        }
        self.events.push_back(Event::CloseExtraSockets(close));
    }
}
