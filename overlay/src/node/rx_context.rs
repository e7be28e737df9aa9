//! Where the datagram being handled came from, besides its UDP source: the
//! socket it arrived on, and for a datagram that came through a relay, who
//! handed it over. Passed explicitly to every receive handler that answers
//! "the way it came" or judges a path.

use crate::identity::NodeId;

/// How the datagram being handled reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RxContext {
    /// Our socket it arrived on: 0 for the main one, else an extra socket's
    /// or a stream connection's ID. A relayed datagram keeps the socket its
    /// relay frame arrived on.
    pub(crate) socket: u16,
    /// Set when the datagram came out of a relay frame addressed to us.
    pub(crate) relayed: Option<Relayed>,
}

/// The relay frame a datagram came out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relayed {
    /// The member whose session carried the frame to us.
    pub(crate) hop: NodeId,
    /// The sender the frame names (unchecked: only the end-to-end
    /// handshake or session proves it).
    pub(crate) src: [u8; 32],
}

impl RxContext {
    /// A datagram that arrived directly on our socket `socket`.
    pub(crate) const fn direct(socket: u16) -> Self {
        Self {
            socket,
            relayed: None,
        }
    }

    /// The same arrival, unwrapped from a relay frame that `hop` handed over
    /// and that names `src` as its sender.
    pub(crate) const fn unwrapped(self, hop: NodeId, src: [u8; 32]) -> Self {
        Self {
            socket: self.socket,
            relayed: Some(Relayed { hop, src }),
        }
    }

    /// The member that handed the datagram over, if it came through a relay.
    pub(crate) fn hop(&self) -> Option<NodeId> {
        self.relayed.map(|r| r.hop)
    }

    /// Whether the datagram came straight from its UDP source.
    pub(crate) fn is_direct(&self) -> bool {
        self.relayed.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrapping_keeps_the_socket_and_names_the_hop() {
        let hop = crate::identity::NodeKey::from_seed([7; 32]).id();
        let direct = RxContext::direct(3);
        assert!(direct.is_direct());
        assert_eq!(direct.hop(), None);
        let relayed = direct.unwrapped(hop, [9; 32]);
        assert_eq!(relayed.socket, 3);
        assert!(!relayed.is_direct());
        assert_eq!(relayed.hop(), Some(hop));
        assert_eq!(relayed.relayed.map(|r| r.src), Some([9; 32]));
    }
}
