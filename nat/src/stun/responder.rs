//! Answering Binding requests, only for those who hold the key.
//!
//! A Tessel node is invisible to outsiders: a request gets a response only
//! if its integrity verifies with the network's key. Everything else (plain
//! requests, requests keyed for another network, forgeries, responses,
//! indications) gets no answer; the caller counts it.

use std::net::SocketAddr;

use thiserror::Error;

use super::{
    decode, encode_success, Decoded, Integrity, IntegrityKey, Message, StunError, SuccessOptions,
};

/// Why a datagram got no answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a Binding message we can read.
    #[error("not a usable STUN message: {0}")]
    Invalid(StunError),
    /// A response or error, not a request.
    #[error("not a Binding request")]
    NotRequest,
    /// A request without integrity.
    #[error("request without integrity")]
    Unauthenticated,
    /// A request whose USERNAME names another key (another network).
    #[error("request for another key")]
    OtherKey,
    /// A request whose integrity does not verify.
    #[error("request whose integrity does not verify")]
    BadIntegrity,
    /// A request asking for an answer from another address or port, which
    /// this responder does not have.
    #[error("CHANGE-REQUEST without an alternate address")]
    ChangeUnsupported,
}

/// Answers authenticated Binding requests (see the module documentation).
#[derive(Debug, Clone)]
pub struct Responder {
    key: IntegrityKey,
}

impl Responder {
    /// A responder for the holders of `key`.
    pub fn new(key: IntegrityKey) -> Self {
        Self { key }
    }

    /// The key it checks requests with.
    pub fn key(&self) -> &IntegrityKey {
        &self.key
    }

    /// The response to `datagram` from `from`, or why there is none.
    ///
    /// # Errors
    /// A [`Refusal`] for everything that must get no answer.
    pub fn respond(&self, datagram: &[u8], from: SocketAddr) -> Result<Vec<u8>, Refusal> {
        let decoded = decode(datagram, Some(&self.key)).map_err(Refusal::Invalid)?;
        self.respond_to(&decoded, from)
    }

    /// Like [`Responder::respond`] for a message already decoded with this
    /// responder's key.
    ///
    /// # Errors
    /// A [`Refusal`] for everything that must get no answer.
    pub fn respond_to(&self, decoded: &Decoded, from: SocketAddr) -> Result<Vec<u8>, Refusal> {
        let Message::Request { username, change } = &decoded.message else {
            return Err(Refusal::NotRequest);
        };
        match decoded.integrity {
            Integrity::Absent => return Err(Refusal::Unauthenticated),
            Integrity::Failed if username.as_deref() != Some(self.key.username()) => {
                return Err(Refusal::OtherKey)
            }
            Integrity::Failed => return Err(Refusal::BadIntegrity),
            Integrity::Verified => {}
        }
        if change.any() {
            return Err(Refusal::ChangeUnsupported);
        }
        let opts = SuccessOptions {
            key: Some(&self.key),
            ..SuccessOptions::default()
        };
        encode_success(decoded.transaction_id, from, &opts).map_err(Refusal::Invalid)
    }
}
