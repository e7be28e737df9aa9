//! Port bookkeeping for one protocol: ports held by listeners, bound
//! sockets and connection attempts, and the choice of ephemeral ports.

use std::collections::HashSet;

use crate::limits::{EPHEMERAL_FIRST, EPHEMERAL_LAST};

const EPHEMERAL_COUNT: u32 = (EPHEMERAL_LAST - EPHEMERAL_FIRST) as u32 + 1;

/// The ports of one protocol in use.
#[derive(Debug)]
pub(crate) struct Ports {
    used: HashSet<u16>,
    /// Offset into the ephemeral range of the next port to try.
    next: u32,
}

impl Ports {
    /// No port in use; ephemeral ports start at a point picked from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            used: HashSet::new(),
            next: (seed % u64::from(EPHEMERAL_COUNT)) as u32,
        }
    }

    /// Takes a given port; false if it is in use.
    pub(crate) fn claim(&mut self, port: u16) -> bool {
        self.used.insert(port)
    }

    /// Takes the next free ephemeral port, cycling through the range so that
    /// a port just released is not reused at once.
    pub(crate) fn claim_ephemeral(&mut self) -> Option<u16> {
        for _ in 0..EPHEMERAL_COUNT {
            let port = EPHEMERAL_FIRST + self.next as u16;
            self.next = (self.next + 1) % EPHEMERAL_COUNT;
            if self.used.insert(port) {
                return Some(port);
            }
        }
        None
    }

    /// Gives a port back.
    pub(crate) fn release(&mut self, port: u16) {
        self.used.remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_ports_are_unique_until_released() {
        let mut ports = Ports::new(u64::MAX);
        let first = ports.claim_ephemeral().expect("free port");
        assert!((EPHEMERAL_FIRST..=EPHEMERAL_LAST).contains(&first));
        assert!(!ports.claim(first));
        let second = ports.claim_ephemeral().expect("free port");
        assert_ne!(first, second);
        ports.release(first);
        assert!(ports.claim(first));
    }

    #[test]
    fn the_range_runs_out() {
        let mut ports = Ports::new(7);
        for _ in 0..EPHEMERAL_COUNT {
            assert!(ports.claim_ephemeral().is_some());
        }
        assert_eq!(ports.claim_ephemeral(), None);
        ports.release(EPHEMERAL_LAST);
        assert_eq!(ports.claim_ephemeral(), Some(EPHEMERAL_LAST));
    }

    #[test]
    fn fixed_ports_are_skipped() {
        let mut ports = Ports::new(0);
        assert!(ports.claim(EPHEMERAL_FIRST));
        assert_eq!(ports.claim_ephemeral(), Some(EPHEMERAL_FIRST + 1));
    }
}
