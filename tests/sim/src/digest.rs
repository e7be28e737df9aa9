//! A running fingerprint of a run: every event folds its time, kind, place,
//! addresses and bytes into a 64-bit FNV-1a hash. Two runs with the same
//! digest ran the same events in the same order with the same bytes.

use std::net::SocketAddr;

use crate::time::SimTime;

/// The fingerprint. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    /// Folds `bytes` in.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Folds a number in.
    pub fn number(&mut self, n: u64) {
        self.bytes(&n.to_le_bytes());
    }

    /// Folds a time in.
    pub fn time(&mut self, t: SimTime) {
        self.number(t.as_nanos());
    }

    /// Folds an address in.
    pub fn addr(&mut self, a: SocketAddr) {
        match a {
            SocketAddr::V4(v4) => self.bytes(&v4.ip().octets()),
            SocketAddr::V6(v6) => self.bytes(&v6.ip().octets()),
        }
        self.number(u64::from(a.port()));
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_matter() {
        let mut a = Digest::default();
        a.number(1);
        a.number(2);
        let mut b = Digest::default();
        b.number(2);
        b.number(1);
        assert_ne!(a, b);
        let mut c = Digest::default();
        c.number(1);
        c.number(2);
        assert_eq!(a, c);
        assert_eq!(a.value(), c.value());
    }
}
