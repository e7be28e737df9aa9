//! Which stream connections (TCP, see `Node::attach_stream`) a handshake
//! completed over: the driver trusts a connection only then, since a
//! datagram the node merely took (a hello, an initiation) proves nothing
//! about the far end.

use std::collections::BTreeSet;

use super::traversal::STREAM_IDS_FROM;
use super::Node;

/// Stream sockets over which a handshake completed and the driver has not
/// asked yet (at most one per stream ID).
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamHandshakes(BTreeSet<u16>);

impl Node {
    /// Notes that a handshake completed over our socket `socket`, if it is
    /// a stream.
    pub(crate) fn note_stream_handshake(&mut self, socket: u16) {
        if socket >= STREAM_IDS_FROM {
            self.stream_handshakes.0.insert(socket);
        }
    }

    /// Whether a handshake completed over the stream connection `id` since
    /// the last call for it (the driver asks after each datagram, and when
    /// it gives the ID to a new connection, to clear it).
    pub fn take_stream_handshake(&mut self, id: u16) -> bool {
        self.stream_handshakes.0.remove(&id)
    }
}
