//! Handles to a world's hosts and NATs: indices into its vectors.

use std::fmt;

/// A simulated machine that runs one Tessel node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub(crate) u32);

/// A NAT box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatId(pub(crate) u32);

impl HostId {
    /// The host's position in the world, from 0 in creation order.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The host at position `i` (a world panics on hosts it does not have).
    pub fn from_index(i: usize) -> Self {
        Self(i as u32)
    }
}

impl NatId {
    /// The NAT's position in the world, from 0 in creation order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

impl fmt::Display for NatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nat{}", self.0)
    }
}
