//! The typed view of a decoded Binding message.

use std::fmt;
use std::net::SocketAddr;

/// A STUN transaction ID: 96 bits, chosen at random by the requester.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// RFC 5780 CHANGE-REQUEST: ask the server to answer from its other IP
/// address, its other port, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ChangeRequest {
    /// Answer from the alternate IP address.
    pub ip: bool,
    /// Answer from the alternate port.
    pub port: bool,
}

impl ChangeRequest {
    /// Whether any change is asked for.
    pub fn any(self) -> bool {
        self.ip || self.port
    }
}

/// What a Binding message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A Binding request.
    Request {
        /// Its USERNAME, if any.
        username: Option<String>,
        /// Its CHANGE-REQUEST (all false if absent).
        change: ChangeRequest,
    },
    /// A Binding success response.
    Success {
        /// Where the server saw the request come from (XOR-MAPPED-ADDRESS,
        /// or MAPPED-ADDRESS from an old server).
        mapped: SocketAddr,
        /// RFC 5780 OTHER-ADDRESS: the server's alternate address and port.
        other_address: Option<SocketAddr>,
        /// RFC 5780 RESPONSE-ORIGIN: where the server sent the response from.
        response_origin: Option<SocketAddr>,
    },
    /// A Binding error response.
    Error {
        /// The error code (e.g. 400, 401, 420).
        code: u16,
        /// Its reason phrase.
        reason: String,
    },
}

/// Whether a message carried integrity, and whether it verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// No MESSAGE-INTEGRITY attribute of either kind.
    Absent,
    /// Present and verified with the key given to [`super::decode`]
    /// (MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY).
    Verified,
    /// Present but not verified: no key was given, or it does not match.
    Failed,
}

/// A decoded Binding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Its transaction ID.
    pub transaction_id: TransactionId,
    /// What it says.
    pub message: Message,
    /// Its integrity.
    pub integrity: Integrity,
}
