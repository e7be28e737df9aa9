//! Identifiers: node IDs, engine addresses, stream handles and time.

use std::fmt;

/// A member of the overlay: its 32-byte ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub [u8; 32]);

/// An engine's address: its own 32-byte ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EngineAddr(pub [u8; 32]);

/// A stream handle chosen by the host, unique among its open streams.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ConnId(pub u64);

/// A point in time in milliseconds on the host's clock.
///
/// Records carry these values across nodes (expiry, name registration), so
/// hosts should pass wall-clock milliseconds since the Unix epoch; the core
/// never reads a clock itself.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(pub u64);

impl Time {
    /// `self` plus `ms` milliseconds, saturating.
    #[must_use]
    pub fn plus_ms(self, ms: u64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

fn short_hex(f: &mut fmt::Formatter<'_>, b: &[u8; 32]) -> fmt::Result {
    for x in &b[..6] {
        write!(f, "{x:02x}")?;
    }
    Ok(())
}

fn full_hex(f: &mut fmt::Formatter<'_>, b: &[u8; 32]) -> fmt::Result {
    for x in b {
        write!(f, "{x:02x}")?;
    }
    Ok(())
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("node:")?;
        short_hex(f, &self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        full_hex(f, &self.0)
    }
}

impl fmt::Debug for EngineAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("engine:")?;
        short_hex(f, &self.0)
    }
}

impl fmt::Display for EngineAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        full_hex(f, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_time() {
        let a = EngineAddr([0xab; 32]);
        assert_eq!(format!("{a:?}"), "engine:abababababab");
        assert_eq!(a.to_string().len(), 64);
        assert_eq!(format!("{:?}", NodeId([1; 32])), "node:010101010101");
        assert_eq!(Time(5).plus_ms(7), Time(12));
        assert_eq!(Time(u64::MAX).plus_ms(1), Time(u64::MAX));
    }
}
