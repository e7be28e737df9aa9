//! Gossip: the members a node knows, sent inside an encrypted session so that
//! a node that reached one member learns the others.
//!
//! ```text
//! | kind u8 = 0x01 | count u8 | count × (node_id 32 | age u16 | metric u16 | endpoint) |
//! ```
//! The endpoint is where the sender last heard from that member (see
//! [`super::endpoint`]); the age is how many seconds ago anyone the sender
//! knows of heard from it (0 for a live session). Ages only grow as news
//! travels, so news of a member that left dies out everywhere. The metric is
//! the sender's route cost to that member ([`UNREACHABLE`] if it has none):
//! gossip doubles as the distance-vector routing protocol of relaying.

use std::net::SocketAddr;

use super::kind::{checked, Size};
use super::{endpoint, need, InnerKind, WireError};

/// The metric of a member the sender has no route to.
pub const UNREACHABLE: u16 = u16::MAX;

/// One announced member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The member's node ID bytes (still to be validated as a key).
    pub node_id: [u8; 32],
    /// Seconds since the member was last heard from.
    pub age_secs: u16,
    /// The sender's route cost to it, or [`UNREACHABLE`].
    pub metric: u16,
    /// Where the sender reaches it.
    pub endpoint: SocketAddr,
}

/// Iterates over the entries of a gossip message after checking its header.
///
/// # Errors
/// Returns an error if the header is wrong; entries report their own errors.
pub fn parse(b: &[u8]) -> Result<Entries<'_>, WireError> {
    let b = checked(b, Size::AtLeast(2), &[InnerKind::Gossip])?;
    Ok(Entries {
        rest: &b[2..],
        left: b[1],
    })
}

/// Iterator over gossip entries; stops at the first malformed one.
#[derive(Debug)]
pub struct Entries<'a> {
    rest: &'a [u8],
    left: u8,
}

impl Iterator for Entries<'_> {
    type Item = Result<Entry, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = (|| {
            need(self.rest, 36)?;
            let mut node_id = [0u8; 32];
            node_id.copy_from_slice(&self.rest[..32]);
            let age_secs = u16::from_le_bytes([self.rest[32], self.rest[33]]);
            let metric = u16::from_le_bytes([self.rest[34], self.rest[35]]);
            let (endpoint, n) = endpoint::parse(&self.rest[36..])?;
            self.rest = &self.rest[36 + n..];
            Ok(Entry {
                node_id,
                age_secs,
                metric,
                endpoint,
            })
        })();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

/// Appends a gossip message with up to 255 entries.
pub fn emit(entries: &[Entry], out: &mut Vec<u8>) {
    let entries = &entries[..entries.len().min(255)];
    out.reserve(2 + entries.len() * 55);
    out.push(InnerKind::Gossip.into());
    out.push(entries.len() as u8);
    for e in entries {
        out.extend_from_slice(&e.node_id);
        out.extend_from_slice(&e.age_secs.to_le_bytes());
        out.extend_from_slice(&e.metric.to_le_bytes());
        endpoint::emit(&e.endpoint, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::to_vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(ids in proptest::collection::vec((any::<[u8; 32]>(), any::<u32>(), any::<u16>(), any::<bool>(), any::<u16>()), 0..30)) {
            let entries: Vec<Entry> = ids.iter().map(|(id, ip, port, v6, age)| Entry {
                node_id: *id,
                age_secs: *age,
                metric: age.wrapping_mul(7),
                endpoint: if *v6 {
                    SocketAddr::new(std::net::Ipv6Addr::from(u128::from(*ip)).into(), *port)
                } else {
                    SocketAddr::new(std::net::Ipv4Addr::from(*ip).into(), *port)
                },
            }).collect();
            let bytes = to_vec(|o| emit(&entries, o));
            let back: Vec<Entry> = parse(&bytes).unwrap().map(Result::unwrap).collect();
            prop_assert_eq!(back, entries);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(it) = parse(&b) {
                for _ in it {}
            }
        }
    }
}
