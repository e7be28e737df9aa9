//! Errors returned to local engines.

use crate::ids::EngineAddr;
use crate::wire::WireError;

/// Why a cast, call, subscribe or publish was refused at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The sending engine is not running on this node.
    #[error("engine {0:?} is not a local engine")]
    NotLocal(EngineAddr),
    /// The destination is a local engine whose mailbox is full.
    #[error("mailbox of {0:?} is full")]
    MailboxFull(EngineAddr),
    /// The destination's hosting node is not connected.
    #[error("engine {0:?} is unreachable")]
    Unreachable(EngineAddr),
    /// No such engine is known here.
    #[error("no such engine {0:?}")]
    NoSuchEngine(EngineAddr),
    /// Too many messages already queued or calls outstanding.
    #[error("too many pending messages or calls")]
    TooManyPending,
    /// The message cannot be encoded (a string or field map too long).
    #[error("cannot encode: {0}")]
    Encode(#[from] WireError),
}

/// Why a call failed; delivered in [`crate::Notice::CallDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The callee does not exist (unknown address, or forgotten).
    #[error("no such engine")]
    NoSuchEngine,
    /// No answer within the timeout.
    #[error("timed out")]
    TimedOut,
    /// The callee's node is not connected (or the connection dropped).
    #[error("unreachable")]
    Unreachable,
    /// The callee's mailbox was full.
    #[error("callee mailbox full")]
    MailboxFull,
    /// The callee's node holds too many calls from this node.
    #[error("callee node busy")]
    Busy,
    /// The callee stopped before answering.
    #[error("callee stopped")]
    Stopped,
}

/// Why a name operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The engine is not running on this node.
    #[error("engine {0:?} is not a local engine")]
    NotLocal(EngineAddr),
    /// Another engine owns the name.
    #[error("name taken by {0:?}")]
    Taken(EngineAddr),
    /// The engine holds no claim on that name.
    #[error("engine does not hold that name")]
    NotHeld,
    /// Empty or longer than 255 bytes.
    #[error("invalid name")]
    Invalid,
}
