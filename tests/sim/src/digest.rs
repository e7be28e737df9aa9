//! A running fingerprint of a run: every event folds its time, kind, place,
//! addresses and bytes into a 64-bit hash, eight bytes at a time (a
//! multiply by an odd constant with well-spread bits, the golden ratio's,
//! and a rotation per word). Two runs with the same digest ran the same
//! events in the same order with the same bytes.

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
    /// The digest of `bytes` alone.
    pub fn of(bytes: &[u8]) -> u64 {
        let mut d = Self::default();
        d.bytes(bytes);
        d.value()
    }

    /// Folds `bytes` in, and their length.
    pub fn bytes(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.number(u64::from_le_bytes(word));
        }
        let tail = words.remainder();
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        self.number(u64::from_le_bytes(word));
        self.number(bytes.len() as u64);
    }

    /// Folds a number in.
    pub fn number(&mut self, n: u64) {
        // The rotation carries the product's high bits, which the next
        // word's multiply cannot reach, back down.
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
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

    #[test]
    fn every_byte_and_the_length_matter() {
        let base: Vec<u8> = (0..21).collect();
        let of = |b: &[u8]| {
            let mut d = Digest::default();
            d.bytes(b);
            d
        };
        let reference = of(&base);
        for i in 0..base.len() {
            for bit in 0..8 {
                let mut changed = base.clone();
                changed[i] ^= 1 << bit;
                assert_ne!(of(&changed), reference, "byte {i} bit {bit}");
            }
        }
        let mut longer = base.clone();
        longer.push(0);
        assert_ne!(of(&longer), reference);
        assert_ne!(of(&base[..16]), of(&base[..17]));
    }
}
