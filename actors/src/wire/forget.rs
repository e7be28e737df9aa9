//! "Forget this engine": the hosting node says an engine has stopped.
//!
//! ```text
//! | engine [32] | node [32] | issued u64 | node_sig [64] |
//! ```
//!
//! `node_sig` covers [`CONTEXT`] then the first 72 bytes. A receiver accepts
//! a forget only from the stream of the node that hosts the engine.

use super::{Reader, WireError};
use crate::ids::{EngineAddr, NodeId, Time};

/// Bytes of a forget record.
pub const LEN: usize = 32 + 32 + 8 + 64;
/// Domain separation for the node's signature.
pub const CONTEXT: &[u8] = b"tessel-actors forget v1\0";

/// A parsed forget record (signature not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forget {
    /// The engine that stopped.
    pub engine: EngineAddr,
    /// The node that hosted it.
    pub node: NodeId,
    /// When the node issued this record.
    pub issued: Time,
    /// The node's signature.
    pub node_sig: [u8; 64],
}

impl Forget {
    /// Parses exactly one forget record.
    ///
    /// # Errors
    /// Truncated or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let v = Self {
            engine: EngineAddr(r.array()?),
            node: NodeId(r.array()?),
            issued: Time(r.u64()?),
            node_sig: r.array()?,
        };
        r.finish()?;
        Ok(v)
    }

    /// Bytes [`Self::write`] appends.
    pub fn encoded_len(&self) -> usize {
        LEN
    }

    /// Appends the record.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.engine.0);
        out.extend_from_slice(&self.node.0);
        out.extend_from_slice(&self.issued.0.to_le_bytes());
        out.extend_from_slice(&self.node_sig);
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(LEN);
        self.write(&mut v);
        v
    }

    /// What the node signs.
    pub fn signed(engine: EngineAddr, node: NodeId, issued: Time) -> Vec<u8> {
        let mut m = CONTEXT.to_vec();
        m.extend_from_slice(&engine.0);
        m.extend_from_slice(&node.0);
        m.extend_from_slice(&issued.0.to_le_bytes());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(e in any::<[u8; 32]>(), n in any::<[u8; 32]>(), t in any::<u64>(), s in any::<[u8; 32]>()) {
            let mut node_sig = [9; 64];
            node_sig[..32].copy_from_slice(&s);
            let v = Forget { engine: EngineAddr(e), node: NodeId(n), issued: Time(t), node_sig };
            let b = v.to_bytes();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Forget::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(Forget::parse(&b).is_ok(), b.len() == LEN);
        }
    }
}
