//! "Learn this engine": a host record saying which node hosts an engine
//! until when, signed by the engine and by that node. The same bytes are
//! sent on streams and published in the host's record store under the
//! engine's address.
//!
//! ```text
//! | engine [32] | node [32] | expires u64 | engine_sig [64] | node_sig [64] |
//! ```
//!
//! `engine_sig` covers [`ENGINE_CONTEXT`] then `engine | node | expires`;
//! `node_sig` covers [`NODE_CONTEXT`] then the first 136 bytes (the three
//! fields and `engine_sig`).

use super::{Reader, WireError};
use crate::ids::{EngineAddr, NodeId, Time};

/// Bytes of a learn record.
pub const LEN: usize = 32 + 32 + 8 + 64 + 64;
/// Domain separation for the engine's signature.
pub const ENGINE_CONTEXT: &[u8] = b"tessel-actors learn engine v1\0";
/// Domain separation for the node's signature.
pub const NODE_CONTEXT: &[u8] = b"tessel-actors learn node v1\0";

/// A parsed learn record (signatures not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learn {
    /// The engine being announced.
    pub engine: EngineAddr,
    /// The node that hosts it.
    pub node: NodeId,
    /// When the record stops being valid.
    pub expires: Time,
    /// The engine's signature over the three fields.
    pub engine_sig: [u8; 64],
    /// The node's signature over the fields and `engine_sig`.
    pub node_sig: [u8; 64],
}

impl Learn {
    /// Parses exactly one learn record.
    ///
    /// # Errors
    /// Truncated or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        let v = Self {
            engine: EngineAddr(r.array()?),
            node: NodeId(r.array()?),
            expires: Time(r.u64()?),
            engine_sig: r.array()?,
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
        out.extend_from_slice(&self.expires.0.to_le_bytes());
        out.extend_from_slice(&self.engine_sig);
        out.extend_from_slice(&self.node_sig);
    }

    /// The record as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(LEN);
        self.write(&mut v);
        v
    }

    /// What the engine signs.
    pub fn engine_signed(engine: EngineAddr, node: NodeId, expires: Time) -> Vec<u8> {
        let mut m = ENGINE_CONTEXT.to_vec();
        m.extend_from_slice(&engine.0);
        m.extend_from_slice(&node.0);
        m.extend_from_slice(&expires.0.to_le_bytes());
        m
    }

    /// What the node signs.
    pub fn node_signed(&self) -> Vec<u8> {
        let mut m = NODE_CONTEXT.to_vec();
        m.extend_from_slice(&self.engine.0);
        m.extend_from_slice(&self.node.0);
        m.extend_from_slice(&self.expires.0.to_le_bytes());
        m.extend_from_slice(&self.engine_sig);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb() -> impl Strategy<Value = Learn> {
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
        )
            .prop_map(|(e, n, x, s1, s2)| {
                let mut engine_sig = [0; 64];
                engine_sig[..32].copy_from_slice(&s1);
                let mut node_sig = [0; 64];
                node_sig[32..].copy_from_slice(&s2);
                Learn {
                    engine: EngineAddr(e),
                    node: NodeId(n),
                    expires: Time(x),
                    engine_sig,
                    node_sig,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(v in arb()) {
            let b = v.to_bytes();
            prop_assert_eq!(v.encoded_len(), b.len());
            prop_assert_eq!(Learn::parse(&b), Ok(v));
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let r = Learn::parse(&b);
            prop_assert_eq!(r.is_ok(), b.len() == LEN);
        }
    }

    #[test]
    fn signed_parts_are_domain_separated() {
        let v = Learn {
            engine: EngineAddr([1; 32]),
            node: NodeId([2; 32]),
            expires: Time(3),
            engine_sig: [4; 64],
            node_sig: [5; 64],
        };
        let e = Learn::engine_signed(v.engine, v.node, v.expires);
        let n = v.node_signed();
        assert!(e.starts_with(ENGINE_CONTEXT));
        assert!(n.starts_with(NODE_CONTEXT));
        assert_eq!(n.len(), NODE_CONTEXT.len() + 136);
    }
}
