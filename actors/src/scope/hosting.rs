//! What the transport's scope hosting exposes: ids, results, errors, the
//! clusters and registrations of this runtime, and the small state a host
//! saves. The flows are described in `docs/scopes.md` §8.

use std::fmt;

use super::authority::AuthError;
use super::path::ScopePath;
use super::querier::{Found, Hop, QueryError};
use crate::ids::{EngineAddr, NodeId, Time};
use crate::wire::{Reader, WireError};

/// Names a scope query or scope send; its result comes as a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeQueryId(pub u64);

/// What a query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeFound {
    /// The runtimes, each with its scope, engine and expiry (possibly none).
    pub runtimes: Vec<Found>,
    /// The runtimes asked on the way and where each redirected.
    pub trail: Vec<Hop>,
    /// Whether the answer came from this runtime's cache.
    pub cached: bool,
}

/// A sector cluster's generation number: a serial of the root runtime
/// that assigned it. The pair is unique in the network: each root runtime
/// signs serials that never repeat (see [`ScopeState`]), and two root
/// runtimes have different keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation {
    /// The serial.
    pub serial: u64,
    /// The root runtime that assigned and signed it.
    pub assigner: NodeId,
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@", self.serial)?;
        for b in &self.assigner.0[..4] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A sector cluster this runtime is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// The cluster's scope.
    pub scope: ScopePath,
    /// Its generation, once one is known.
    pub generation: Option<Generation>,
    /// Its members (this runtime included), in node ID order.
    pub members: Vec<NodeId>,
    /// The nearest cluster above and its members.
    pub parent: Option<(ScopePath, Vec<NodeId>)>,
    /// The clusters directly below and their members.
    pub children: Vec<(ScopePath, Vec<NodeId>)>,
    /// Registrations held.
    pub held: usize,
}

/// Where a registration of this runtime was last pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The scope of the cluster responsible for it.
    pub cluster: ScopePath,
    /// The member it was pushed to (this runtime when it is a member).
    pub via: NodeId,
    /// When.
    pub at: Time,
}

/// A registration of this runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationInfo {
    /// The scope.
    pub scope: ScopePath,
    /// The service.
    pub service: String,
    /// The engine serving it, if any.
    pub engine: Option<EngineAddr>,
    /// When the current registration was signed.
    pub issued: Time,
    /// When it ends unless renewed.
    pub expires: Time,
    /// When it is renewed (or placed again after a failure).
    pub next: Time,
    /// Where it was last pushed, if it was.
    pub placed: Option<Placed>,
    /// Why the last placement failed, if it did.
    pub error: Option<ScopeError>,
}

/// Why a scope call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// Scopes are off (no root key configured).
    #[error("scopes are off (no root key configured)")]
    Disabled,
    /// A record failed a check against the authority chain.
    #[error("refused: {0}")]
    Auth(#[from] AuthError),
    /// A record of a kind this call does not take.
    #[error("record of the wrong kind")]
    WrongKind,
    /// The hosting grant names another runtime or scope.
    #[error("the grant does not cover this runtime and scope")]
    GrantMismatch,
    /// An invalid service name.
    #[error("invalid service name")]
    InvalidService,
    /// A table or queue is full.
    #[error("too many scope records or operations")]
    Full,
    /// This runtime has no such registration.
    #[error("not registered")]
    NotRegistered,
    /// The sending engine is not a local engine.
    #[error("engine {0:?} is not a local engine")]
    NotLocal(EngineAddr),
    /// The query failed.
    #[error("query failed: {0}")]
    Query(#[from] QueryError),
    /// No cluster is responsible for the scope (not even the root).
    #[error("no cluster found for the scope")]
    NoCluster,
    /// The query found no runtime.
    #[error("no runtime hosts the service there")]
    NoRuntime,
    /// The runtimes found registered the service without an engine.
    #[error("the registrations found name no engine")]
    NoEngine,
    /// Not every engine got the payload.
    #[error("delivered to {} engine(s); gone: {gone:?}; unreachable: {unreachable:?}", sent.len())]
    Undelivered {
        /// The engines it was handed to.
        sent: Vec<EngineAddr>,
        /// Engines named in a registration that their runtime no longer
        /// hosts.
        gone: Vec<EngineAddr>,
        /// Engines whose runtime could not be reached.
        unreachable: Vec<EngineAddr>,
    },
    /// The cluster member a record was pushed to could not be reached.
    #[error("no member of the cluster reachable")]
    Unreachable,
}

/// What a host saves for its scopes and gives back after a restart: the
/// next generation serial this runtime would assign as a root runtime.
///
/// Serials are also never below the clock (milliseconds), so a runtime
/// that lost its state still never repeats one unless its clock went back;
/// saving the state guards against that too. Saved as
/// `"TSS1" | next_serial u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeState {
    /// The least serial the next assignment may use.
    pub next_serial: u64,
}

impl ScopeState {
    const MAGIC: &'static [u8; 4] = b"TSS1";

    /// The state as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Self::MAGIC.to_vec();
        v.extend_from_slice(&self.next_serial.to_le_bytes());
        v
    }

    /// Reads bytes written by [`Self::to_bytes`].
    ///
    /// # Errors
    /// Wrong magic, truncation or trailing bytes.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        if r.take(4)? != Self::MAGIC {
            return Err(WireError::InvalidField("magic"));
        }
        let next_serial = r.u64()?;
        r.finish()?;
        Ok(Self { next_serial })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let s = ScopeState { next_serial: 42 };
        assert_eq!(ScopeState::parse(&s.to_bytes()), Ok(s));
        assert!(ScopeState::parse(b"TSS0\0\0\0\0\0\0\0\0").is_err());
        assert!(ScopeState::parse(&s.to_bytes()[..11]).is_err());
        let g = Generation {
            serial: 7,
            assigner: NodeId([0xab; 32]),
        };
        assert_eq!(g.to_string(), "7@abababab");
    }
}
