//! The node's extra UDP sockets. A NAT gives each local socket its own
//! mapping, so extra sockets are how a node learns how its NAT allocates
//! ports ([`CHECK_SOCKETS`]) and how it opens many mappings at
//! once toward a member whose NAT it cannot predict (the birthday
//! technique: [`BIRTHDAY_SOCKETS`] sockets).

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use super::{Members, Output, Traversal};

/// The sockets of the NAT self-check.
pub(crate) const CHECK_SOCKETS: [u16; 2] = [1, 2];
/// How many sockets a birthday punch opens.
pub(crate) const BIRTHDAY_SOCKETS: u16 = 256;

/// IDs of the birthday sockets.
pub(crate) fn birthday_ids() -> RangeInclusive<u16> {
    3..=2 + BIRTHDAY_SOCKETS
}

/// First ID of the sockets that the driver opens itself (stream
/// connections, see [`crate::node::Node::attach_stream`]); the node's own extra sockets
/// stay below it.
pub const STREAM_IDS_FROM: u16 = 0x8000;

/// Which extra sockets are open.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtraSockets {
    /// Opened at the node's request.
    open: BTreeSet<u16>,
    /// Opened by the driver: stream connections.
    pub(crate) streams: BTreeSet<u16>,
}

impl ExtraSockets {
    /// Whether socket `id` is open.
    pub(crate) fn is_open(&self, id: u16) -> bool {
        self.open.contains(&id) || self.streams.contains(&id)
    }
}

impl Traversal {
    /// Asks for the sockets of `ids` that are not open yet.
    pub(crate) fn open_extra(&mut self, ids: impl IntoIterator<Item = u16>) {
        let new: Vec<u16> = ids
            .into_iter()
            .filter(|id| self.extra.open.insert(*id))
            .collect();
        if !new.is_empty() {
            self.out.push_back(Output::OpenSockets(new));
        }
    }

    /// Closes every extra socket that no session, self-check or punch uses.
    pub(crate) fn close_unused_extra(&mut self, members: &impl Members) {
        if self.extra.open.is_empty() {
            return;
        }
        // Only the node's own sockets: streams belong to the driver.
        let mut keep = members.sockets_in_use();
        if self.check.running() {
            keep.extend(CHECK_SOCKETS);
        }
        if self.punches.values().any(|p| p.birthday()) {
            keep.extend(birthday_ids());
        }
        keep.extend(
            self.punches
                .values()
                .flat_map(|p| p.reading.sockets().into_iter().flatten()),
        );
        let close: Vec<u16> = self
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
            self.extra.open.remove(id);
        }
        self.out.push_back(Output::CloseSockets(close));
    }
}
