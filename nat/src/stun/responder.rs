//! Answering Binding requests, only for those who hold the key.
//!
//! A Tessel node is invisible to outsiders: a request gets a response only
//! if it names the network's key (USERNAME) and its
//! MESSAGE-INTEGRITY-SHA256 verifies with it. Everything else (plain
//! requests, requests keyed for another network, forgeries, responses,
//! indications) gets no answer; the caller counts it. A request with both
//! attributes is longer than its response (116 bytes against at most 112),
//! so answering never sends more bytes than arrived.

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
    /// A request without USERNAME or without integrity.
    #[error("request without USERNAME or integrity")]
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
    /// A request shorter than its response would be: answering it would
    /// send more bytes than arrived.
    #[error("request shorter than its response")]
    WouldAmplify,
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
        let answer = self.respond_to(&decoded, from)?;
        if answer.len() > datagram.len() {
            return Err(Refusal::WouldAmplify);
        }
        Ok(answer)
    }

    /// Like [`Responder::respond`] for a message already decoded with this
    /// responder's key, except that the caller compares the answer's length
    /// with the request's.
    ///
    /// # Errors
    /// A [`Refusal`] for everything that must get no answer.
    pub fn respond_to(&self, decoded: &Decoded, from: SocketAddr) -> Result<Vec<u8>, Refusal> {
        let Message::Request { username, change } = &decoded.message else {
            return Err(Refusal::NotRequest);
        };
        let Some(username) = username.as_deref() else {
            return Err(Refusal::Unauthenticated);
        };
        match decoded.integrity {
            Integrity::Absent => return Err(Refusal::Unauthenticated),
            _ if username != self.key.username() => return Err(Refusal::OtherKey),
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
